//! Durable subscriptions: creating and deleting them, pulls (leases), acks, nacks and dead
//! letters.
//!
//! A subscription is a row (its filter, settings and `cursor`) plus one row per record it
//! delivered and no consumer acked yet: leased until `lease_until`, due again after it, or a
//! dead letter (`dead_at` set). An ack deletes the row.
//!
//! Invariants (besides those of [`crate::streams`]; the conformance suite checks them):
//! - Every command on one subscription holds its lock `subscription:{space}:{name}` on
//!   PostgreSQL (the SQLite writer is alone), so pulls, acks and redrives of one subscription
//!   are serialised: a record is leased to one consumer at a time.
//! - A command refuses only before its first write. A pull therefore reads and decodes
//!   everything first and writes at the end.
//! - A pull does bounded work (at most [`DUE_BUDGET`] due rows and [`SCAN_BUDGET`] log records
//!   examined), so it never holds the writer for long.
//! - A pull scans only its subscription's space. `cursor` only moves forward, over records of
//!   that space the pull examined, or, once the scan reached the end of the space's records,
//!   to the log's newest seq as read before the scan: every record up to it was visible to the
//!   scan (records become visible in seq order), so that skips only other spaces' records. The
//!   rows a pull inserts all have a seq above the old cursor, so they never collide.
//! - A lease is named by (seq, deliveries): a nack ends it only while the row still counts
//!   that many deliveries, so a consumer whose lease ended cannot end the next consumer's.
//! - A new subscription never starts inside the trimmed part of the log (`SeqExpired`); it
//!   holds the `log-trim` lock, so nothing is trimmed between that check and its insert (see
//!   `commands::retention`).

use switchyard_model::{Delivery, Segment, Seq, SpaceName, SubscriptionSpec, Timestamp};

use super::{Command, Cx, Locking};
use crate::decode::{LogRow, log_row};
use crate::error::StoreError;
use crate::streams::*;
use crate::tables::{Locks, Tables, TxResult};

/// Log records read per query while a pull scans past its cursor.
const SCAN_PAGE: usize = 500;

/// Log records one pull examines at most past its cursor; the next pull goes on from there.
const SCAN_BUDGET: usize = 10_000;

/// Due rows (leases that ended) one pull examines at most.
const DUE_BUDGET: usize = 10_000;

/// Due rows read per query: at least a few, so a run of dead letters takes few queries, at
/// most a page, so a pull for one record does not load hundreds of payloads.
const DUE_CHUNK: std::ops::RangeInclusive<usize> = 32..=500;

/// Creates a durable subscription, or updates the settings of one with the same filter
/// (its `start_after` is then ignored).
#[derive(Debug, Clone, PartialEq)]
pub struct PutSubscription {
    /// The subscription's settings.
    pub spec: SubscriptionSpec,
}

/// A subscription was created (`created`) or its settings updated.
#[derive(Debug, Clone, PartialEq)]
pub struct SubscriptionPut {
    /// Whether it was created.
    pub created: bool,
    /// Whether this write created the space.
    pub space_created: bool,
}

request!(PutSubscription => SubscriptionPut(SubscriptionPut));

impl Locking for PutSubscription {
    fn locks<'a>(&'a self, locks: &mut Locks<'a>) {
        let space = &self.spec.filter.space;
        locks.exclusive(format!("subscription:{space}:{}", self.spec.name));
        // Serialised with trimming, so a new subscription's start is not trimmed under it.
        locks.exclusive("log-trim".to_string());
        locks.writes_into(space.as_ref());
    }
}

impl Command for PutSubscription {
    async fn apply<T: Tables>(&self, tx: &mut T, cx: &mut Cx<'_>) -> TxResult<Self::Output> {
        let spec = &self.spec;
        let (space, name) = (spec.filter.space.as_str(), spec.name.as_str());
        if let Some(stored) = tx.subscription(space, name).await? {
            // Compared as values, not text: a filter stored by another build may be spelled
            // differently.
            if stored.filter != StoredFilter::of(&spec.filter) {
                let e = StoreError::SubscriptionFilterChanged { space: space.to_string(), name: name.to_string() };
                return Err(e.into());
            }
            tx.update_subscription(spec).await?;
            return Ok(SubscriptionPut { created: false, space_created: false });
        }
        let filter = serde_json::to_string(&StoredFilter::of(&spec.filter))?;
        // Below `i64::MAX`, so `cursor + 1` cannot overflow.
        let start_after = i64::try_from(spec.start_after.0).unwrap_or(i64::MAX).min(i64::MAX - 1);
        // It never starts inside the trimmed part of the log: 0 means "from the oldest record
        // kept" (a cursor below the oldest record examines from there), any other start must
        // leave no trimmed record between it and the oldest kept.
        if start_after > 0
            && let Some(oldest) = tx.oldest_seq().await?
            && start_after + 1 < oldest
        {
            return Err(StoreError::SeqExpired { oldest: stored_seq(oldest)? }.into());
        }
        tx.insert_subscription(spec, &filter, start_after, cx.now).await?;
        cx.touch_space(space);
        // `space_created` is set when the group's `spaces` rows are written.
        Ok(SubscriptionPut { created: true, space_created: false })
    }
}

/// Deletes a durable subscription with its pending records and dead letters.
#[derive(Debug, Clone, PartialEq)]
pub struct DeleteSubscription {
    /// The space.
    pub space: SpaceName,
    /// The subscription.
    pub name: Segment,
}

request!(DeleteSubscription => SubscriptionDeleted);

impl Locking for DeleteSubscription {
    fn locks<'a>(&'a self, locks: &mut Locks<'a>) {
        subscription_locks(&self.space, &self.name, locks);
    }
}

impl Command for DeleteSubscription {
    async fn apply<T: Tables>(&self, tx: &mut T, _: &mut Cx<'_>) -> TxResult<Self::Output> {
        let (space, name) = (self.space.as_str(), self.name.as_str());
        // Nothing was written when nothing was deleted, so refusing here is still safe.
        if !tx.delete_subscription(space, name).await? {
            return Err(not_found(&self.space, &self.name).into());
        }
        tx.delete_subscription_records(space, name).await?;
        Ok(())
    }
}

/// Leases up to `max` records of a subscription to a consumer: first pending ones whose lease
/// ended (turning those at `max_deliveries` into dead letters), then new ones past the cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pull {
    /// The subscription's space.
    pub space: SpaceName,
    /// The subscription.
    pub name: Segment,
    /// At most this many records.
    pub max: u32,
    /// How long the lease lasts, in milliseconds.
    pub lease_ms: u64,
}

request!(Pull => Pulled(Vec<Delivery>));

impl Locking for Pull {
    fn locks<'a>(&'a self, locks: &mut Locks<'a>) {
        subscription_locks(&self.space, &self.name, locks);
    }
}

/// What a pull writes once it has read everything.
#[derive(Default)]
struct PullWrites {
    /// Due rows that reached `max_deliveries`: they become dead letters.
    dead: Vec<i64>,
    /// Due rows whose record is gone (trimmed, or no longer in a space): they are forgotten.
    gone: Vec<i64>,
    /// Due rows leased again.
    again: Vec<i64>,
    /// New rows past the cursor.
    new: Vec<i64>,
}

impl Command for Pull {
    async fn apply<T: Tables>(&self, tx: &mut T, cx: &mut Cx<'_>) -> TxResult<Self::Output> {
        let request = self;
        let (space, name) = (request.space.as_str(), request.name.as_str());
        let Some(row) = tx.subscription(space, name).await? else {
            return Err(not_found(&request.space, &request.name).into());
        };
        let filter = row.filter.into_filter(request.space.clone());
        let max = request.max as usize;
        let lease_until = cx.now.0.saturating_add(i64::try_from(request.lease_ms).unwrap_or(i64::MAX));
        let lease_expires_at = Timestamp(lease_until);
        let mut delivered: Vec<Delivery> = Vec::new();
        let mut writes = PullWrites::default();

        // 1. Due rows, by seq. Nothing is written until the end, so `seq > after` walks on.
        let mut after = 0_i64;
        let mut examined = 0;
        'due: while delivered.len() < max && examined < DUE_BUDGET {
            let chunk = (max - delivered.len()).clamp(*DUE_CHUNK.start(), *DUE_CHUNK.end()).min(DUE_BUDGET - examined);
            let rows = tx.due_records(space, name, cx.now, after, chunk).await?;
            let read = rows.len();
            for due in rows {
                examined += 1;
                after = due.seq;
                if due.deliveries >= row.max_deliveries {
                    writes.dead.push(due.seq);
                    continue;
                }
                // A record trimmed since it was leased, or that lost its space, can go to no
                // one: forgotten.
                let Some(LogRow::Record(record)) = due.record.map(log_row) else {
                    writes.gone.push(due.seq);
                    continue;
                };
                let deliveries = u32::try_from(due.deliveries)
                    .map_err(|_| StoreError::Corrupt(format!("deliveries of {space}:{name} seq {}", due.seq)))?;
                delivered.push(Delivery { record, deliveries: deliveries.saturating_add(1), lease_expires_at });
                writes.again.push(due.seq);
                // Stop at the row that fills `max`: later ones stay due for the next pull.
                if delivered.len() == max {
                    break 'due;
                }
            }
            if read < chunk {
                break;
            }
        }

        // 2. New records of the subscription's space past the cursor, in pages, within the
        //    budget. The log's newest seq is read first, in an earlier statement than the scan:
        //    should the scan reach the end of the space's records, every record of the space up
        //    to it was examined, so the cursor may move there.
        let newest = tx.newest_seq().await?;
        let mut new_cursor = row.cursor;
        let mut scanned = 0;
        let mut exhausted = false;
        let keep = |space: &str, kind: &str, address: &str| filter.matches_columns(space, kind, address);
        'scan: while delivered.len() < max && scanned < SCAN_BUDGET {
            let page = SCAN_PAGE.min(SCAN_BUDGET - scanned);
            let rows = tx.space_records_after(space, new_cursor, page, &keep).await?;
            let read = rows.len();
            // Set again below unless a record fills `max` on this page.
            exhausted = read < page;
            for scanned_record in rows {
                scanned += 1;
                new_cursor = scanned_record.seq;
                // A record marked unreadable is delivered like any other (its marker tells the
                // consumer), so the cursor, acks and retention go on past it.
                let Some(LogRow::Record(record)) = scanned_record.record.map(log_row) else { continue };
                if filter.matches(&record) {
                    writes.new.push(scanned_record.seq);
                    delivered.push(Delivery { record, deliveries: 1, lease_expires_at });
                    // The cursor stops at the record that fills `max`: later ones are examined
                    // by the next pull.
                    if delivered.len() == max {
                        exhausted = false;
                        break 'scan;
                    }
                }
            }
            if read < page {
                break;
            }
        }
        if exhausted {
            new_cursor = new_cursor.max(newest);
        }

        // 3. The writes: everything above has been read and decoded, so nothing refuses below.
        if !writes.dead.is_empty() {
            tx.kill_records(space, name, &writes.dead, cx.now).await?;
        }
        if !writes.gone.is_empty() {
            tx.forget_records(space, name, &writes.gone).await?;
        }
        if !writes.again.is_empty() {
            tx.lease_again(space, name, &writes.again, lease_until).await?;
        }
        if !writes.new.is_empty() {
            tx.lease_new(space, name, &writes.new, lease_until).await?;
        }
        if new_cursor != row.cursor {
            tx.set_cursor(space, name, new_cursor).await?;
        }
        delivered.sort_by_key(|d| d.record.seq);
        Ok(delivered)
    }
}

/// Acknowledges pending records, which are then never delivered again (an ack after the lease
/// ended still counts); the answer names the seqs that were pending.
#[derive(Debug, Clone, PartialEq)]
pub struct Ack {
    /// The space.
    pub space: SpaceName,
    /// The subscription.
    pub name: Segment,
    /// The records' seqs.
    pub seqs: Vec<Seq>,
}

request!(Ack => Settled(Vec<Seq>));

impl Locking for Ack {
    fn locks<'a>(&'a self, locks: &mut Locks<'a>) {
        subscription_locks(&self.space, &self.name, locks);
    }
}

impl Command for Ack {
    async fn apply<T: Tables>(&self, tx: &mut T, _: &mut Cx<'_>) -> TxResult<Self::Output> {
        let (space, name) = (self.space.as_str(), self.name.as_str());
        require(tx, &self.space, &self.name).await?;
        if self.seqs.is_empty() {
            return Ok(Vec::new());
        }
        settled(tx.ack_records(space, name, &stored_seqs(&self.seqs)).await?)
    }
}

/// Ends leases now, so the next pull delivers those records again. A lease is named by its
/// record's seq and its delivery count (which a pull reports), so a consumer whose lease
/// already ended cannot end the lease another consumer holds now: a row whose `deliveries`
/// differs was leased again since, so it is left alone and not named in the answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Nack {
    /// The space.
    pub space: SpaceName,
    /// The subscription.
    pub name: Segment,
    /// The leases: (seq, deliveries).
    pub leases: Vec<(Seq, u32)>,
}

request!(Nack => Settled(Vec<Seq>));

impl Locking for Nack {
    fn locks<'a>(&'a self, locks: &mut Locks<'a>) {
        subscription_locks(&self.space, &self.name, locks);
    }
}

impl Command for Nack {
    async fn apply<T: Tables>(&self, tx: &mut T, _: &mut Cx<'_>) -> TxResult<Self::Output> {
        let (space, name) = (self.space.as_str(), self.name.as_str());
        require(tx, &self.space, &self.name).await?;
        if self.leases.is_empty() {
            return Ok(Vec::new());
        }
        // Seqs no record can have are left out.
        let leases: Vec<(i64, u32)> =
            self.leases.iter().filter_map(|(s, d)| Some((i64::try_from(s.0).ok()?, *d))).collect();
        // A lease that ended is due at once: the next pull delivers them first.
        settled(tx.end_leases(space, name, &leases).await?)
    }
}

/// Makes dead letters pending again with no deliveries counted (all when `seqs` is `None`).
#[derive(Debug, Clone, PartialEq)]
pub struct RedriveDeadLetters {
    /// The space.
    pub space: SpaceName,
    /// The subscription.
    pub name: Segment,
    /// Which dead letters.
    pub seqs: Option<Vec<Seq>>,
}

request!(RedriveDeadLetters => SubscriptionUpdated(u64));

impl Locking for RedriveDeadLetters {
    fn locks<'a>(&'a self, locks: &mut Locks<'a>) {
        subscription_locks(&self.space, &self.name, locks);
    }
}

impl Command for RedriveDeadLetters {
    async fn apply<T: Tables>(&self, tx: &mut T, _: &mut Cx<'_>) -> TxResult<Self::Output> {
        require(tx, &self.space, &self.name).await?;
        let changed = match self.seqs.as_deref().map(stored_seqs) {
            Some(seqs) if seqs.is_empty() => 0,
            seqs => tx.redrive_dead_letters(self.space.as_str(), self.name.as_str(), seqs.as_deref()).await?,
        };
        Ok(changed)
    }
}

/// Forgets dead letters (all when `seqs` is `None`).
#[derive(Debug, Clone, PartialEq)]
pub struct DiscardDeadLetters {
    /// The space.
    pub space: SpaceName,
    /// The subscription.
    pub name: Segment,
    /// Which dead letters.
    pub seqs: Option<Vec<Seq>>,
}

request!(DiscardDeadLetters => SubscriptionUpdated(u64));

impl Locking for DiscardDeadLetters {
    fn locks<'a>(&'a self, locks: &mut Locks<'a>) {
        subscription_locks(&self.space, &self.name, locks);
    }
}

impl Command for DiscardDeadLetters {
    async fn apply<T: Tables>(&self, tx: &mut T, _: &mut Cx<'_>) -> TxResult<Self::Output> {
        require(tx, &self.space, &self.name).await?;
        let changed = match self.seqs.as_deref().map(stored_seqs) {
            Some(seqs) if seqs.is_empty() => 0,
            seqs => tx.discard_dead_letters(self.space.as_str(), self.name.as_str(), seqs.as_deref()).await?,
        };
        Ok(changed)
    }
}

/// The locks of a command on an existing subscription.
fn subscription_locks<'a>(space: &'a SpaceName, name: &'a Segment, locks: &mut Locks<'a>) {
    locks.exclusive(format!("subscription:{space}:{name}"));
    locks.writes_into(space.as_ref());
}

/// Refuses unless the subscription exists.
async fn require<T: Tables>(tx: &mut T, space: &SpaceName, name: &Segment) -> TxResult<()> {
    if tx.subscription_exists(space.as_str(), name.as_str()).await? {
        Ok(())
    } else {
        Err(not_found(space, name).into())
    }
}

/// The refusal for a subscription that does not exist.
fn not_found(space: &SpaceName, name: &Segment) -> StoreError {
    StoreError::SubscriptionNotFound { space: space.to_string(), name: name.to_string() }
}

/// Seqs as stored; seqs no record can have are left out.
fn stored_seqs(seqs: &[Seq]) -> Vec<i64> {
    seqs.iter().filter_map(|s| i64::try_from(s.0).ok()).collect()
}

/// A stored seq.
fn stored_seq(v: i64) -> Result<Seq, StoreError> {
    crate::subscription_rules::seq(v)
}

/// The seqs an ack or a nack settled, in ascending order.
fn settled(seqs: Vec<i64>) -> TxResult<Vec<Seq>> {
    let mut seqs = seqs.into_iter().map(stored_seq).collect::<Result<Vec<Seq>, _>>()?;
    seqs.sort_unstable();
    Ok(seqs)
}
