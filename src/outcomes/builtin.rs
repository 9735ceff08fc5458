//! The built-in questionnaires, shared by every clinic from the system clinic: the
//! Patient-Specific Functional Scale in full, and the Lower Extremity Functional Scale's item
//! codes and scoring without its wording (no permission to ship it is recorded; the clinic
//! supplies it). Sources and licences: docs/outcomes.md.

use crate::db::SYSTEM_CLINIC_ID;
use crate::outcomes::queries::{self, QuestionnaireRow};
use crate::outcomes::scoring::{Direction, Item, ItemType, Scoring, ScoringMethod};
use diesel::QueryResult;
use diesel_async::AsyncPgConnection;
use uuid::Uuid;

pub const PSFS: Uuid = Uuid::from_u128(0x97b4f3b024fe484da2d782b7e1e5c651);
pub const LEFS: Uuid = Uuid::from_u128(0x788672c9030f4928884aae11fb345b7c);
/// Item ids are the questionnaire's base plus the item's number (stable across releases).
const PSFS_ITEMS: u128 = 0x90998bfb2d5744dc840ed5d839120000;
const LEFS_ITEMS: u128 = 0x9020f4b88a0d4917b13bc4f475bd0000;

/// The PSFS's item for activity `k` (1–5): its name (text, answered at baseline) and its rating.
pub fn psfs_item(k: u128, rating: bool) -> Uuid {
    Uuid::from_u128(PSFS_ITEMS + 2 * k + u128::from(rating))
}

/// The LEFS's item `k` (1–20).
pub fn lefs_item(k: u128) -> Uuid {
    Uuid::from_u128(LEFS_ITEMS + k)
}

pub fn psfs() -> QuestionnaireRow {
    let mut items = Vec::new();
    for k in 1..=5u128 {
        items.push(Item {
            id: psfs_item(k, false),
            code: format!("activity_{k}_name"),
            text: format!(
                "Activity {k}: name an important activity that your problem stops you doing or makes hard \
                 (at the first questionnaire only; later ones rate the same activities){}",
                if k == 1 { "" } else { ". Optional." }
            ),
            kind: ItemType::Text,
            required: false,
            min: None,
            max: None,
            options: vec![],
            reverse: false,
        });
        items.push(Item {
            id: psfs_item(k, true),
            code: format!("activity_{k}"),
            text: format!(
                "Activity {k}: how able are you to do it today? 0 means you cannot do it at all, 10 means \
                 you can do it as well as before the problem."
            ),
            kind: ItemType::Scale,
            required: k == 1,
            min: Some(0.0),
            max: Some(10.0),
            options: vec![],
            reverse: false,
        });
    }
    row(
        PSFS,
        "psfs",
        "Patient-Specific Functional Scale",
        items,
        Scoring {
            method: ScoringMethod::Mean,
            min_answered: 1,
        },
        Some(2.0),
        "Stratford P, Gill C, Westaway M, Binkley J. Physiotherapy Canada 1995;47(4):258-263. Free to use \
         in clinical care; wording here is Rehabit's own rendering of the instructions.",
    )
}

pub fn lefs() -> QuestionnaireRow {
    let items = (1..=20u128)
        .map(|k| Item {
            id: lefs_item(k),
            code: format!("lefs_{k:02}"),
            text: format!(
                "LEFS item {k}. The published wording is not shipped: use a questionnaire of your own \
                 with the licensed wording and these codes."
            ),
            kind: ItemType::Scale,
            required: false,
            min: Some(0.0),
            max: Some(4.0),
            options: vec![],
            reverse: false,
        })
        .collect();
    row(
        LEFS,
        "lefs",
        "Lower Extremity Functional Scale (codes and scoring only)",
        items,
        Scoring {
            method: ScoringMethod::Sum,
            min_answered: 16,
        },
        Some(9.0),
        "Binkley JM, Stratford PW, Lott SA, Riddle DL. Phys Ther 1999;79(4):371-383. Item wording is \
         copyright and not shipped (no permission recorded); the clinic supplies it.",
    )
}

fn row(
    id: Uuid,
    code: &str,
    name: &str,
    items: Vec<Item>,
    scoring: Scoring,
    mcid: Option<f64>,
    licence: &str,
) -> QuestionnaireRow {
    QuestionnaireRow {
        id,
        clinic_id: SYSTEM_CLINIC_ID,
        code: code.into(),
        name: name.into(),
        items: serde_json::to_value(items).unwrap_or_default(),
        scoring_method: scoring.method,
        min_answered: scoring.min_answered,
        direction: Direction::HigherIsBetter,
        mcid,
        licence: Some(licence.into()),
        version: 1,
        created_at: chrono::Utc::now(),
    }
}

/// Installs the built-ins that are missing (a built-in, once answered, never changes).
pub async fn install(conn: &mut AsyncPgConnection) -> QueryResult<usize> {
    let mut n = 0;
    for q in [psfs(), lefs()] {
        n += queries::insert_if_new(conn, &q).await?;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Validator;
    use crate::outcomes::scoring::{AnswerBody, check_definition, score};

    #[test]
    fn the_builtins_can_be_scored() {
        for q in [psfs(), lefs()] {
            let mut v = Validator::new();
            check_definition(&q.item_list(), &q.scoring(), &mut v);
            assert!(v.finish().is_ok(), "{}", q.code);
        }
    }

    #[test]
    fn psfs_is_the_mean_of_the_rated_activities_and_lefs_a_sum_of_80() {
        let q = psfs();
        let rate = |k, x| AnswerBody {
            item_id: psfs_item(k, true),
            value: Some(x),
            option_id: None,
            text: None,
        };
        let got = score(&q.item_list(), &q.scoring(), &[rate(1, 3.0), rate(2, 6.0)]).expect("scores");
        assert_eq!(got.score, Some(4.5));
        let q = lefs();
        let all: Vec<AnswerBody> = (1..=20)
            .map(|k| AnswerBody {
                item_id: lefs_item(k),
                value: Some(4.0),
                option_id: None,
                text: None,
            })
            .collect();
        assert_eq!(
            score(&q.item_list(), &q.scoring(), &all).expect("scores").score,
            Some(80.0)
        );
        assert_eq!(
            score(&q.item_list(), &q.scoring(), &all[..15]).expect("scores").score,
            None
        );
    }
}
