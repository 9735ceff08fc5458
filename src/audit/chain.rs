//! Tamper evidence: each clinic's audit events are linked in a SHA-256 chain, entry `seq`
//! holding `SHA-256(hash of entry seq-1 || seq || the event's canonical form)`.
//!
//! The chainer runs outside request transactions, so no writer ever waits for it: it takes the
//! events of every transaction that has ended (below the oldest running transaction id, so an
//! event of a long transaction is never skipped) and appends them to their clinic's chain, one
//! instance at a time (a transaction-level advisory lock that writers never take). Every five
//! minutes it publishes each clinic's head (entry count and hash) to the log, the metrics and
//! `audit_heads`; [`verify`] recomputes the chain and names the first event that was altered
//! or removed, and a rewrite of the chain or a removal of its newest entries shows against a
//! published head. [`purge`] removes events past the retention period and leaves a checkpoint
//! the chain goes on from.

use super::sink::AuditRow;
use crate::db::schema::{audit_chain, audit_chainer, audit_checkpoints, audit_events, audit_heads};
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Timestamptz};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use prometheus::{IntGaugeVec, Opts, Registry};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use uuid::Uuid;

/// The chain's start: the hash "before" entry 1.
pub const GENESIS: [u8; 32] = [0; 32];
/// Only one instance chains at a time.
const CHAINER_LOCK: i64 = 7_301_015;
/// Events chained per page.
const PAGE: i64 = 1_000;
/// How often heads are published.
pub const PUBLISH_EVERY: std::time::Duration = std::time::Duration::from_secs(300);
/// How often the chainer looks for new events.
pub const CHAIN_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// The canonical form of an event: what its hash covers (every column but the bookkeeping).
pub fn canonical(e: &AuditRow) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!([
        e.clinic_id,
        e.id,
        e.occurred_at.timestamp_micros(),
        e.actor_kind,
        e.actor_id,
        e.actor_role,
        e.action,
        e.resource_type,
        e.resource_id,
        e.client_ids,
        e.request_id,
        e.ip,
        e.user_agent,
        e.status,
    ]))
    .unwrap_or_default()
}

/// The hash of entry `seq` holding `e` after an entry with hash `prev`.
pub fn entry_hash(prev: &[u8], seq: i64, e: &AuditRow) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(seq.to_be_bytes());
    h.update(canonical(e));
    h.finalize().to_vec()
}

#[derive(QueryableByName)]
struct Num {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Locked {
    #[diesel(sql_type = Bool)]
    locked: bool,
}

/// The last entry of a clinic's chain (or of its last checkpoint): `(seq, hash)`.
async fn head(conn: &mut AsyncPgConnection, clinic_id: Uuid) -> QueryResult<(i64, Vec<u8>)> {
    let last: Option<(i64, Vec<u8>)> = audit_chain::table
        .filter(audit_chain::clinic_id.eq(clinic_id))
        .order(audit_chain::seq.desc())
        .select((audit_chain::seq, audit_chain::hash))
        .first(conn)
        .await
        .optional()?;
    if let Some(h) = last {
        return Ok(h);
    }
    Ok(checkpoint(conn, clinic_id).await?.unwrap_or((0, GENESIS.to_vec())))
}

async fn checkpoint(conn: &mut AsyncPgConnection, clinic_id: Uuid) -> QueryResult<Option<(i64, Vec<u8>)>> {
    audit_checkpoints::table
        .filter(audit_checkpoints::clinic_id.eq(clinic_id))
        .order(audit_checkpoints::seq.desc())
        .select((audit_checkpoints::seq, audit_checkpoints::hash))
        .first(conn)
        .await
        .optional()
}

/// One round of chaining; answers how many events it linked (0 when another instance holds
/// the chainer's lock).
pub async fn chain_once(conn: &mut AsyncPgConnection) -> QueryResult<usize> {
    conn.transaction::<_, diesel::result::Error, _>(async |conn| {
        let locked: Locked = diesel::sql_query("SELECT pg_try_advisory_xact_lock($1) AS locked")
            .bind::<BigInt, _>(CHAINER_LOCK)
            .get_result(conn)
            .await?;
        if !locked.locked {
            return Ok(0);
        }
        // Every transaction below the oldest running one has ended: its events are final.
        let horizon: Num = diesel::sql_query("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS n")
            .get_result(conn)
            .await?;
        let below: i64 = audit_chainer::table
            .find(1_i16)
            .select(audit_chainer::below_txid)
            .first(conn)
            .await?;
        let clinics: Vec<Uuid> = audit_events::table
            .filter(audit_events::txid.ge(below))
            .filter(audit_events::txid.lt(horizon.n))
            .select(audit_events::clinic_id)
            .distinct()
            .load(conn)
            .await?;
        let mut chained = 0;
        for clinic_id in clinics {
            chained += chain_clinic(conn, clinic_id, below, horizon.n).await?;
        }
        diesel::update(audit_chainer::table.find(1_i16))
            .set(audit_chainer::below_txid.eq(horizon.n.max(below)))
            .execute(conn)
            .await?;
        Ok(chained)
    })
    .await
}

async fn chain_clinic(conn: &mut AsyncPgConnection, clinic_id: Uuid, below: i64, horizon: i64) -> QueryResult<usize> {
    let (mut seq, mut prev) = head(conn, clinic_id).await?;
    let mut chained = 0;
    loop {
        let page: Vec<AuditRow> = diesel::sql_query(
            "SELECT e.* FROM audit_events e
             WHERE e.clinic_id = $1 AND e.txid >= $2 AND e.txid < $3
               AND NOT EXISTS (SELECT 1 FROM audit_chain c WHERE c.clinic_id = e.clinic_id AND c.event_id = e.id)
             ORDER BY e.txid, e.id LIMIT $4",
        )
        .bind::<diesel::sql_types::Uuid, _>(clinic_id)
        .bind::<BigInt, _>(below)
        .bind::<BigInt, _>(horizon)
        .bind::<BigInt, _>(PAGE)
        .load(conn)
        .await?;
        let n = page.len();
        let mut entries = Vec::with_capacity(n);
        for e in &page {
            seq += 1;
            let hash = entry_hash(&prev, seq, e);
            entries.push((
                audit_chain::clinic_id.eq(clinic_id),
                audit_chain::seq.eq(seq),
                audit_chain::event_id.eq(e.id),
                audit_chain::hash.eq(hash.clone()),
            ));
            prev = hash;
        }
        if !entries.is_empty() {
            diesel::insert_into(audit_chain::table)
                .values(&entries)
                .execute(conn)
                .await?;
        }
        chained += n;
        if i64::try_from(n).unwrap_or(0) < PAGE {
            return Ok(chained);
        }
    }
}

/// One clinic's published head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub clinic_id: Uuid,
    pub seq: i64,
    pub hash: Vec<u8>,
}

/// Publishes every clinic's head: to `audit_heads`, the log and (when given) the metrics.
pub async fn publish_heads(conn: &mut AsyncPgConnection, metrics: Option<&ChainMetrics>) -> QueryResult<Vec<Head>> {
    let heads: Vec<(Uuid, i64, Vec<u8>)> = diesel::sql_query(
        "SELECT DISTINCT ON (clinic_id) clinic_id, seq, hash FROM audit_chain ORDER BY clinic_id, seq DESC",
    )
    .load::<HeadRow>(conn)
    .await?
    .into_iter()
    .map(|h| (h.clinic_id, h.seq, h.hash))
    .collect();
    let mut out = Vec::new();
    for (clinic_id, seq, hash) in heads {
        diesel::insert_into(audit_heads::table)
            .values((
                audit_heads::clinic_id.eq(clinic_id),
                audit_heads::seq.eq(seq),
                audit_heads::hash.eq(&hash),
            ))
            .on_conflict_do_nothing()
            .execute(conn)
            .await?;
        let hex = hex::encode(&hash);
        tracing::info!(clinic_id = %clinic_id, count = seq, head = %hex, "audit chain head");
        if let Some(m) = metrics {
            m.publish(clinic_id, seq, &hex);
        }
        out.push(Head { clinic_id, seq, hash });
    }
    Ok(out)
}

#[derive(QueryableByName)]
struct Unchained {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    id: Uuid,
    #[diesel(sql_type = BigInt)]
    txid: i64,
}

#[derive(QueryableByName)]
struct HeadRow {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    clinic_id: Uuid,
    #[diesel(sql_type = BigInt)]
    seq: i64,
    #[diesel(sql_type = diesel::sql_types::Bytea)]
    hash: Vec<u8>,
}

/// The chain's metrics: `rehabit_audit_chain_events{clinic_id}` (the head's entry count) and
/// `rehabit_audit_chain_head{clinic_id, hash}` (1 for the published head).
#[derive(Clone)]
pub struct ChainMetrics {
    events: IntGaugeVec,
    head: IntGaugeVec,
    last_hash: std::sync::Arc<std::sync::Mutex<HashMap<Uuid, String>>>,
}

impl ChainMetrics {
    pub fn new(registry: &Registry) -> Result<Self, prometheus::Error> {
        let events = IntGaugeVec::new(
            Opts::new(
                "rehabit_audit_chain_events",
                "Entries in each clinic's audit chain, as last published",
            ),
            &["clinic_id"],
        )?;
        let head = IntGaugeVec::new(
            Opts::new(
                "rehabit_audit_chain_head",
                "Each clinic's published audit chain head (hash label)",
            ),
            &["clinic_id", "hash"],
        )?;
        registry.register(Box::new(events.clone()))?;
        registry.register(Box::new(head.clone()))?;
        Ok(ChainMetrics {
            events,
            head,
            last_hash: Default::default(),
        })
    }

    fn publish(&self, clinic_id: Uuid, seq: i64, hash: &str) {
        let clinic = clinic_id.to_string();
        self.events.with_label_values(&[clinic.as_str()]).set(seq);
        if let Ok(mut last) = self.last_hash.lock()
            && let Some(old) = last.insert(clinic_id, hash.to_string())
            && old != hash
        {
            let _ = self.head.remove_label_values(&[clinic.as_str(), old.as_str()]);
        }
        self.head.with_label_values(&[clinic.as_str(), hash]).set(1);
    }
}

/// What verification found in one clinic.
#[derive(Debug, Clone)]
pub struct ClinicReport {
    pub clinic_id: Uuid,
    /// Entries checked (after the last checkpoint).
    pub checked: i64,
    /// The head: `(seq, hash)`.
    pub head: (i64, Vec<u8>),
    /// The first problem, in words naming the event; `None` when the chain holds.
    pub problem: Option<String>,
    /// Events not yet chained (recent ones wait for the chainer).
    pub unchained: i64,
}

/// Recomputes clinics' chains (all, or `clinic`) and checks them against every head published
/// in `audit_heads` and against `expected` heads (taken from the logs, so a rewrite of
/// `audit_heads` itself shows too).
pub async fn verify(
    conn: &mut AsyncPgConnection,
    clinic: Option<Uuid>,
    expected: &[Head],
) -> QueryResult<Vec<ClinicReport>> {
    let clinics: Vec<Uuid> = match clinic {
        Some(c) => vec![c],
        None => {
            let mut all: Vec<Uuid> = audit_events::table
                .select(audit_events::clinic_id)
                .distinct()
                .load(conn)
                .await?;
            let chained: Vec<Uuid> = audit_chain::table
                .select(audit_chain::clinic_id)
                .distinct()
                .load(conn)
                .await?;
            all.extend(chained);
            all.extend(expected.iter().map(|h| h.clinic_id));
            all.sort();
            all.dedup();
            all
        }
    };
    let mut reports = Vec::new();
    for clinic_id in clinics {
        let want: Vec<&Head> = expected.iter().filter(|h| h.clinic_id == clinic_id).collect();
        reports.push(verify_clinic(conn, clinic_id, &want).await?);
    }
    Ok(reports)
}

async fn verify_clinic(conn: &mut AsyncPgConnection, clinic_id: Uuid, expected: &[&Head]) -> QueryResult<ClinicReport> {
    let (start_seq, start_hash) = checkpoint(conn, clinic_id).await?.unwrap_or((0, GENESIS.to_vec()));
    let mut prev = start_hash;
    let mut seq = start_seq;
    let mut problem = None;
    let mut checked = 0;
    let mut hashes_at: HashMap<i64, Vec<u8>> = HashMap::new();
    let mut published: Vec<(i64, Vec<u8>, Option<DateTime<Utc>>)> = audit_heads::table
        .filter(audit_heads::clinic_id.eq(clinic_id))
        .select((audit_heads::seq, audit_heads::hash, audit_heads::published_at))
        .load::<(i64, Vec<u8>, DateTime<Utc>)>(conn)
        .await?
        .into_iter()
        .map(|(s, h, at)| (s, h, Some(at)))
        .collect();
    published.extend(expected.iter().map(|h| (h.seq, h.hash.clone(), None)));
    let wanted: std::collections::HashSet<i64> = published.iter().map(|(s, ..)| *s).collect();
    'pages: loop {
        let page: Vec<(i64, Uuid, Vec<u8>, Option<AuditRow>)> = audit_chain::table
            .left_join(
                audit_events::table.on(audit_events::clinic_id
                    .eq(audit_chain::clinic_id)
                    .and(audit_events::id.eq(audit_chain::event_id))),
            )
            .filter(audit_chain::clinic_id.eq(clinic_id))
            .filter(audit_chain::seq.gt(seq))
            .order(audit_chain::seq)
            .limit(PAGE)
            .select((
                audit_chain::seq,
                audit_chain::event_id,
                audit_chain::hash,
                Option::<AuditRow>::as_select(),
            ))
            .load(conn)
            .await?;
        let n = page.len();
        for (entry_seq, event_id, stored, event) in page {
            if entry_seq != seq + 1 {
                problem = Some(format!(
                    "entries #{} to #{} of the chain are missing: the events after {} were removed",
                    seq + 1,
                    entry_seq - 1,
                    if seq == start_seq {
                        "its start".to_string()
                    } else {
                        format!("entry #{seq}")
                    }
                ));
                break 'pages;
            }
            let Some(event) = event else {
                problem = Some(format!(
                    "event {event_id} (entry #{entry_seq}) is missing: it was deleted"
                ));
                break 'pages;
            };
            let hash = entry_hash(&prev, entry_seq, &event);
            if hash != stored {
                problem = Some(format!("event {event_id} (entry #{entry_seq}) was altered"));
                break 'pages;
            }
            if wanted.contains(&entry_seq) {
                hashes_at.insert(entry_seq, hash.clone());
            }
            prev = hash;
            seq = entry_seq;
            checked += 1;
        }
        if i64::try_from(n).unwrap_or(0) < PAGE {
            break;
        }
    }
    if problem.is_none() {
        published.sort_by_key(|(s, ..)| *s);
        for (p_seq, p_hash, at) in &published {
            if *p_seq <= start_seq {
                continue;
            }
            let when = at.map_or_else(|| "given".to_string(), |t| format!("published at {}", t.to_rfc3339()));
            match hashes_at.get(p_seq) {
                Some(h) if h == p_hash => {}
                Some(_) => {
                    problem = Some(format!(
                        "the chain does not match the head {when} (entry #{p_seq}, {}): entries up to #{p_seq} were rewritten",
                        hex::encode(p_hash)
                    ));
                    break;
                }
                None => {
                    problem = Some(format!(
                        "the chain ends at entry #{seq}, before the head {when} (entry #{p_seq}, {}): its newest events were removed",
                        hex::encode(p_hash)
                    ));
                    break;
                }
            }
        }
    }
    // Events the chainer has passed over but that are in no chain were added behind its back.
    let below: i64 = audit_chainer::table
        .find(1_i16)
        .select(audit_chainer::below_txid)
        .first(conn)
        .await?;
    let unchained: Vec<(Uuid, i64)> = diesel::sql_query(
        "SELECT e.id, e.txid FROM audit_events e
         WHERE e.clinic_id = $1
           AND NOT EXISTS (SELECT 1 FROM audit_chain c WHERE c.clinic_id = e.clinic_id AND c.event_id = e.id)
         ORDER BY e.id",
    )
    .bind::<diesel::sql_types::Uuid, _>(clinic_id)
    .load::<Unchained>(conn)
    .await?
    .into_iter()
    .map(|u| (u.id, u.txid))
    .collect();
    if problem.is_none()
        && let Some((id, _)) = unchained.iter().find(|(_, txid)| *txid < below)
    {
        problem = Some(format!("event {id} is in no chain: it was added outside the service"));
    }
    Ok(ClinicReport {
        clinic_id,
        checked,
        head: (seq, prev),
        problem,
        unchained: i64::try_from(unchained.len()).unwrap_or(i64::MAX),
    })
}

/// Removes each clinic's chained events older than `retention_days`, leaving a checkpoint the
/// chain goes on from; answers how many events went.
pub async fn purge(conn: &mut AsyncPgConnection, retention_days: i64) -> QueryResult<i64> {
    let cutoff = Utc::now() - Duration::days(retention_days);
    let clinics: Vec<Uuid> = audit_events::table
        .filter(audit_events::occurred_at.lt(cutoff))
        .select(audit_events::clinic_id)
        .distinct()
        .load(conn)
        .await?;
    let mut purged = 0;
    for clinic_id in clinics {
        purged += conn
            .transaction::<_, diesel::result::Error, _>(async |conn| purge_clinic(conn, clinic_id, cutoff).await)
            .await?;
    }
    Ok(purged)
}

async fn purge_clinic(conn: &mut AsyncPgConnection, clinic_id: Uuid, cutoff: DateTime<Utc>) -> QueryResult<i64> {
    // The chain's prefix whose events are all older than the cutoff.
    let upto: Num = diesel::sql_query(
        "SELECT coalesce(
            (SELECT min(c.seq) - 1 FROM audit_chain c JOIN audit_events e
               ON e.clinic_id = c.clinic_id AND e.id = c.event_id
             WHERE c.clinic_id = $1 AND e.occurred_at >= $2),
            (SELECT max(seq) FROM audit_chain WHERE clinic_id = $1),
            0) AS n",
    )
    .bind::<diesel::sql_types::Uuid, _>(clinic_id)
    .bind::<Timestamptz, _>(cutoff)
    .get_result(conn)
    .await?;
    let first: Option<i64> = audit_chain::table
        .filter(audit_chain::clinic_id.eq(clinic_id))
        .select(diesel::dsl::min(audit_chain::seq))
        .first(conn)
        .await?;
    let Some(first) = first.filter(|f| *f <= upto.n) else {
        return Ok(0);
    };
    let hash: Vec<u8> = audit_chain::table
        .find((clinic_id, upto.n))
        .select(audit_chain::hash)
        .first(conn)
        .await?;
    diesel::sql_query("SELECT set_config('rehabit.audit_purge_before', $1, true)")
        .bind::<diesel::sql_types::Text, _>(cutoff.to_rfc3339())
        .execute(conn)
        .await?;
    diesel::insert_into(audit_checkpoints::table)
        .values((
            audit_checkpoints::clinic_id.eq(clinic_id),
            audit_checkpoints::seq.eq(upto.n),
            audit_checkpoints::hash.eq(&hash),
            audit_checkpoints::purged_events.eq(upto.n - first + 1),
            audit_checkpoints::purged_before.eq(cutoff),
        ))
        .execute(conn)
        .await?;
    let ids: Vec<Uuid> = diesel::delete(
        audit_chain::table
            .filter(audit_chain::clinic_id.eq(clinic_id))
            .filter(audit_chain::seq.le(upto.n)),
    )
    .returning(audit_chain::event_id)
    .get_results(conn)
    .await?;
    let removed = diesel::delete(
        audit_events::table
            .filter(audit_events::clinic_id.eq(clinic_id))
            .filter(audit_events::id.eq_any(&ids)),
    )
    .execute(conn)
    .await?;
    tracing::info!(clinic_id = %clinic_id, events = removed, upto = upto.n, "audit retention purge");
    Ok(i64::try_from(removed).unwrap_or(i64::MAX))
}

/// The chainer: links new events every two seconds, publishes heads every five minutes and
/// purges past the retention period hourly. Runs on the current runtime until the process ends.
pub fn spawn(pool: crate::db::DbPool, metrics: Option<ChainMetrics>, retention_days: i64) {
    tokio::spawn(async move {
        let mut chain_tick = tokio::time::interval(CHAIN_EVERY);
        let mut publish_tick = tokio::time::interval(PUBLISH_EVERY);
        let mut purge_tick = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            tokio::select! {
                _ = chain_tick.tick() => {
                    let Ok(mut conn) = pool.get().await else { continue };
                    if let Err(e) = chain_once(&mut conn).await {
                        tracing::warn!(error = %e, "audit chainer failed");
                    }
                }
                _ = publish_tick.tick() => {
                    let Ok(mut conn) = pool.get().await else { continue };
                    if let Err(e) = publish_heads(&mut conn, metrics.as_ref()).await {
                        tracing::warn!(error = %e, "publishing audit heads failed");
                    }
                }
                _ = purge_tick.tick() => {
                    let Ok(mut conn) = pool.get().await else { continue };
                    if let Err(e) = purge(&mut conn, retention_days).await {
                        tracing::warn!(error = %e, "audit retention purge failed");
                    }
                }
            }
        }
    });
}
