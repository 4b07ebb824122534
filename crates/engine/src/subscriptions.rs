//! Durable subscriptions: named cursors over a log filter that consumers pull from, ack, and
//! whose unacked records come back after their lease.
//!
//! Delivery is at-least-once: a record is delivered again when its lease ends before an ack
//! (a consumer crashed, or was slow), so consumers must tolerate repeats (the seq identifies a
//! record). Every state change (lease, ack, dead letter) is a store write, so it is as durable
//! as an event and survives restarts; on PostgreSQL all nodes share each subscription.

use std::time::{Duration, Instant};

use switchyard_model::{
    AddressFilter, DeadLetter, Delivery, LogFilter, Segment, Seq, SpaceName, SubscriptionRecord, SubscriptionSpec,
};
use switchyard_store::*;
use tokio::sync::broadcast;

use crate::{Engine, EngineError, parse_segment, parse_space};

/// Deliveries before a record becomes a dead letter, when a subscription names none.
pub const DEFAULT_MAX_DELIVERIES: u32 = 5;

/// The lease a pull gives when neither it nor its subscription names one.
pub const DEFAULT_ACK_WAIT: Duration = Duration::from_secs(30);

/// The most records one pull leases.
pub const MAX_PULL: u32 = 1000;

/// The longest a pull waits for records to arrive.
pub const MAX_PULL_WAIT: Duration = Duration::from_secs(60);

/// Store pulls one request makes in a row while the subscription's cursor is behind the log
/// and nothing matched (each examines at most 10,000 records).
const MAX_SCAN_ROUNDS: u32 = 10;

/// The longest lease a pull may take.
pub const MAX_LEASE: Duration = Duration::from_secs(24 * 3600);

/// Where a new subscription starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscribeFrom {
    /// With the first record written after it was created.
    Now,
    /// With the oldest record the log keeps.
    Earliest,
    /// With the record after this seq.
    After(Seq),
}

/// A subscription's settings, as the API received them.
#[derive(Debug, Clone)]
pub struct SubscriptionSettings {
    /// Which records it follows.
    pub filter: LogFilter,
    /// Where it starts (only when created).
    pub from: SubscribeFrom,
    /// Deliveries before a record becomes a dead letter.
    pub max_deliveries: Option<u32>,
    /// The default lease of a pull.
    pub ack_wait: Option<Duration>,
    /// Whether retention may trim records it has not acked.
    pub allow_loss: bool,
}

/// A subscription with how far behind the log it is.
#[derive(Debug, Clone)]
pub struct SubscriptionStatus {
    /// The subscription.
    pub subscription: SubscriptionRecord,
    /// Records in the log after its cursor, not yet examined.
    pub lag: u64,
    /// The log's newest seq when this was read.
    pub log_newest: Seq,
}

impl Engine {
    /// Creates a subscription, or updates the settings of one with the same filter.
    pub async fn put_subscription(
        &self,
        name: &str,
        settings: SubscriptionSettings,
    ) -> Result<(SubscriptionStatus, bool), EngineError> {
        let name = parse_segment("subscription", name)?;
        let max_deliveries = settings.max_deliveries.unwrap_or(DEFAULT_MAX_DELIVERIES);
        if !(1..=1000).contains(&max_deliveries) {
            return Err(EngineError::validation("max_deliveries must be 1-1000"));
        }
        let ack_wait = settings.ack_wait.unwrap_or(DEFAULT_ACK_WAIT);
        check_lease("ack_wait", ack_wait)?;
        let start_after = match settings.from {
            SubscribeFrom::Now => self.store.log_stats().await?.newest,
            SubscribeFrom::Earliest => Seq(0),
            SubscribeFrom::After(seq) => seq,
        };
        let space = settings.filter.space.clone();
        let spec = SubscriptionSpec {
            filter: settings.filter,
            name: name.clone(),
            start_after,
            max_deliveries,
            ack_wait_ms: ack_wait.as_millis() as u64,
            allow_loss: settings.allow_loss,
        };
        let created = self.execute(PutSubscription { spec }).await?.created;
        Ok((self.subscription_status(&space, &name).await?, created))
    }

    /// A subscription with its lag.
    pub async fn get_subscription(&self, space: &str, name: &str) -> Result<SubscriptionStatus, EngineError> {
        let space = parse_space(space)?;
        let name = parse_segment("subscription", name)?;
        self.subscription_status(&space, &name).await
    }

    async fn subscription_status(&self, space: &SpaceName, name: &Segment) -> Result<SubscriptionStatus, EngineError> {
        let subscription = self.store.get_subscription(space, name).await?.ok_or_else(|| not_found(space, name))?;
        let log_newest = self.store.log_stats().await?.newest;
        let lag = log_newest.0.saturating_sub(subscription.cursor.0);
        Ok(SubscriptionStatus { subscription, lag, log_newest })
    }

    /// Every subscription of a space, with its lag.
    pub async fn list_subscriptions(&self, space: &str) -> Result<Vec<SubscriptionStatus>, EngineError> {
        let space = parse_space(space)?;
        let log_newest = self.store.log_stats().await?.newest;
        Ok(self
            .store
            .list_subscriptions(&space)
            .await?
            .into_iter()
            .map(|subscription| {
                let lag = log_newest.0.saturating_sub(subscription.cursor.0);
                SubscriptionStatus { subscription, lag, log_newest }
            })
            .collect())
    }

    /// Makes the subscription a server-side consumer (an event-pattern trigger, an endpoint)
    /// reads: the space's records of `kinds` (all when empty), from now; kept when it already
    /// follows the same kinds, remade from now when they changed.
    pub(crate) async fn ensure_log_subscription(
        &self,
        space: &SpaceName,
        name: &Segment,
        kinds: &[String],
        max_deliveries: u32,
        lease: Duration,
    ) -> Result<(), EngineError> {
        let settings = || SubscriptionSettings {
            filter: LogFilter {
                space: space.clone(),
                address: AddressFilter::Any,
                kinds: kinds.to_vec(),
                state: None,
                event: None,
            },
            from: SubscribeFrom::Now,
            max_deliveries: Some(max_deliveries),
            ack_wait: Some(lease),
            allow_loss: true,
        };
        match self.put_subscription(name.as_ref(), settings()).await {
            Ok(_) => Ok(()),
            Err(e) if e.code() == crate::ErrorCode::SubscriptionExists => {
                self.delete_subscription(space.as_str(), name.as_ref()).await?;
                self.put_subscription(name.as_ref(), settings()).await.map(|_| ())
            }
            Err(e) => Err(e),
        }
    }

    /// Deletes a subscription if there is one.
    pub(crate) async fn drop_log_subscription(&self, space: &SpaceName, name: &Segment) -> Result<(), EngineError> {
        match self.delete_subscription(space.as_str(), name.as_ref()).await {
            Err(e) if e.code() != crate::ErrorCode::SubscriptionNotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Deletes a subscription with its pending records and dead letters.
    pub async fn delete_subscription(&self, space: &str, name: &str) -> Result<(), EngineError> {
        let space = parse_space(space)?;
        let name = parse_segment("subscription", name)?;
        Ok(self.execute(DeleteSubscription { space, name }).await?)
    }

    /// Leases up to `max` records (redeliveries first). With `wait`, an empty answer waits up
    /// to that long for records to arrive (or leases to end) before it is given.
    pub async fn pull(
        &self,
        space: &str,
        name: &str,
        max: u32,
        lease: Option<Duration>,
        wait: Option<Duration>,
    ) -> Result<Vec<Delivery>, EngineError> {
        let space = parse_space(space)?;
        let name = parse_segment("subscription", name)?;
        if !(1..=MAX_PULL).contains(&max) {
            return Err(EngineError::validation(format!("max must be 1-{MAX_PULL}")));
        }
        let sub = self.store.get_subscription(&space, &name).await?.ok_or_else(|| not_found(&space, &name))?;
        let lease_ms = match lease {
            Some(lease) => {
                check_lease("lease", lease)?;
                lease.as_millis() as u64
            }
            None => sub.spec.ack_wait_ms,
        };
        let filter = sub.spec.filter;
        let wait = wait.unwrap_or(Duration::ZERO);
        if wait > MAX_PULL_WAIT {
            return Err(EngineError::validation(format!("wait must be at most {}s", MAX_PULL_WAIT.as_secs())));
        }
        let deadline = Instant::now() + wait;
        // A pull examines a bounded stretch of the log; an empty answer while its cursor is
        // still behind the log means "nothing matched yet", not "caught up": pull on.
        let mut budget_rounds = 0;
        loop {
            // Subscribed before pulling: a record committed after the pull looked is announced.
            let mut arrivals = self.tail.get().map(|tail| tail.subscribe());
            let request = Pull { space: space.clone(), name: name.clone(), max, lease_ms };
            // A pull appends nothing to the log, so it does not wake the log tail.
            let deliveries = self.store.execute(request).await?;
            if !deliveries.is_empty() {
                return Ok(deliveries);
            }
            let newest = match self.tail.get() {
                Some(tail) => tail.last_seq(),
                None => self.store.log_stats().await?.newest,
            };
            if budget_rounds < MAX_SCAN_ROUNDS
                && let Some(sub) = self.store.get_subscription(&space, &name).await?
                && sub.cursor < newest
            {
                budget_rounds += 1;
                continue;
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(deliveries);
            }
            // Leases that end are noticed within a second; new records at once.
            let nap = (deadline - now).min(Duration::from_secs(1));
            match arrivals.as_mut() {
                Some(rx) => {
                    let _ = tokio::time::timeout(nap, async {
                        loop {
                            match rx.recv().await {
                                // Only a record this subscription wants is worth a pull.
                                Ok(record) if filter.matches(&record) => return,
                                Ok(_) => {}
                                Err(broadcast::error::RecvError::Lagged(_)) => return,
                                Err(broadcast::error::RecvError::Closed) => {
                                    std::future::pending::<()>().await;
                                }
                            }
                        }
                    })
                    .await;
                }
                None => tokio::time::sleep(nap).await,
            }
        }
    }

    /// Acknowledges records: which of the seqs were pending (and are now acked) and which were
    /// not (never delivered, already acked, dead letters, or not this subscription's).
    pub async fn ack(&self, space: &str, name: &str, seqs: Vec<Seq>) -> Result<Settled<Seq>, EngineError> {
        let (space, name) = (parse_space(space)?, parse_segment("subscription", name)?);
        check_seqs(&seqs)?;
        // An ack appends nothing to the log, so it does not wake the log tail.
        let done = self.store.execute(Ack { space, name, seqs: seqs.clone() }).await?;
        Ok(Settled::split(seqs, &done, |seq| *seq))
    }

    /// Ends leases now, so their records are delivered again; a lease is named by its record's
    /// seq and the delivery count its pull reported. Says which leases ended and which were not
    /// current (the record is not pending, or was leased again since: another delivery count).
    pub async fn nack(
        &self,
        space: &str,
        name: &str,
        leases: Vec<(Seq, u32)>,
    ) -> Result<Settled<(Seq, u32)>, EngineError> {
        let (space, name) = (parse_space(space)?, parse_segment("subscription", name)?);
        if leases.is_empty() || leases.len() > 10_000 {
            return Err(EngineError::validation("leases must name 1-10000 records"));
        }
        // A record has one lease at a time: naming it with two delivery counts is a mistake,
        // and the answer could not say which of the two ended.
        let mut seqs = std::collections::HashMap::with_capacity(leases.len());
        for (seq, deliveries) in &leases {
            if let Some(other) = seqs.insert(*seq, *deliveries)
                && other != *deliveries
            {
                return Err(EngineError::validation(format!(
                    "leases name seq {seq} twice, with deliveries {other} and {deliveries}; a record has one lease at a time"
                )));
            }
        }
        // A nack appends nothing to the log, so it does not wake the log tail.
        let done = self.store.execute(Nack { space, name, leases: leases.clone() }).await?;
        Ok(Settled::split(leases, &done, |(seq, _)| *seq))
    }

    /// A page of a subscription's dead letters.
    pub async fn dead_letters(
        &self,
        space: &str,
        name: &str,
        after: Seq,
        limit: u32,
    ) -> Result<Vec<DeadLetter>, EngineError> {
        let (space, name) = (parse_space(space)?, parse_segment("subscription", name)?);
        if self.store.get_subscription(&space, &name).await?.is_none() {
            return Err(not_found(&space, &name));
        }
        Ok(self.store.dead_letters(&space, &name, after, limit.clamp(1, 1000)).await?)
    }

    /// Makes dead letters deliverable again (all when `seqs` is `None`); returns how many.
    pub async fn redrive(&self, space: &str, name: &str, seqs: Option<Vec<Seq>>) -> Result<u64, EngineError> {
        let (space, name) = (parse_space(space)?, parse_segment("subscription", name)?);
        if let Some(seqs) = &seqs {
            check_seqs(seqs)?;
        }
        // This appends nothing to the log, so it does not wake the log tail.
        Ok(self.store.execute(RedriveDeadLetters { space, name, seqs }).await?)
    }

    /// Forgets dead letters (all when `seqs` is `None`); returns how many.
    pub async fn discard_dead_letters(
        &self,
        space: &str,
        name: &str,
        seqs: Option<Vec<Seq>>,
    ) -> Result<u64, EngineError> {
        let (space, name) = (parse_space(space)?, parse_segment("subscription", name)?);
        if let Some(seqs) = &seqs {
            check_seqs(seqs)?;
        }
        // This appends nothing to the log, so it does not wake the log tail.
        Ok(self.store.execute(DiscardDeadLetters { space, name, seqs }).await?)
    }
}

/// What an ack or nack did with each record it named, in the order named (a record named twice
/// is listed once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settled<T> {
    /// Those acked (or whose lease ended).
    pub done: Vec<T>,
    /// Those that were not pending (or whose lease was not the current one): nothing happened.
    pub not_pending: Vec<T>,
}

impl<T: Copy + Eq + std::hash::Hash> Settled<T> {
    /// Splits what was asked by whether the store settled its seq (each seq is named at most
    /// once, see `nack`).
    fn split(asked: Vec<T>, done: &[Seq], seq: impl Fn(&T) -> Seq) -> Settled<T> {
        let done: std::collections::HashSet<Seq> = done.iter().copied().collect();
        let mut seen = std::collections::HashSet::with_capacity(asked.len());
        let mut settled = Settled { done: Vec::new(), not_pending: Vec::new() };
        for item in asked.into_iter().filter(|item| seen.insert(*item)) {
            if done.contains(&seq(&item)) {
                settled.done.push(item);
            } else {
                settled.not_pending.push(item);
            }
        }
        settled
    }
}

fn not_found(space: &SpaceName, name: &Segment) -> EngineError {
    StoreError::SubscriptionNotFound { space: space.to_string(), name: name.to_string() }.into()
}

fn check_lease(what: &str, lease: Duration) -> Result<(), EngineError> {
    if lease < Duration::from_millis(10) || lease > MAX_LEASE {
        return Err(EngineError::validation(format!("{what} must be between 10ms and 24h")));
    }
    Ok(())
}

fn check_seqs(seqs: &[Seq]) -> Result<(), EngineError> {
    if seqs.is_empty() || seqs.len() > 10_000 {
        return Err(EngineError::validation("seqs must name 1-10000 records"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settled_splits_in_the_order_asked_once_each() {
        let s = |v: &[u64]| v.iter().map(|n| Seq(*n)).collect::<Vec<_>>();
        // Asked, settled by the store, done, not pending.
        type Case = (&'static [u64], &'static [u64], &'static [u64], &'static [u64]);
        let table: &[Case] = &[
            (&[1, 2, 3], &[1, 2, 3], &[1, 2, 3], &[]),
            (&[3, 1, 2], &[1, 3], &[3, 1], &[2]),
            (&[7, 7, 5], &[5], &[5], &[7]),
            (&[9], &[], &[], &[9]),
        ];
        for (asked, store, done, not_pending) in table {
            let settled = Settled::split(s(asked), &s(store), |seq| *seq);
            assert_eq!(settled, Settled { done: s(done), not_pending: s(not_pending) }, "{asked:?}");
        }
        let leases = Settled::split(vec![(Seq(4), 2), (Seq(6), 1)], &[Seq(6)], |(seq, _)| *seq);
        assert_eq!(leases, Settled { done: vec![(Seq(6), 1)], not_pending: vec![(Seq(4), 2)] });
    }
}
