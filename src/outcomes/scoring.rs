//! The one scoring engine for questionnaires: what a definition must declare for its score to be
//! computable, how each answer scores (reverse items included), and how item scores make the
//! questionnaire's score under its rule (`sum`, `mean`, `percent_of_max`) when some items were
//! left out (`min_answered`). Pure: no database, no HTTP; the rules are in docs/outcomes.md.

use crate::error::{ApiError, Validator};
use crate::text_enum;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// The most items a definition may have.
pub const MAX_ITEMS: usize = 100;
/// The most options a choice item may have.
pub const MAX_OPTIONS: usize = 20;
/// Bounds and option scores stay within ±this, so sums stay exact enough.
pub const MAX_MAGNITUDE: f64 = 1_000_000.0;

text_enum! {
    /// How an item is answered.
    pub enum ItemType {
        /// A number between the item's `min` and `max`.
        Scale => "scale",
        /// One of the item's `options`; it scores the option's `score`.
        Choice => "choice",
        /// Free text; never scored.
        Text => "text",
    }
}

text_enum! {
    /// How item scores make the questionnaire's score.
    pub enum ScoringMethod {
        /// The sum of the item scores; when items were left out, prorated to every scored item
        /// (mean of the answered × number of scored items).
        Sum => "sum",
        /// The mean of the answered items' scores.
        Mean => "mean",
        /// Σ(score − item minimum) ÷ Σ(item maximum − item minimum) over the answered items, × 100.
        PercentOfMax => "percent_of_max",
    }
}

text_enum! {
    /// Which way is better.
    pub enum Direction {
        HigherIsBetter => "higher_is_better",
        LowerIsBetter => "lower_is_better",
    }
}

/// One option of a choice item.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct ChoiceOption {
    /// The option's id, which answers send as `option_id`.
    pub id: Uuid,
    /// What the client reads.
    pub label: String,
    /// What choosing it scores.
    pub score: f64,
}

/// One item of a questionnaire.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct Item {
    /// The item's id, which answers send as `item_id`.
    pub id: Uuid,
    /// A short code, unique in the questionnaire (`activity_1`, `lefs_07`).
    pub code: String,
    /// The question as the client reads it.
    pub text: String,
    /// How it is answered.
    #[serde(rename = "type")]
    pub kind: ItemType,
    /// Whether every response must answer it.
    pub required: bool,
    /// For scale items: the lowest value.
    pub min: Option<f64>,
    /// For scale items: the highest value.
    pub max: Option<f64>,
    /// For choice items: the options.
    pub options: Vec<ChoiceOption>,
    /// Whether the item is scored the other way round (min + max − value).
    pub reverse: bool,
}

/// The scoring rule.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Scoring {
    /// How item scores combine.
    pub method: ScoringMethod,
    /// How many scored items must be answered for a score; fewer leave the response unscored.
    #[schema(minimum = 1, example = 1)]
    pub min_answered: i32,
}

impl Item {
    /// The lowest and highest score the item can give; `None` for items that are not scored.
    pub fn range(&self) -> Option<(f64, f64)> {
        match self.kind {
            ItemType::Text => None,
            ItemType::Scale => Some((self.min?, self.max?)),
            ItemType::Choice => {
                let scores = self.options.iter().map(|o| o.score);
                let lo = scores.clone().fold(f64::INFINITY, f64::min);
                let hi = scores.fold(f64::NEG_INFINITY, f64::max);
                (lo.is_finite() && hi.is_finite()).then_some((lo, hi))
            }
        }
    }

    /// The score of a raw score `s` of this item, reversed when the item says so.
    pub fn oriented(&self, s: f64) -> f64 {
        match (self.reverse, self.range()) {
            (true, Some((lo, hi))) => lo + hi - s,
            _ => s,
        }
    }
}

fn finite(x: f64) -> bool {
    x.is_finite() && x.abs() <= MAX_MAGNITUDE
}

/// Records why a definition's items and scoring cannot be scored; the fields are named as in
/// the request (`items[2].max`, `scoring.min_answered`).
pub fn check_definition(items: &[Item], scoring: &Scoring, v: &mut Validator) {
    let mut codes = std::collections::HashSet::new();
    for (i, item) in items.iter().enumerate() {
        let at = |f: &str| format!("items[{i}].{f}");
        v.check(
            codes.insert(item.code.as_str()),
            at("code"),
            "repeats another item's code",
        );
        match item.kind {
            ItemType::Scale => match (item.min, item.max) {
                (Some(lo), Some(hi)) => {
                    v.check(
                        finite(lo),
                        at("min"),
                        format!("must be a number within ±{MAX_MAGNITUDE}"),
                    );
                    v.check(
                        finite(hi),
                        at("max"),
                        format!("must be a number within ±{MAX_MAGNITUDE}"),
                    );
                    v.check(lo < hi, at("max"), "must be greater than `min`");
                }
                _ => v.add(at("max"), "a scale item needs `min` and `max`"),
            },
            ItemType::Choice => {
                v.check(
                    (2..=MAX_OPTIONS).contains(&item.options.len()),
                    at("options"),
                    format!("a choice item needs 2 to {MAX_OPTIONS} options"),
                );
                for (j, o) in item.options.iter().enumerate() {
                    v.check(
                        finite(o.score),
                        format!("items[{i}].options[{j}].score"),
                        format!("must be a number within ±{MAX_MAGNITUDE}"),
                    );
                }
            }
            ItemType::Text => {
                v.check(
                    !item.reverse,
                    at("reverse"),
                    "a text item is not scored, so it cannot be reversed",
                );
            }
        }
        if item.kind != ItemType::Scale {
            v.check(
                item.min.is_none() && item.max.is_none(),
                at("min"),
                "only scale items have `min` and `max`",
            );
        }
        if item.kind != ItemType::Choice {
            v.check(item.options.is_empty(), at("options"), "only choice items have options");
        }
    }
    let scored: Vec<(f64, f64)> = items.iter().filter_map(Item::range).collect();
    if scored.is_empty() {
        v.add(
            "items",
            "no item is scored (scale or choice): the score cannot be computed",
        );
        return;
    }
    let n = i32::try_from(scored.len()).unwrap_or(i32::MAX);
    v.check(
        (1..=n).contains(&scoring.min_answered),
        "scoring.min_answered",
        format!("must be between 1 and the number of scored items ({n})"),
    );
    if scoring.method == ScoringMethod::PercentOfMax {
        let span: f64 = scored.iter().map(|(lo, hi)| hi - lo).sum();
        v.check(
            span > 0.0,
            "scoring.method",
            "percent_of_max needs items whose scores can differ (the maximum would be 0)",
        );
    }
}

/// One answer as sent.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AnswerBody {
    /// The item answered.
    pub item_id: Uuid,
    /// For a scale item: the value, within its `min` and `max`.
    #[serde(default)]
    pub value: Option<f64>,
    /// For a choice item: the chosen option's id.
    #[serde(default)]
    pub option_id: Option<Uuid>,
    /// For a text item: the text, at most 1000 characters.
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub text: Option<String>,
}

/// One answer as kept: what was sent, the item's code, and the score it gave (after reversing).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct Answer {
    /// The item.
    pub item_id: Uuid,
    /// The item's code.
    pub code: String,
    /// For a scale item: the value.
    pub value: Option<f64>,
    /// For a choice item: the chosen option.
    pub option_id: Option<Uuid>,
    /// For a text item: the text.
    pub text: Option<String>,
    /// What the answer scored, reversed where the item says so; `null` for text items.
    pub score: Option<f64>,
}

/// A scored response.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    /// The answers in the order of the questionnaire's items.
    pub answers: Vec<Answer>,
    /// The questionnaire's score; `None` when fewer than `min_answered` scored items were
    /// answered.
    pub score: Option<f64>,
    /// How many scored items were answered.
    pub answered: usize,
}

/// Rounds a score to two decimals, as the API shows it.
pub fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The questionnaire's score from the answered items' scores and ranges (`(score, lo, hi)`),
/// given the number of scored items in the definition; `None` below `min_answered`.
pub fn combine(
    method: ScoringMethod,
    min_answered: usize,
    scored_items: usize,
    answered: &[(f64, f64, f64)],
) -> Option<f64> {
    if answered.is_empty() || answered.len() < min_answered {
        return None;
    }
    let n = answered.len() as f64;
    let sum: f64 = answered.iter().map(|(s, ..)| s).sum();
    let score = match method {
        ScoringMethod::Mean => sum / n,
        ScoringMethod::Sum => sum / n * scored_items as f64,
        ScoringMethod::PercentOfMax => {
            let got: f64 = answered.iter().map(|(s, lo, _)| s - lo).sum();
            let span: f64 = answered.iter().map(|(_, lo, hi)| hi - lo).sum();
            if span <= 0.0 {
                return None;
            }
            got / span * 100.0
        }
    };
    Some(round2(score))
}

/// Checks `answers` against `items` and scores them: 422 naming the answer (and its item) for
/// an unknown item, an answer of the wrong kind, a value out of bounds, an unknown option, text
/// too long or a repeated item; 422 naming each required item left out.
pub fn score(items: &[Item], scoring: &Scoring, answers: &[AnswerBody]) -> Result<Scored, ApiError> {
    let mut v = Validator::new();
    let mut given: Vec<Option<&AnswerBody>> = vec![None; items.len()];
    for (i, a) in answers.iter().enumerate() {
        let Some(k) = items.iter().position(|it| it.id == a.item_id) else {
            v.add(format!("answers[{i}].item_id"), "is not an item of this questionnaire");
            continue;
        };
        let item = &items[k];
        let at = |f: &str| format!("answers[{i}].{f}");
        let name = format!("item `{}`", item.code);
        if given[k].is_some() {
            v.add(at("item_id"), format!("{name} is answered twice"));
            continue;
        }
        given[k] = Some(a);
        match item.kind {
            ItemType::Scale => match a.value {
                Some(x) if a.option_id.is_none() && a.text.is_none() => {
                    let (lo, hi) = (item.min.unwrap_or(f64::MIN), item.max.unwrap_or(f64::MAX));
                    v.check(
                        x.is_finite() && x >= lo && x <= hi,
                        at("value"),
                        format!("{name}: must be between {lo} and {hi}"),
                    );
                }
                _ => v.add(at("value"), format!("{name} is a scale item: send `value` only")),
            },
            ItemType::Choice => match a.option_id {
                Some(o) if a.value.is_none() && a.text.is_none() => {
                    v.check(
                        item.options.iter().any(|opt| opt.id == o),
                        at("option_id"),
                        format!("{name}: is not one of the item's options"),
                    );
                }
                _ => v.add(
                    at("option_id"),
                    format!("{name} is a choice item: send `option_id` only"),
                ),
            },
            ItemType::Text => match &a.text {
                Some(t) if a.value.is_none() && a.option_id.is_none() => {
                    v.parse(
                        &at("text"),
                        crate::values::parse_text(t, 1000).map_err(|e| format!("{name}: {e}")),
                    );
                }
                _ => v.add(at("text"), format!("{name} is a text item: send `text` only")),
            },
        }
    }
    for (k, item) in items.iter().enumerate() {
        if item.required && given[k].is_none() {
            v.add("answers", format!("item `{}` ({}) is required", item.code, item.id));
        }
    }
    v.finish()?;

    let mut kept = Vec::new();
    let mut scored = Vec::new();
    for (item, a) in items.iter().zip(&given) {
        let Some(a) = a else { continue };
        let raw = match item.kind {
            ItemType::Scale => a.value,
            ItemType::Choice => item.options.iter().find(|o| Some(o.id) == a.option_id).map(|o| o.score),
            ItemType::Text => None,
        };
        let s = raw.map(|r| item.oriented(r));
        if let (Some(s), Some((lo, hi))) = (s, item.range()) {
            scored.push((s, lo, hi));
        }
        kept.push(Answer {
            item_id: item.id,
            code: item.code.clone(),
            value: a.value,
            option_id: a.option_id,
            text: a.text.as_deref().map(|t| t.trim().to_string()),
            score: s,
        });
    }
    let scored_items = items.iter().filter(|i| i.range().is_some()).count();
    let min = usize::try_from(scoring.min_answered).unwrap_or(usize::MAX);
    Ok(Scored {
        score: combine(scoring.method, min, scored_items, &scored),
        answered: scored.len(),
        answers: kept,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn scale(n: u128, lo: f64, hi: f64, reverse: bool) -> Item {
        Item {
            id: Uuid::from_u128(n),
            code: format!("q{n}"),
            text: format!("Question {n}"),
            kind: ItemType::Scale,
            required: false,
            min: Some(lo),
            max: Some(hi),
            options: vec![],
            reverse,
        }
    }

    fn choice(n: u128, scores: &[f64]) -> Item {
        Item {
            id: Uuid::from_u128(n),
            code: format!("c{n}"),
            text: "Pick".into(),
            kind: ItemType::Choice,
            required: false,
            min: None,
            max: None,
            options: scores
                .iter()
                .enumerate()
                .map(|(j, s)| ChoiceOption {
                    id: Uuid::from_u128(1000 * n + j as u128),
                    label: format!("o{j}"),
                    score: *s,
                })
                .collect(),
            reverse: false,
        }
    }

    fn value(item: &Item, x: f64) -> AnswerBody {
        AnswerBody {
            item_id: item.id,
            value: Some(x),
            option_id: None,
            text: None,
        }
    }

    fn rule(method: ScoringMethod, min_answered: i32) -> Scoring {
        Scoring { method, min_answered }
    }

    fn fields(e: ApiError) -> Vec<String> {
        e.field_errors().iter().map(|f| f.field.clone()).collect()
    }

    #[test]
    fn sum_mean_and_percent_of_max() {
        let items = [scale(1, 0.0, 4.0, false), scale(2, 0.0, 4.0, false)];
        let a = [value(&items[0], 3.0), value(&items[1], 1.0)];
        let s = |m| score(&items, &rule(m, 1), &a).expect("scores").score;
        assert_eq!(s(ScoringMethod::Sum), Some(4.0));
        assert_eq!(s(ScoringMethod::Mean), Some(2.0));
        assert_eq!(s(ScoringMethod::PercentOfMax), Some(50.0));
    }

    #[test]
    fn reverse_items_score_the_other_way() {
        let items = [scale(1, 1.0, 5.0, true), scale(2, 1.0, 5.0, false)];
        let got = score(
            &items,
            &rule(ScoringMethod::Sum, 2),
            &[value(&items[0], 2.0), value(&items[1], 2.0)],
        )
        .expect("scores");
        assert_eq!(got.answers[0].score, Some(4.0));
        assert_eq!(got.answers[1].score, Some(2.0));
        assert_eq!(got.score, Some(6.0));
    }

    #[test]
    fn missing_items_prorate_a_sum_and_below_min_answered_leave_no_score() {
        let items: Vec<Item> = (1..=4).map(|n| scale(n, 0.0, 4.0, false)).collect();
        let three = [value(&items[0], 4.0), value(&items[1], 2.0), value(&items[2], 3.0)];
        let got = score(&items, &rule(ScoringMethod::Sum, 3), &three).expect("scores");
        assert_eq!((got.score, got.answered), (Some(12.0), 3));
        let got = score(&items, &rule(ScoringMethod::Sum, 4), &three).expect("scores");
        assert_eq!((got.score, got.answered), (None, 3));
    }

    #[test]
    fn choice_items_score_their_option_and_text_items_none() {
        let mut t = scale(9, 0.0, 1.0, false);
        t.kind = ItemType::Text;
        (t.min, t.max) = (None, None);
        let items = [choice(1, &[0.0, 2.0, 5.0]), t];
        let a = [
            AnswerBody {
                item_id: items[0].id,
                value: None,
                option_id: Some(items[0].options[2].id),
                text: None,
            },
            AnswerBody {
                item_id: items[1].id,
                value: None,
                option_id: None,
                text: Some(" stairs ".into()),
            },
        ];
        let got = score(&items, &rule(ScoringMethod::Mean, 1), &a).expect("scores");
        assert_eq!(got.score, Some(5.0));
        assert_eq!(got.answers[1].text.as_deref(), Some("stairs"));
        assert_eq!(got.answers[1].score, None);
    }

    #[test]
    fn bad_answers_name_the_answer_and_the_item() {
        let mut items = vec![scale(1, 0.0, 10.0, false), choice(2, &[0.0, 1.0])];
        items[1].required = true;
        let e = score(&items, &rule(ScoringMethod::Mean, 1), &[value(&items[0], 11.0)]).expect_err("out of bounds");
        assert!(e.field_errors()[0].message.contains("`q1`"));
        assert!(e.field_errors()[1].message.contains("`c2`"));
        assert_eq!(fields(e), ["answers[0].value", "answers"]);
        let unknown = AnswerBody {
            item_id: items[1].id,
            value: None,
            option_id: Some(Uuid::from_u128(77)),
            text: None,
        };
        let e = score(&items, &rule(ScoringMethod::Mean, 1), &[unknown]).expect_err("unknown option");
        assert_eq!(fields(e), ["answers[0].option_id"]);
        let stray = value(&scale(5, 0.0, 1.0, false), 1.0);
        let e = score(
            &items,
            &rule(ScoringMethod::Mean, 1),
            &[stray.clone(), value(&items[0], 1.0)],
        )
        .expect_err("stray item");
        assert_eq!(fields(e), ["answers[0].item_id", "answers"]);
    }

    #[test]
    fn definitions_that_cannot_be_scored_are_refused() {
        let check = |items: &[Item], s: Scoring| {
            let mut v = Validator::new();
            check_definition(items, &s, &mut v);
            v.finish().err().map(fields).unwrap_or_default()
        };
        let mut text = scale(1, 0.0, 1.0, false);
        text.kind = ItemType::Text;
        (text.min, text.max) = (None, None);
        assert_eq!(check(&[text], rule(ScoringMethod::Sum, 1)), ["items"]);
        assert_eq!(
            check(&[scale(1, 5.0, 5.0, false)], rule(ScoringMethod::Mean, 1)),
            ["items[0].max"]
        );
        assert_eq!(
            check(&[scale(1, 0.0, 4.0, false)], rule(ScoringMethod::Mean, 2)),
            ["scoring.min_answered"]
        );
        assert_eq!(
            check(&[choice(1, &[1.0, 1.0])], rule(ScoringMethod::PercentOfMax, 1)),
            ["scoring.method"]
        );
        assert_eq!(
            check(&[choice(1, &[1.0])], rule(ScoringMethod::Sum, 1)),
            ["items[0].options"]
        );
        assert!(check(&[scale(1, 0.0, 10.0, true)], rule(ScoringMethod::Sum, 1)).is_empty());
    }

    fn items_and_answers() -> impl Strategy<Value = (Vec<Item>, Vec<Option<f64>>)> {
        prop::collection::vec(
            (0i32..5, 1i32..10, any::<bool>(), prop::option::of(0.0f64..=1.0)),
            1..12,
        )
        .prop_map(|specs| {
            let mut items = Vec::new();
            let mut values = Vec::new();
            for (n, (lo, span, reverse, at)) in specs.into_iter().enumerate() {
                let (lo, hi) = (f64::from(lo), f64::from(lo + span));
                items.push(scale(n as u128 + 1, lo, hi, reverse));
                values.push(at.map(|t| (lo + t * (hi - lo)).round()));
            }
            (items, values)
        })
    }

    fn answers(items: &[Item], values: &[Option<f64>]) -> Vec<AnswerBody> {
        items
            .iter()
            .zip(values)
            .filter_map(|(i, v)| v.map(|x| value(i, x)))
            .collect()
    }

    proptest! {
        #[test]
        fn percent_of_max_stays_between_0_and_100((items, values) in items_and_answers()) {
            let got = score(&items, &rule(ScoringMethod::PercentOfMax, 1), &answers(&items, &values)).expect("valid");
            if let Some(s) = got.score {
                prop_assert!((0.0..=100.0).contains(&s), "{s}");
            }
        }

        #[test]
        fn mean_lies_between_the_lowest_and_highest_item_score((items, values) in items_and_answers()) {
            let got = score(&items, &rule(ScoringMethod::Mean, 1), &answers(&items, &values)).expect("valid");
            let scores: Vec<f64> = got.answers.iter().filter_map(|a| a.score).collect();
            if let Some(s) = got.score {
                let lo = scores.iter().copied().fold(f64::INFINITY, f64::min);
                let hi = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                prop_assert!(s >= round2(lo) - 1e-9 && s <= round2(hi) + 1e-9);
            }
        }

        #[test]
        fn a_complete_sum_is_the_plain_sum_and_a_partial_one_is_prorated((items, values) in items_and_answers()) {
            let given = answers(&items, &values);
            let got = score(&items, &rule(ScoringMethod::Sum, 1), &given).expect("valid");
            let scores: Vec<f64> = got.answers.iter().filter_map(|a| a.score).collect();
            let mean = score(&items, &rule(ScoringMethod::Mean, 1), &given).expect("valid").score;
            match got.score {
                None => prop_assert!(scores.is_empty()),
                Some(s) if scores.len() == items.len() => prop_assert!((s - round2(scores.iter().sum())).abs() < 1e-6),
                Some(s) => {
                    let expected = scores.iter().sum::<f64>() / scores.len() as f64 * items.len() as f64;
                    prop_assert!((s - round2(expected)).abs() < 1e-6);
                    prop_assert!(mean.is_some());
                }
            }
        }

        #[test]
        fn fewer_than_min_answered_leaves_no_score((items, values) in items_and_answers(), extra in 0usize..3) {
            let given = answers(&items, &values);
            let needed = (given.len() + 1 + extra).min(items.len());
            let got = score(&items, &rule(ScoringMethod::Sum, needed as i32), &given).expect("valid");
            prop_assert_eq!(got.score.is_some(), !given.is_empty() && given.len() >= needed);
        }

        #[test]
        fn answer_order_does_not_matter((items, values) in items_and_answers()) {
            let given = answers(&items, &values);
            let mut backwards = given.clone();
            backwards.reverse();
            for m in ScoringMethod::ALL {
                let a = score(&items, &rule(*m, 1), &given).expect("valid");
                let b = score(&items, &rule(*m, 1), &backwards).expect("valid");
                prop_assert_eq!(a, b);
            }
        }

        #[test]
        fn reversing_mirrors_each_item_score(lo in -5i32..5, span in 1i32..10, t in 0.0f64..=1.0) {
            let (lo, hi) = (f64::from(lo), f64::from(lo + span));
            let x = lo + t * (hi - lo);
            let plain = scale(1, lo, hi, false);
            let reversed = scale(1, lo, hi, true);
            prop_assert!((plain.oriented(x) + reversed.oriented(x) - (lo + hi)).abs() < 1e-9);
            prop_assert!((reversed.oriented(reversed.oriented(x)) - x).abs() < 1e-9);
        }
    }
}
