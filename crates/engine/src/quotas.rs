//! Quotas: each space's limits, enforced on this node, and the meters of what spaces did.
//!
//! Invariants:
//! - Every node holds every quota in memory ([`QuotaState`]), loaded at start, replaced at once
//!   by a change made through it, and by one made through another node when the change's
//!   `audit.quota_set` record reaches it through the log tail (a missed record reloads them
//!   all, and so does every measurement pass, unless a change landed while it read). A request
//!   to a space costs one read-locked lookup in the node's map of spaces and then only that
//!   space's own locks: no lock is shared between spaces once a space has been seen.
//! - Rates are token buckets per node holding one second's worth. With several nodes each
//!   admits its share: the rate divided by the live nodes it last counted (rounded up), so a
//!   tenant spread over the cluster gets about its rate, not a multiple of it.
//! - Instances are reserved before a create, from any origin (the API, batches, runs, triggers,
//!   flows): a reservation that would pass the limit is refused, and one whose create failed or
//!   replayed an earlier one is given back. The count starts at the last measurement, so with
//!   several nodes a space can pass its limit by what the other nodes created since.
//! - Stored bytes are measured from the store every measurement pass for spaces whose quota
//!   limits holdings; a write adding data to a space measured at or over its limit is refused,
//!   so a space overshoots by at most what it writes before the next pass notices.
//! - Meters count on every node for every space a principal was admitted to, and are added to
//!   the store's by the measurement pass (and at shutdown): a node killed outright loses at most
//!   one pass's counts. Refusals count too, so a tenant's `refused` shows what it was denied.
//! - Rates pace what callers ask for (API requests and their writes, verified webhook
//!   deliveries, functions' host calls); the server's own follow-up work — timers, effects,
//!   retries — is not paced, since refusing it would only move it later.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use serde_json::json;
use switchyard_model::access::permissions::{QUOTAS_READ, QUOTAS_WRITE, USAGE_READ};
use switchyard_model::quotas::{Holdings, Meters, Quota, TokenBucket};
use switchyard_model::{SpaceName, Timestamp};
use switchyard_runtime::Limits;
use switchyard_store::{AddMeters, SetQuota};

use crate::access::Principal;
use crate::supervisor::{CancellationToken, TaskResult};
use crate::{Engine, EngineError, NODE_TIMEOUT, parse_space};

/// A usage read reuses a measurement of the space's holdings younger than this (ms), so
/// reading usage makes a node scan a space at most once a second.
const USAGE_FRESH_MS: i64 = 1_000;

/// One space's quota and what this node tracks against it.
struct SpaceQuota {
    quota: Quota,
    requests: Mutex<Option<TokenBucket>>,
    events: Mutex<Option<TokenBucket>>,
    /// The last measured stored bytes.
    stored_bytes: AtomicU64,
    /// The last measured instances, plus those reserved on this node since.
    instances: AtomicU64,
    /// Held (shared) by every reservation until its create finished, and (exclusive) by a
    /// measurement of the instances: a measurement never races a create of this node, so it
    /// neither misses one nor counts one twice.
    creates: Arc<tokio::sync::RwLock<()>>,
    /// Whether stored bytes have been measured (until then they are not enforced).
    measured: AtomicBool,
}

impl SpaceQuota {
    fn new(quota: Quota) -> SpaceQuota {
        SpaceQuota {
            quota,
            requests: Mutex::new(None),
            events: Mutex::new(None),
            stored_bytes: AtomicU64::new(0),
            instances: AtomicU64::new(0),
            creates: Arc::new(tokio::sync::RwLock::new(())),
            measured: AtomicBool::new(false),
        }
    }

    fn holds_limits(&self) -> bool {
        self.quota.stored_bytes.is_some() || self.quota.instances.is_some()
    }

    fn record(&self, holdings: &Holdings) {
        self.stored_bytes.store(holdings.stored_bytes.total(), Ordering::Relaxed);
        self.instances.store(holdings.instances, Ordering::Release);
        self.measured.store(true, Ordering::Relaxed);
    }
}

/// What one space did on this node since it started: cumulative, and what is flushed.
#[derive(Default)]
struct SpaceMeters {
    requests: AtomicU64,
    events: AtomicU64,
    refused: AtomicU64,
    invocations: AtomicU64,
    function_ms: AtomicU64,
    /// The cumulative counts last added to the store.
    flushed: Mutex<Meters>,
}

impl SpaceMeters {
    fn snapshot(&self) -> Meters {
        Meters {
            requests: self.requests.load(Ordering::Relaxed),
            events: self.events.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
            invocations: self.invocations.load(Ordering::Relaxed),
            function_ms: self.function_ms.load(Ordering::Relaxed),
        }
    }
}

/// A space as this node knows it: its meters and its quota, if it has one.
#[derive(Default)]
struct SpaceEntry {
    meters: SpaceMeters,
    quota: RwLock<Option<Arc<SpaceQuota>>>,
    /// The last holdings measured, and when (engine time, ms).
    holdings: Mutex<Option<(i64, Holdings)>>,
}

impl SpaceEntry {
    fn quota(&self) -> Option<Arc<SpaceQuota>> {
        self.quota.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn refused(&self) {
        self.meters.refused.fetch_add(1, Ordering::Relaxed);
    }
}

/// A rate a space is paced at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rate {
    Requests,
    Events,
}

/// Quotas and meters of this node.
pub(crate) struct QuotaState {
    spaces: RwLock<HashMap<String, Arc<SpaceEntry>>>,
    /// Live nodes at the last count (at least 1): rates are shared among them.
    nodes: AtomicU32,
    /// Quota changes applied; a reload whose read raced one is dropped.
    changes: AtomicU64,
    /// Held while meters are flushed, and while a usage read adds the store's to this node's.
    flushing: tokio::sync::Mutex<()>,
}

impl Default for QuotaState {
    fn default() -> Self {
        QuotaState {
            spaces: RwLock::default(),
            nodes: AtomicU32::new(1),
            changes: AtomicU64::new(0),
            flushing: tokio::sync::Mutex::new(()),
        }
    }
}

impl QuotaState {
    /// The space's entry, made on first sight.
    fn entry(&self, space: &str) -> Arc<SpaceEntry> {
        if let Some(entry) = self.spaces.read().unwrap_or_else(|p| p.into_inner()).get(space) {
            return entry.clone();
        }
        let mut spaces = self.spaces.write().unwrap_or_else(|p| p.into_inner());
        spaces.entry(space.to_owned()).or_default().clone()
    }

    /// The space's quota, without making an entry for a space never seen.
    fn quota_of(&self, space: &str) -> Option<Arc<SpaceQuota>> {
        self.spaces.read().unwrap_or_else(|p| p.into_inner()).get(space).and_then(|e| e.quota())
    }

    /// Replaces one space's quota, keeping what was measured under the old one; the same
    /// limits again keep everything (so a change read back from the log refills no bucket).
    fn set(&self, space: &str, quota: Option<Quota>) {
        let entry = self.entry(space);
        let mut slot = entry.quota.write().unwrap_or_else(|p| p.into_inner());
        self.changes.fetch_add(1, Ordering::AcqRel);
        let Some(quota) = quota.filter(|q| !q.is_empty()) else {
            *slot = None;
            return;
        };
        if slot.as_ref().is_some_and(|old| old.quota == quota) {
            return;
        }
        let fresh = SpaceQuota::new(quota);
        if let Some(old) = slot.as_ref() {
            fresh.stored_bytes.store(old.stored_bytes.load(Ordering::Relaxed), Ordering::Relaxed);
            fresh.instances.store(old.instances.load(Ordering::Relaxed), Ordering::Relaxed);
            fresh.measured.store(old.measured.load(Ordering::Relaxed), Ordering::Relaxed);
        }
        *slot = Some(Arc::new(fresh));
    }

    /// Replaces every quota with `all` (read from the store) unless a change was applied since
    /// `changes` was read: that read may predate it. Answers whether it replaced them.
    fn replace_all(&self, all: Vec<(String, Quota)>, changes: u64) -> bool {
        if self.changes.load(Ordering::Acquire) != changes {
            return false;
        }
        let known: Vec<String> = self.spaces.read().unwrap_or_else(|p| p.into_inner()).keys().cloned().collect();
        for space in known.iter().filter(|s| !all.iter().any(|(a, _)| a == *s)) {
            if self.quota_of(space).is_some() {
                self.set(space, None);
            }
        }
        for (space, quota) in all {
            self.set(&space, Some(quota));
        }
        true
    }

    /// Takes `n` tokens of `rate` for the space at `now_ms`, or refuses with `rate_limited`.
    fn take(
        &self,
        space: &str,
        entry: &SpaceEntry,
        quota: &SpaceQuota,
        rate: Rate,
        n: u32,
        now_ms: i64,
    ) -> Result<(), EngineError> {
        let (limit, bucket, what) = match rate {
            Rate::Requests => (quota.quota.requests_per_second, &quota.requests, "requests"),
            Rate::Events => (quota.quota.events_per_second, &quota.events, "events"),
        };
        let Some(limit) = limit else { return Ok(()) };
        let nodes = self.nodes.load(Ordering::Relaxed).max(1);
        let share = limit.div_ceil(nodes).max(1);
        let taken = {
            let mut bucket = bucket.lock().unwrap_or_else(|p| p.into_inner());
            bucket.get_or_insert_with(|| TokenBucket::full(share, now_ms)).take(share, n, now_ms)
        };
        taken.map_err(|wait_ms| {
            entry.refused();
            EngineError::RateLimited {
                message: format!(
                    "space \"{space}\" is over its quota of {limit} {what} a second; retry after the wait Retry-After gives"
                ),
                retry_after_ms: wait_ms,
            }
        })
    }

    /// Refuses a write adding data to a space measured at or over its stored bytes.
    fn check_stored_bytes(&self, space: &str, entry: &SpaceEntry, quota: &SpaceQuota) -> Result<(), EngineError> {
        let Some(limit) = quota.quota.stored_bytes else { return Ok(()) };
        let held = quota.stored_bytes.load(Ordering::Relaxed);
        if quota.measured.load(Ordering::Relaxed) && held >= limit {
            entry.refused();
            return Err(EngineError::QuotaExceeded(format!(
                "space \"{space}\" holds {held} bytes, at or over its quota of {limit}: delete data (instances, \
                 KV keys, function versions) or ask an operator to raise the quota"
            )));
        }
        Ok(())
    }
}

/// Instances reserved for a create under the space's quota; given back when dropped unless
/// [`kept`](InstanceReservation::keep) (the create committed and was not a replay).
pub(crate) struct InstanceReservation {
    quota: Option<Arc<SpaceQuota>>,
    n: u64,
    /// Keeps measurements of the space's instances out until the create finished.
    _creating: Option<tokio::sync::OwnedRwLockReadGuard<()>>,
}

impl InstanceReservation {
    /// The create committed: the instances stay counted.
    pub(crate) fn keep(self) {
        self.keep_all_but(0);
    }

    /// The creates committed, `replayed` of them only answering earlier ones: those give their
    /// room back, the others keep theirs.
    pub(crate) fn keep_all_but(mut self, replayed: u64) {
        if let Some(quota) = self.quota.take() {
            settle(&quota.instances, replayed.min(self.n));
        }
    }
}

impl Drop for InstanceReservation {
    fn drop(&mut self) {
        if let Some(quota) = self.quota.take() {
            settle(&quota.instances, self.n);
        }
    }
}

/// Takes `n` off a count, stopping at zero (a measurement may have lowered it meanwhile).
fn settle(count: &AtomicU64, n: u64) {
    let _ = count.fetch_update(Ordering::AcqRel, Ordering::Acquire, |v| Some(v.saturating_sub(n)));
}

/// What a space may hold and do, what it holds, and what it did.
#[derive(Debug, Clone, PartialEq)]
pub struct SpaceUsage {
    /// The space.
    pub space: String,
    /// Its quota (no limit set: all `None`).
    pub quota: Quota,
    /// What it holds.
    pub holdings: Holdings,
    /// When the holdings were measured.
    pub measured_at: Timestamp,
    /// What it did, across every node (the store's meters plus this node's unflushed counts).
    pub meters: Meters,
    /// Its jobs running now.
    pub running_jobs: u64,
}

/// A space's meters on this node since it started, for the metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeSpaceMeters {
    /// The space.
    pub space: String,
    /// Its counts.
    pub meters: Meters,
    /// Stored bytes at the last measurement, when its quota limits holdings.
    pub stored_bytes: Option<u64>,
}

impl Engine {
    /// Loads every quota from the store (at start; later changes arrive on their own).
    pub async fn load_quotas(&self) -> Result<(), EngineError> {
        loop {
            let changes = self.quotas.changes.load(Ordering::Acquire);
            let all = self.store.list_quotas().await?;
            if self.quotas.replace_all(all, changes) {
                return Ok(());
            }
        }
    }

    /// A space's quota as in force on this node; needs `quotas:read` on the space.
    pub fn get_quota(&self, by: &Principal, space: &str) -> Result<Quota, EngineError> {
        let name = parse_space(space)?;
        by.require(QUOTAS_READ, &[name.as_str()])?;
        Ok(self.quotas.quota_of(name.as_str()).map(|q| q.quota.clone()).unwrap_or_default())
    }

    /// Sets a space's quota (an empty one removes it), for every node at once; needs
    /// `quotas:write` on the space, which only the system's roles hold. Answers whether
    /// anything changed.
    pub async fn set_quota(&self, by: &Principal, space: &str, quota: Quota) -> Result<bool, EngineError> {
        let name = parse_space(space)?;
        by.require(QUOTAS_WRITE, &[name.as_str()])?;
        quota.validate().map_err(|e| EngineError::Validation {
            message: format!("quota: {e}"),
            details: json!({ "field": e.field }),
        })?;
        let changed =
            self.execute(SetQuota { space: name.clone(), quota: Some(quota.clone()), by: by.actor() }).await?;
        self.quotas.set(name.as_str(), Some(quota));
        self.measure_space(name.as_str()).await;
        Ok(changed)
    }

    /// Removes a space's quota; needs `quotas:write` on the space. Answers whether it had one.
    pub async fn delete_quota(&self, by: &Principal, space: &str) -> Result<bool, EngineError> {
        let name = parse_space(space)?;
        by.require(QUOTAS_WRITE, &[name.as_str()])?;
        let changed = self.execute(SetQuota { space: name.clone(), quota: None, by: by.actor() }).await?;
        self.quotas.set(name.as_str(), None);
        Ok(changed)
    }

    /// What a space may hold and do, holds and did; needs `usage:read` on the space. The
    /// holdings are the last measurement when it is younger than a second (measured now
    /// otherwise), so reading usage cannot make the node scan a space more than once a second.
    pub async fn space_usage(&self, by: &Principal, space: &str) -> Result<SpaceUsage, EngineError> {
        let name = parse_space(space)?;
        by.require(USAGE_READ, &[name.as_str()])?;
        let entry = self.quotas.entry(name.as_str());
        let now = self.now().0;
        let cached = *entry.holdings.lock().unwrap_or_else(|p| p.into_inner());
        let (measured_at, holdings) = match cached.filter(|(at, _)| now.saturating_sub(*at) < USAGE_FRESH_MS) {
            Some(cached) => cached,
            None => {
                let holdings = self.store.space_holdings(name.as_str()).await?;
                *entry.holdings.lock().unwrap_or_else(|p| p.into_inner()) = Some((now, holdings));
                (now, holdings)
            }
        };
        let meters = {
            let _flushing = self.quotas.flushing.lock().await;
            let mut meters = self.store.space_meters(name.as_str()).await?;
            let flushed = *entry.meters.flushed.lock().unwrap_or_else(|p| p.into_inner());
            meters.add(&difference(&entry.meters.snapshot(), &flushed));
            meters
        };
        let jobs = self.store.job_queue_stats(self.now()).await?;
        let running_jobs = jobs.into_iter().find(|s| s.space == name.as_str()).map(|s| s.running).unwrap_or(0);
        let quota = entry.quota().map(|q| q.quota.clone()).unwrap_or_default();
        Ok(SpaceUsage {
            space: name.to_string(),
            quota,
            holdings,
            measured_at: Timestamp(measured_at),
            meters,
            running_jobs,
        })
    }

    /// Counts an API request naming `space` and refuses it when the space is over its request
    /// rate (`429 rate_limited` with the wait). Called by the API's door for every request to
    /// a space's route, for each space a batch names, and for each verified webhook delivery.
    pub fn admit_request(&self, space: &str) -> Result<(), EngineError> {
        let entry = self.quotas.entry(space);
        entry.meters.requests.fetch_add(1, Ordering::Relaxed);
        match entry.quota() {
            None => Ok(()),
            Some(quota) => self.quotas.take(space, &entry, &quota, Rate::Requests, 1, self.now().0),
        }
    }

    /// Counts `events` a caller asks to write to `space` (instances created, events applied,
    /// messages published, runs started) and refuses them when the space is over its event
    /// rate or measured at or over its stored bytes. Creations also reserve their instances
    /// in the engine, whatever asked for them.
    pub fn admit_events(&self, space: &str, events: u32) -> Result<(), EngineError> {
        let entry = self.quotas.entry(space);
        if let Some(quota) = entry.quota() {
            self.quotas.check_stored_bytes(space, &entry, &quota)?;
            self.quotas.take(space, &entry, &quota, Rate::Events, events, self.now().0)?;
        }
        entry.meters.events.fetch_add(u64::from(events), Ordering::Relaxed);
        Ok(())
    }

    /// Admits a batch: a request of each space it names, and its creations and events as
    /// events of theirs (deletions only as the request). Refuses the whole batch when one space
    /// is over.
    pub fn admit_batch(&self, ops: &[crate::BatchOp]) -> Result<(), EngineError> {
        let mut by_space: Vec<(&str, u32)> = Vec::new();
        for op in ops {
            let events = u32::from(!matches!(op, crate::BatchOp::DeleteInstance { .. }));
            match by_space.iter_mut().find(|(s, _)| *s == op.space()) {
                Some((_, n)) => *n = n.saturating_add(events),
                None => by_space.push((op.space(), events)),
            }
        }
        for (space, events) in by_space {
            self.admit_request(space)?;
            if events > 0 {
                self.admit_events(space, events)?;
            }
        }
        Ok(())
    }

    /// Refuses a write that stores more in `space` (a KV value, a function version, an
    /// invocation) when the space is measured at or over its stored bytes.
    pub fn admit_storage(&self, space: &str) -> Result<(), EngineError> {
        let Some(quota) = self.quotas.quota_of(space) else { return Ok(()) };
        self.quotas.check_stored_bytes(space, &self.quotas.entry(space), &quota)
    }

    /// Reserves `n` new instances of `space` under its quota (and refuses a create into a
    /// space measured at or over its stored bytes); the reservation is given back unless kept.
    pub(crate) async fn reserve_instances(&self, space: &str, n: u64) -> Result<InstanceReservation, EngineError> {
        let none = InstanceReservation { quota: None, n, _creating: None };
        let Some(quota) = self.quotas.quota_of(space) else { return Ok(none) };
        let entry = self.quotas.entry(space);
        self.quotas.check_stored_bytes(space, &entry, &quota)?;
        let Some(limit) = quota.quota.instances else { return Ok(none) };
        let creating = quota.creates.clone().read_owned().await;
        let reserved = quota.instances.fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
            held.checked_add(n).filter(|total| *total <= limit)
        });
        match reserved {
            Ok(_) => Ok(InstanceReservation { quota: Some(quota), n, _creating: Some(creating) }),
            Err(held) => {
                entry.refused();
                Err(EngineError::QuotaExceeded(format!(
                    "space \"{space}\" holds {held} instances; creating {n} more would pass its quota of {limit}: \
                     delete instances or ask an operator to raise the quota"
                )))
            }
        }
    }

    /// An invocation's limits in `space`: the function's, lowered to the space's quota.
    pub(crate) fn limits_in(&self, space: &str, mut limits: Limits) -> Limits {
        if let Some(quota) = self.quotas.quota_of(space) {
            if let Some(ms) = quota.quota.function_timeout_ms {
                limits.timeout = limits.timeout.min(Duration::from_millis(ms));
            }
            if let Some(bytes) = quota.quota.function_memory_bytes {
                limits.memory_bytes = limits.memory_bytes.min(bytes);
            }
        }
        limits
    }

    /// Counts an invocation that ran for `duration` in `space`.
    pub(crate) fn meter_invocation(&self, space: &str, duration: Duration) {
        let entry = self.quotas.entry(space);
        entry.meters.invocations.fetch_add(1, Ordering::Relaxed);
        let ms = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
        entry.meters.function_ms.fetch_add(ms, Ordering::Relaxed);
    }

    /// The scheduler's per-space limits on running jobs: `default`, lowered for spaces whose
    /// quota sets fewer concurrent jobs.
    pub(crate) fn job_space_limits(&self, default: u32) -> switchyard_model::jobs::SpaceLimits {
        let mut limits = switchyard_model::jobs::SpaceLimits::new(default);
        let spaces = self.quotas.spaces.read().unwrap_or_else(|p| p.into_inner());
        for (space, entry) in spaces.iter() {
            if let Some(n) = entry.quota().and_then(|q| q.quota.concurrent_jobs) {
                limits.overrides.insert(space.clone(), n.min(default));
            }
        }
        limits
    }

    /// Every space's meters on this node since it started, for the metrics.
    pub fn node_space_meters(&self) -> Vec<NodeSpaceMeters> {
        let spaces = self.quotas.spaces.read().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<NodeSpaceMeters> = spaces
            .iter()
            .map(|(space, entry)| NodeSpaceMeters {
                space: space.clone(),
                meters: entry.meters.snapshot(),
                stored_bytes: entry
                    .quota()
                    .filter(|q| q.holds_limits() && q.measured.load(Ordering::Relaxed))
                    .map(|q| q.stored_bytes.load(Ordering::Relaxed)),
            })
            .collect();
        out.sort_by(|a, b| a.space.cmp(&b.space));
        out
    }

    /// Applies a quota change read from the log (made through any node), and measures the
    /// space's holdings in the background when the quota limits them.
    pub(crate) fn quota_changed(self: &Arc<Self>, payload: &serde_json::Value) {
        let Some(space) = payload.get("space").and_then(serde_json::Value::as_str) else { return };
        match payload.get("quota").filter(|q| !q.is_null()).map(|q| serde_json::from_value::<Quota>(q.clone())) {
            None => self.quotas.set(space, None),
            Some(Ok(quota)) => {
                let measure = quota.stored_bytes.is_some() || quota.instances.is_some();
                self.quotas.set(space, Some(quota));
                if measure {
                    let (engine, space) = (self.clone(), space.to_owned());
                    let _ =
                        self.supervisor.spawn_work("measure-quota", async move { engine.measure_space(&space).await });
                }
            }
            Some(Err(e)) => tracing::warn!(space, error = %e, "a quota change in the log cannot be read"),
        }
    }

    /// Measures what one space holds, when its quota limits that. With a limit on instances,
    /// this node's creates in the space wait while it counts, so none is missed or counted twice.
    async fn measure_space(&self, space: &str) {
        let Some(quota) = self.quotas.quota_of(space).filter(|q| q.holds_limits()) else { return };
        let _counting = match quota.quota.instances {
            Some(_) => Some(quota.creates.clone().write_owned().await),
            None => None,
        };
        match self.store.space_holdings(space).await {
            Ok(holdings) => {
                quota.record(&holdings);
                *self.quotas.entry(space).holdings.lock().unwrap_or_else(|p| p.into_inner()) =
                    Some((self.now().0, holdings));
            }
            Err(e) => tracing::warn!(space, error = %e, "a space's holdings could not be measured"),
        }
    }

    /// One measurement pass: reloads the quotas, counts the live nodes, measures the holdings
    /// of spaces whose quota limits them, and adds this node's new counts to the store's meters.
    pub async fn measure_quotas(&self) -> Result<(), EngineError> {
        let changes = self.quotas.changes.load(Ordering::Acquire);
        let all = self.store.list_quotas().await?;
        // A change applied while the list was read is newer than it: the next pass reloads.
        self.quotas.replace_all(all, changes);
        let since = Timestamp(self.now().0.saturating_sub(NODE_TIMEOUT.as_millis() as i64));
        let nodes = self.store.list_nodes(since).await?.len();
        self.quotas.nodes.store(u32::try_from(nodes).unwrap_or(u32::MAX).max(1), Ordering::Relaxed);
        let limited: Vec<String> = {
            let spaces = self.quotas.spaces.read().unwrap_or_else(|p| p.into_inner());
            spaces.iter().filter(|(_, e)| e.quota().is_some_and(|q| q.holds_limits())).map(|(s, _)| s.clone()).collect()
        };
        for space in limited {
            self.measure_space(&space).await;
        }
        self.flush_meters().await?;
        Ok(())
    }

    /// Adds this node's counts since the last flush to the store's meters.
    pub async fn flush_meters(&self) -> Result<(), EngineError> {
        let _flushing = self.quotas.flushing.lock().await;
        let pending: Vec<(Arc<SpaceEntry>, SpaceName, Meters, Meters)> = {
            let spaces = self.quotas.spaces.read().unwrap_or_else(|p| p.into_inner());
            spaces
                .iter()
                .filter_map(|(space, entry)| {
                    let now = entry.meters.snapshot();
                    let flushed = *entry.meters.flushed.lock().unwrap_or_else(|p| p.into_inner());
                    let delta = difference(&now, &flushed);
                    let name = SpaceName::new(space).ok()?;
                    (!delta.is_zero()).then(|| (entry.clone(), name, now, delta))
                })
                .collect()
        };
        if pending.is_empty() {
            return Ok(());
        }
        let counts = pending.iter().map(|(_, space, _, delta)| (space.clone(), *delta)).collect();
        self.execute(AddMeters { counts }).await?;
        for (entry, _, now, _) in pending {
            *entry.meters.flushed.lock().unwrap_or_else(|p| p.into_inner()) = now;
        }
        Ok(())
    }

    /// Starts the measurement pass every `every`, as the supervisor's task `quotas`; a final
    /// flush of the meters runs when shutdown begins.
    pub fn spawn_quota_measurement(self: &Arc<Self>, every: Duration) {
        let engine = Arc::downgrade(self);
        self.supervisor.spawn_named("quotas", crate::supervisor::Policy::Restart, move |cancel| {
            measure_every(engine.clone(), every, cancel)
        });
    }
}

/// `now - before`, counter by counter.
fn difference(now: &Meters, before: &Meters) -> Meters {
    Meters {
        requests: now.requests.saturating_sub(before.requests),
        events: now.events.saturating_sub(before.events),
        refused: now.refused.saturating_sub(before.refused),
        invocations: now.invocations.saturating_sub(before.invocations),
        function_ms: now.function_ms.saturating_sub(before.function_ms),
    }
}

async fn measure_every(engine: std::sync::Weak<Engine>, every: Duration, cancel: CancellationToken) -> TaskResult {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let stopping = tokio::select! {
            _ = cancel.cancelled() => true,
            _ = tick.tick() => false,
        };
        let Some(engine) = engine.upgrade() else { return Ok(()) };
        if stopping {
            if let Err(e) = engine.flush_meters().await {
                tracing::warn!(error = %e, "the meters could not be flushed at shutdown");
            }
            return Ok(());
        }
        if let Err(e) = engine.measure_quotas().await {
            tracing::warn!(error = %e, "a quota measurement pass failed");
        }
    }
}
