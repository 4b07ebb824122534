//! Quotas: each space's limits, enforced on this node, and the meters of what spaces did.
//!
//! Invariants:
//! - Every node holds every quota in memory ([`QuotaState`]), loaded at start, replaced at once
//!   by a change made through it, and by one made through another node when the change's
//!   `audit.quota_set` record reaches it through the log tail (a missed record reloads them
//!   all, and so does every measurement pass). A space without a quota costs a request one
//!   read-locked map lookup; with one, a per-space mutex held for a few arithmetic steps —
//!   no lock is shared between spaces on the hot path once a space has been seen.
//! - Rates are token buckets per node holding one second's worth. With several nodes each
//!   admits its share: the rate divided by the live nodes it last counted (rounded up), so a
//!   tenant spread over the cluster gets about its rate, not a multiple of it.
//! - Holdings (stored bytes, instances) are measured from the store every measurement pass for
//!   spaces whose quota limits them; between passes a node adds the instances it created
//!   itself. A write that would add to a space at or over such a limit is refused, so a space
//!   overshoots by at most what it writes before the next pass notices.
//! - Meters count on every node for every space and are added to the store's by the
//!   measurement pass (and at shutdown): a node killed outright loses at most one pass's
//!   counts. Refusals count too, so a tenant's `refused` shows what it was denied.
//! - Only what callers ask for is paced (API requests, their writes, functions' host calls);
//!   the server's own follow-up work — timers, effects, retries — is not refused by a rate,
//!   since refusing it would only move it later.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
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

/// How often holdings are measured and meters flushed, unless configured.
pub const DEFAULT_MEASURE_EVERY: Duration = Duration::from_secs(10);

/// One space's quota and what this node tracks against it.
struct SpaceQuota {
    quota: Quota,
    requests: Mutex<Option<TokenBucket>>,
    events: Mutex<Option<TokenBucket>>,
    /// The last measured holdings, plus instances this node created since.
    stored_bytes: AtomicU64,
    instances: AtomicU64,
    /// Whether a measurement has been taken (until then holdings are not enforced).
    measured: std::sync::atomic::AtomicBool,
}

impl SpaceQuota {
    fn new(quota: Quota) -> SpaceQuota {
        SpaceQuota {
            quota,
            requests: Mutex::new(None),
            events: Mutex::new(None),
            stored_bytes: AtomicU64::new(0),
            instances: AtomicU64::new(0),
            measured: std::sync::atomic::AtomicBool::new(false),
        }
    }

    fn holds_limits(&self) -> bool {
        self.quota.stored_bytes.is_some() || self.quota.instances.is_some()
    }
}

/// What one space did on this node since it started: cumulative, and what is not yet flushed.
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

/// A rate a space is paced at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rate {
    Requests,
    Events,
}

/// Quotas and meters of this node.
pub(crate) struct QuotaState {
    quotas: RwLock<HashMap<String, Arc<SpaceQuota>>>,
    meters: RwLock<HashMap<String, Arc<SpaceMeters>>>,
    /// Live nodes at the last count (at least 1): rates are shared among them.
    nodes: AtomicU32,
    /// Completed measurement passes.
    passes: AtomicU64,
}

impl Default for QuotaState {
    fn default() -> Self {
        QuotaState {
            quotas: RwLock::default(),
            meters: RwLock::default(),
            nodes: AtomicU32::new(1),
            passes: AtomicU64::new(0),
        }
    }
}

impl QuotaState {
    fn quota_of(&self, space: &str) -> Option<Arc<SpaceQuota>> {
        self.quotas.read().unwrap_or_else(|p| p.into_inner()).get(space).cloned()
    }

    fn meters_of(&self, space: &str) -> Arc<SpaceMeters> {
        if let Some(m) = self.meters.read().unwrap_or_else(|p| p.into_inner()).get(space) {
            return m.clone();
        }
        let mut meters = self.meters.write().unwrap_or_else(|p| p.into_inner());
        meters.entry(space.to_owned()).or_default().clone()
    }

    /// Replaces one space's quota, with its holdings when they were just measured (else it
    /// keeps what was measured under the old quota).
    fn set(&self, space: &str, quota: Option<Quota>, holdings: Option<Holdings>) {
        let mut quotas = self.quotas.write().unwrap_or_else(|p| p.into_inner());
        let Some(quota) = quota.filter(|q| !q.is_empty()) else {
            quotas.remove(space);
            return;
        };
        let old = quotas.get(space);
        // The same limits again (this node's own change read back from the log): keep the
        // buckets, so a change cannot refill them.
        if let Some(same) = old.filter(|old| old.quota == quota) {
            if let Some(h) = holdings {
                same.stored_bytes.store(h.stored_bytes.total(), Ordering::Relaxed);
                same.instances.store(h.instances, Ordering::Relaxed);
                same.measured.store(true, Ordering::Relaxed);
            }
            return;
        }
        let fresh = SpaceQuota::new(quota);
        match (holdings, old) {
            (Some(h), _) => {
                fresh.stored_bytes.store(h.stored_bytes.total(), Ordering::Relaxed);
                fresh.instances.store(h.instances, Ordering::Relaxed);
                fresh.measured.store(true, Ordering::Relaxed);
            }
            (None, Some(old)) => {
                fresh.stored_bytes.store(old.stored_bytes.load(Ordering::Relaxed), Ordering::Relaxed);
                fresh.instances.store(old.instances.load(Ordering::Relaxed), Ordering::Relaxed);
                fresh.measured.store(old.measured.load(Ordering::Relaxed), Ordering::Relaxed);
            }
            (None, None) => {}
        }
        quotas.insert(space.to_owned(), Arc::new(fresh));
    }

    /// Replaces every quota with `all` (from the store).
    fn replace_all(&self, all: Vec<(String, Quota)>) {
        let keep: std::collections::HashSet<&str> = all.iter().map(|(s, _)| s.as_str()).collect();
        self.quotas.write().unwrap_or_else(|p| p.into_inner()).retain(|space, _| keep.contains(space.as_str()));
        for (space, quota) in all {
            self.set(&space, Some(quota), None);
        }
    }

    /// Takes `n` tokens of `rate` for `space` at `now_ms`, or refuses with `rate_limited`.
    fn take(&self, space: &str, quota: &SpaceQuota, rate: Rate, n: u32, now_ms: i64) -> Result<(), EngineError> {
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
            self.meters_of(space).refused.fetch_add(1, Ordering::Relaxed);
            EngineError::RateLimited {
                message: format!(
                    "space \"{space}\" is over its quota of {limit} {what} a second; retry after the wait Retry-After gives"
                ),
                retry_after_ms: wait_ms,
            }
        })
    }

    /// Refuses a write adding to `space` when it is at or over a limit on what it holds.
    fn check_holdings(&self, space: &str, quota: &SpaceQuota, creates: u64) -> Result<(), EngineError> {
        if !quota.measured.load(Ordering::Relaxed) {
            return Ok(());
        }
        if let Some(limit) = quota.quota.stored_bytes {
            let held = quota.stored_bytes.load(Ordering::Relaxed);
            if held >= limit {
                self.meters_of(space).refused.fetch_add(1, Ordering::Relaxed);
                return Err(EngineError::QuotaExceeded(format!(
                    "space \"{space}\" holds {held} bytes, at or over its quota of {limit}: delete data (KV keys, \
                     function versions, instances) or ask an operator to raise the quota"
                )));
            }
        }
        if creates > 0
            && let Some(limit) = quota.quota.instances
        {
            let held = quota.instances.load(Ordering::Relaxed);
            if held.saturating_add(creates) > limit {
                self.meters_of(space).refused.fetch_add(1, Ordering::Relaxed);
                return Err(EngineError::QuotaExceeded(format!(
                    "space \"{space}\" holds {held} instances; creating {creates} more would pass its quota of \
                     {limit}: delete instances or ask an operator to raise the quota"
                )));
            }
            quota.instances.fetch_add(creates, Ordering::Relaxed);
        }
        Ok(())
    }
}

/// What a space may hold and do, what it holds, and what it did.
#[derive(Debug, Clone, PartialEq)]
pub struct SpaceUsage {
    /// The space.
    pub space: String,
    /// Its quota (no limit set: all `None`).
    pub quota: Quota,
    /// What it holds, measured now.
    pub holdings: Holdings,
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
    /// Stored bytes at the last measurement, when its quota limits them.
    pub stored_bytes: Option<u64>,
}

impl Engine {
    /// Loads every quota from the store (at start; later changes arrive on their own).
    pub async fn load_quotas(&self) -> Result<(), EngineError> {
        self.quotas.replace_all(self.store.list_quotas().await?);
        Ok(())
    }

    /// A space's quota; needs `quotas:read` on the space.
    pub async fn get_quota(&self, by: &Principal, space: &str) -> Result<Quota, EngineError> {
        let name = parse_space(space)?;
        by.require(QUOTAS_READ, &[name.as_str()])?;
        let all = self.store.list_quotas().await?;
        Ok(all.into_iter().find(|(s, _)| s == name.as_str()).map(|(_, q)| q).unwrap_or_default())
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
        self.install_quota(name.as_str(), quota).await;
        Ok(changed)
    }

    /// Removes a space's quota; needs `quotas:write` on the space. Answers whether it had one.
    pub async fn delete_quota(&self, by: &Principal, space: &str) -> Result<bool, EngineError> {
        let name = parse_space(space)?;
        by.require(QUOTAS_WRITE, &[name.as_str()])?;
        let changed = self.execute(SetQuota { space: name.clone(), quota: None, by: by.actor() }).await?;
        self.quotas.set(name.as_str(), None, None);
        Ok(changed)
    }

    /// What a space may hold and do, holds and did; needs `usage:read` on the space.
    pub async fn space_usage(&self, by: &Principal, space: &str) -> Result<SpaceUsage, EngineError> {
        let name = parse_space(space)?;
        by.require(USAGE_READ, &[name.as_str()])?;
        let ((holdings, stored), (quotas, jobs)) = futures_util::future::join(
            futures_util::future::join(
                self.store.space_holdings(name.as_str()),
                self.store.space_meters(name.as_str()),
            ),
            futures_util::future::join(self.store.list_quotas(), self.store.job_queue_stats(self.now())),
        )
        .await;
        let mut meters = stored?;
        if let Some(local) = self.quotas.meters.read().unwrap_or_else(|p| p.into_inner()).get(name.as_str()) {
            let flushed = *local.flushed.lock().unwrap_or_else(|p| p.into_inner());
            meters.add(&difference(&local.snapshot(), &flushed));
        }
        let quota = quotas?.into_iter().find(|(s, _)| s == name.as_str()).map(|(_, q)| q).unwrap_or_default();
        let running_jobs = jobs?.into_iter().find(|s| s.space == name.as_str()).map(|s| s.running).unwrap_or(0);
        Ok(SpaceUsage { space: name.to_string(), quota, holdings: holdings?, meters, running_jobs })
    }

    /// Counts an API request naming `space` and refuses it when the space is over its request
    /// rate (`429 rate_limited` with the wait). Called by the API's door for every request to
    /// a space's route, and for each space a batch names.
    pub fn admit_request(&self, space: &str) -> Result<(), EngineError> {
        self.quotas.meters_of(space).requests.fetch_add(1, Ordering::Relaxed);
        match self.quotas.quota_of(space) {
            None => Ok(()),
            Some(quota) => self.quotas.take(space, &quota, Rate::Requests, 1, self.now().0),
        }
    }

    /// Counts `events` a caller writes to `space` (instances created, events applied, messages
    /// published), `creates` of them new instances, and refuses them when the space is over
    /// its event rate, its stored bytes or (for creates) its instances.
    pub fn admit_events(&self, space: &str, events: u32, creates: u32) -> Result<(), EngineError> {
        if let Some(quota) = self.quotas.quota_of(space) {
            self.quotas.check_holdings(space, &quota, u64::from(creates))?;
            if let Err(e) = self.quotas.take(space, &quota, Rate::Events, events, self.now().0) {
                if creates > 0 {
                    quota
                        .instances
                        .fetch_sub(u64::from(creates).min(quota.instances.load(Ordering::Relaxed)), Ordering::Relaxed);
                }
                return Err(e);
            }
        }
        self.quotas.meters_of(space).events.fetch_add(u64::from(events), Ordering::Relaxed);
        Ok(())
    }

    /// Admits a batch: a request of each space it names, and its operations as events of
    /// theirs (creations as creations). Refuses the whole batch when one space is over.
    pub fn admit_batch(&self, ops: &[crate::BatchOp]) -> Result<(), EngineError> {
        let mut by_space: Vec<(&str, u32, u32)> = Vec::new();
        for op in ops {
            let creates = u32::from(matches!(op, crate::BatchOp::CreateInstance { .. }));
            match by_space.iter_mut().find(|(s, _, _)| *s == op.space()) {
                Some((_, events, created)) => {
                    *events = events.saturating_add(1);
                    *created = created.saturating_add(creates);
                }
                None => by_space.push((op.space(), 1, creates)),
            }
        }
        for (space, events, creates) in by_space {
            self.admit_request(space)?;
            self.admit_events(space, events, creates)?;
        }
        Ok(())
    }

    /// The scheduler's per-space limits on running jobs: `default`, lowered for spaces whose
    /// quota sets fewer concurrent jobs.
    pub(crate) fn job_space_limits(&self, default: u32) -> switchyard_model::jobs::SpaceLimits {
        let mut limits = switchyard_model::jobs::SpaceLimits::new(default);
        let quotas = self.quotas.quotas.read().unwrap_or_else(|p| p.into_inner());
        for (space, quota) in quotas.iter() {
            if let Some(n) = quota.quota.concurrent_jobs {
                limits.overrides.insert(space.clone(), n.min(default));
            }
        }
        limits
    }

    /// Refuses a write that stores more in `space` (a KV value, a function version) when the
    /// space is at or over its stored bytes.
    pub fn admit_storage(&self, space: &str) -> Result<(), EngineError> {
        match self.quotas.quota_of(space) {
            None => Ok(()),
            Some(quota) => self.quotas.check_holdings(space, &quota, 0),
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
        let meters = self.quotas.meters_of(space);
        meters.invocations.fetch_add(1, Ordering::Relaxed);
        meters.function_ms.fetch_add(u64::try_from(duration.as_millis()).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// Every space's meters on this node since it started, for the metrics.
    pub fn node_space_meters(&self) -> Vec<NodeSpaceMeters> {
        let meters = self.quotas.meters.read().unwrap_or_else(|p| p.into_inner());
        let quotas = self.quotas.quotas.read().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<NodeSpaceMeters> = meters
            .iter()
            .map(|(space, m)| NodeSpaceMeters {
                space: space.clone(),
                meters: m.snapshot(),
                stored_bytes: quotas
                    .get(space)
                    .filter(|q| q.holds_limits() && q.measured.load(Ordering::Relaxed))
                    .map(|q| q.stored_bytes.load(Ordering::Relaxed)),
            })
            .collect();
        out.sort_by(|a, b| a.space.cmp(&b.space));
        out
    }

    /// Completed measurement passes on this node.
    pub fn quota_passes(&self) -> u64 {
        self.quotas.passes.load(Ordering::Relaxed)
    }

    /// Applies a quota change read from the log (made through any node).
    pub(crate) async fn quota_changed(&self, payload: &serde_json::Value) {
        let Some(space) = payload.get("space").and_then(serde_json::Value::as_str) else { return };
        match payload.get("quota").filter(|q| !q.is_null()).map(|q| serde_json::from_value::<Quota>(q.clone())) {
            None => self.quotas.set(space, None, None),
            Some(Ok(quota)) => self.install_quota(space, quota).await,
            Some(Err(e)) => tracing::warn!(space, error = %e, "a quota change in the log cannot be read"),
        }
    }

    /// Puts `quota` in force for `space` on this node; a limit on holdings arrives measured,
    /// so it holds from its first request on.
    async fn install_quota(&self, space: &str, quota: Quota) {
        let holdings = if quota.stored_bytes.is_some() || quota.instances.is_some() {
            match self.store.space_holdings(space).await {
                Ok(holdings) => Some(holdings),
                Err(e) => {
                    tracing::warn!(space, error = %e, "a space's holdings could not be measured");
                    None
                }
            }
        } else {
            None
        };
        self.quotas.set(space, Some(quota), holdings);
    }

    /// Measures what one space holds, when its quota limits that.
    async fn measure_space(&self, space: &str) {
        let Some(quota) = self.quotas.quota_of(space).filter(|q| q.holds_limits()) else { return };
        match self.store.space_holdings(space).await {
            Ok(holdings) => {
                quota.stored_bytes.store(holdings.stored_bytes.total(), Ordering::Relaxed);
                quota.instances.store(holdings.instances, Ordering::Relaxed);
                quota.measured.store(true, Ordering::Relaxed);
            }
            Err(e) => tracing::warn!(space, error = %e, "a space's holdings could not be measured"),
        }
    }

    /// One measurement pass: reloads the quotas, counts the live nodes, measures the holdings
    /// of spaces whose quota limits them, and adds this node's new counts to the store's meters.
    pub async fn measure_quotas(&self) -> Result<(), EngineError> {
        self.load_quotas().await?;
        let since = Timestamp(self.now().0.saturating_sub(NODE_TIMEOUT.as_millis() as i64));
        let nodes = self.store.list_nodes(since).await?.len();
        self.quotas.nodes.store(u32::try_from(nodes).unwrap_or(u32::MAX).max(1), Ordering::Relaxed);
        let limited: Vec<String> = {
            let quotas = self.quotas.quotas.read().unwrap_or_else(|p| p.into_inner());
            quotas.iter().filter(|(_, q)| q.holds_limits()).map(|(s, _)| s.clone()).collect()
        };
        for space in limited {
            self.measure_space(&space).await;
        }
        self.flush_meters().await?;
        self.quotas.passes.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Adds this node's counts since the last flush to the store's meters.
    pub async fn flush_meters(&self) -> Result<(), EngineError> {
        let pending: Vec<(Arc<SpaceMeters>, SpaceName, Meters, Meters)> = {
            let meters = self.quotas.meters.read().unwrap_or_else(|p| p.into_inner());
            meters
                .iter()
                .filter_map(|(space, m)| {
                    let now = m.snapshot();
                    let flushed = *m.flushed.lock().unwrap_or_else(|p| p.into_inner());
                    let delta = difference(&now, &flushed);
                    let name = SpaceName::new(space).ok()?;
                    (!delta.is_zero()).then(|| (m.clone(), name, now, delta))
                })
                .collect()
        };
        if pending.is_empty() {
            return Ok(());
        }
        let counts = pending.iter().map(|(_, space, _, delta)| (space.clone(), *delta)).collect();
        self.execute(AddMeters { counts }).await?;
        for (meters, _, now, _) in pending {
            *meters.flushed.lock().unwrap_or_else(|p| p.into_inner()) = now;
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
