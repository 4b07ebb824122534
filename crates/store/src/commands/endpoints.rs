//! Outbound webhook endpoints: putting a version, disabling and enabling, deleting.
//!
//! An endpoint's work is jobs of kind `delivery` (target `space:endpoints:name`): one consumer
//! that reads the log through the endpoint's subscription and enqueues a delivery per matching
//! record (`EnqueueJob`, keyed by the record), and the deliveries themselves, leased, retried,
//! re-driven and kept like any work.
//!
//! Invariants:
//! - An enabled endpoint has exactly one consumer that is not finished, its `consumer_job`:
//!   putting a new version cancels the old one and enqueues the new one in the same
//!   transaction; disabling cancels it and enabling enqueues a new one. A consumer that is no
//!   longer the endpoint's stops at its next read.
//! - Putting a definition equal to the current one changes nothing (no version, no record),
//!   except that an enabled endpoint whose consumer finished (it gave up) gets a new one.
//! - Every version, disabling, enabling and deletion appends one record at
//!   `space:endpoints:name`.
//! - On PostgreSQL every write of an endpoint holds the lock `endpoint:{space}:{name}`.

use serde_json::{Value as Json, json};
use switchyard_model::{EndpointRecord, JobSpec, Segment, SpaceName, endpoint_address, kinds};

use super::jobs::{cancel_job_row, insert_job};
use super::{Command, Cx, Locking};
use crate::error::StoreError;
use crate::tables::{Locks, Tables, TxResult};

/// Puts an endpoint's definition: a new version unless it equals the current one; appends
/// `endpoint.put`. The consumer is replaced by `consumer` (unless the endpoint is disabled).
#[derive(Debug, Clone, PartialEq)]
pub struct PutEndpoint {
    /// The space.
    pub space: SpaceName,
    /// The name.
    pub name: Segment,
    /// The definition, normalised.
    pub definition: Json,
    /// The consumer of this version.
    pub consumer: JobSpec,
}

/// An endpoint was put.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointPut {
    /// The endpoint as stored now.
    pub endpoint: Box<EndpointRecord>,
    /// Whether it is new.
    pub created: bool,
    /// Whether this is a new version (`false`: the definition was the current one).
    pub changed: bool,
    /// Whether this write created the space.
    pub space_created: bool,
}

request!(PutEndpoint => EndpointPut(EndpointPut));

/// Disables an endpoint (`disabled` names why) or enables it (`None`); appends
/// `endpoint.disabled` or `endpoint.enabled` when that changes it. Disabling cancels its
/// consumer; enabling enqueues `consumer`.
#[derive(Debug, Clone, PartialEq)]
pub struct SetEndpointDisabled {
    /// The space.
    pub space: SpaceName,
    /// The name.
    pub name: Segment,
    /// Why it is disabled; `None` to enable it.
    pub disabled: Option<String>,
    /// The consumer once enabled.
    pub consumer: Option<JobSpec>,
    /// Only if the endpoint is still at this version and last changed then (what a delivery
    /// that was answered `410` had loaded): a `410` from an older version's URL, or one that
    /// arrives after a person enabled the endpoint again, changes nothing.
    pub unless_changed_since: Option<(u64, switchyard_model::Timestamp)>,
}

request!(SetEndpointDisabled => EndpointChanged(Box<EndpointRecord>));

/// Deletes an endpoint (`EndpointNotFound` when there is none) and cancels its consumer;
/// appends `endpoint.deleted`. Its deliveries stay until they are purged.
#[derive(Debug, Clone, PartialEq)]
pub struct DeleteEndpoint {
    /// The space.
    pub space: SpaceName,
    /// The name.
    pub name: Segment,
}

request!(DeleteEndpoint => EndpointDeleted);

/// Holds an endpoint's lock and checks that `consumer` is still its consumer (enabled, same
/// version), failing with `JobConflict` otherwise. A consumer writes it first in the atomic
/// batch that enqueues its deliveries and acknowledges their records, so a batch commits either
/// before a disabling, a new version or a deletion, or not at all.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfirmEndpointConsumer {
    /// The space.
    pub space: SpaceName,
    /// The name.
    pub name: Segment,
    /// The consumer job.
    pub consumer: String,
}

request!(ConfirmEndpointConsumer => EndpointChanged(Box<EndpointRecord>));

impl Locking for ConfirmEndpointConsumer {
    fn locks<'a>(&'a self, locks: &mut Locks<'a>) {
        lock(locks, &self.space, &self.name);
    }
}

impl Command for ConfirmEndpointConsumer {
    async fn apply<T: Tables>(&self, tx: &mut T, _cx: &mut Cx<'_>) -> TxResult<Self::Output> {
        let Some(endpoint) = tx.endpoint_for_update(self.space.as_ref(), self.name.as_ref()).await? else {
            return Err(not_found(&self.space, &self.name).into());
        };
        if endpoint.disabled.is_some() || endpoint.consumer_job.as_deref() != Some(self.consumer.as_str()) {
            return Err(StoreError::JobConflict {
                id: self.consumer.clone(),
                status: "superseded".into(),
                reason: format!("it is no longer the consumer of endpoint {}:{}", self.space, self.name),
            }
            .into());
        }
        Ok(Box::new(endpoint))
    }
}

fn lock<'a>(locks: &mut Locks<'a>, space: &SpaceName, name: &Segment) {
    locks.writes_into(space.as_ref());
    locks.exclusive(format!("endpoint:{space}:{name}"));
}

/// Whether an endpoint's consumer job exists and has not finished.
async fn consumer_alive<T: Tables>(tx: &mut T, endpoint: &EndpointRecord) -> TxResult<bool> {
    let Some(id) = &endpoint.consumer_job else { return Ok(false) };
    Ok(tx.job_for_update(endpoint.space.as_ref(), id).await?.is_some_and(|job| !job.status.is_terminal()))
}

/// Cancels an endpoint's consumer, if it has not finished.
async fn cancel_consumer<T: Tables>(tx: &mut T, cx: &mut Cx<'_>, endpoint: &EndpointRecord) -> TxResult<()> {
    let Some(id) = &endpoint.consumer_job else { return Ok(()) };
    if let Some(mut job) = tx.job_for_update(endpoint.space.as_ref(), id).await?
        && !job.status.is_terminal()
    {
        cancel_job_row(tx, cx, &mut job).await?;
    }
    Ok(())
}

impl Locking for PutEndpoint {
    fn locks<'a>(&'a self, locks: &mut Locks<'a>) {
        lock(locks, &self.space, &self.name);
    }
}

impl Command for PutEndpoint {
    async fn apply<T: Tables>(&self, tx: &mut T, cx: &mut Cx<'_>) -> TxResult<Self::Output> {
        let existing = tx.endpoint_for_update(self.space.as_ref(), self.name.as_ref()).await?;
        if let Some(current) = &existing
            && current.definition == self.definition
        {
            let mut endpoint = current.clone();
            // Unchanged, but a consumer that gave up (dead) or is gone is started again: putting
            // the endpoint is how a person gets it reading again.
            if endpoint.disabled.is_none() && !consumer_alive(tx, &endpoint).await? {
                endpoint.consumer_job = Some(insert_job(tx, cx, &self.consumer).await?.id);
                endpoint.updated_at = cx.now;
                tx.upsert_endpoint(&endpoint).await?;
            }
            let endpoint = Box::new(endpoint);
            return Ok(EndpointPut { endpoint, created: false, changed: false, space_created: false });
        }
        let mut endpoint = match existing.clone() {
            Some(mut e) => {
                e.version += 1;
                e.definition = self.definition.clone();
                e.updated_at = cx.now;
                e
            }
            None => EndpointRecord {
                space: self.space.clone(),
                name: self.name.clone(),
                version: 1,
                definition: self.definition.clone(),
                disabled: None,
                consumer_job: None,
                created_at: cx.now,
                updated_at: cx.now,
            },
        };
        if let Some(old) = &existing {
            cancel_consumer(tx, cx, old).await?;
        }
        endpoint.consumer_job = match endpoint.disabled {
            None => Some(insert_job(tx, cx, &self.consumer).await?.id),
            Some(_) => None,
        };
        tx.upsert_endpoint(&endpoint).await?;
        cx.touch_space(self.space.as_ref());
        let record = json!({ "name": endpoint.name, "version": endpoint.version, "definition": endpoint.definition });
        let address = endpoint_address(self.space.as_ref(), self.name.as_ref());
        cx.append(tx, self.space.as_ref(), kinds::ENDPOINT_PUT, address, &record, None, false).await?;
        Ok(EndpointPut {
            endpoint: Box::new(endpoint),
            created: existing.is_none(),
            changed: true,
            space_created: false,
        })
    }
}

impl Locking for SetEndpointDisabled {
    fn locks<'a>(&'a self, locks: &mut Locks<'a>) {
        lock(locks, &self.space, &self.name);
    }
}

impl Command for SetEndpointDisabled {
    async fn apply<T: Tables>(&self, tx: &mut T, cx: &mut Cx<'_>) -> TxResult<Self::Output> {
        let Some(mut endpoint) = tx.endpoint_for_update(self.space.as_ref(), self.name.as_ref()).await? else {
            return Err(not_found(&self.space, &self.name).into());
        };
        if endpoint.disabled.is_some() == self.disabled.is_some() {
            return Ok(Box::new(endpoint));
        }
        if let Some(seen) = self.unless_changed_since
            && seen != (endpoint.version, endpoint.updated_at)
        {
            return Ok(Box::new(endpoint));
        }
        if self.disabled.is_some() {
            cancel_consumer(tx, cx, &endpoint).await?;
            endpoint.consumer_job = None;
        } else if let Some(spec) = &self.consumer {
            endpoint.consumer_job = Some(insert_job(tx, cx, spec).await?.id);
        }
        endpoint.disabled = self.disabled.clone();
        endpoint.updated_at = cx.now;
        tx.upsert_endpoint(&endpoint).await?;
        let (kind, record) = match &self.disabled {
            Some(reason) => (kinds::ENDPOINT_DISABLED, json!({ "name": endpoint.name, "reason": reason })),
            None => (kinds::ENDPOINT_ENABLED, json!({ "name": endpoint.name })),
        };
        let address = endpoint_address(self.space.as_ref(), self.name.as_ref());
        cx.append(tx, self.space.as_ref(), kind, address, &record, None, false).await?;
        Ok(Box::new(endpoint))
    }
}

impl Locking for DeleteEndpoint {
    fn locks<'a>(&'a self, locks: &mut Locks<'a>) {
        lock(locks, &self.space, &self.name);
    }
}

impl Command for DeleteEndpoint {
    async fn apply<T: Tables>(&self, tx: &mut T, cx: &mut Cx<'_>) -> TxResult<Self::Output> {
        let Some(endpoint) = tx.endpoint_for_update(self.space.as_ref(), self.name.as_ref()).await? else {
            return Err(not_found(&self.space, &self.name).into());
        };
        cancel_consumer(tx, cx, &endpoint).await?;
        tx.delete_endpoint(self.space.as_ref(), self.name.as_ref()).await?;
        let record = json!({ "name": endpoint.name, "version": endpoint.version });
        let address = endpoint_address(self.space.as_ref(), self.name.as_ref());
        cx.append(tx, self.space.as_ref(), kinds::ENDPOINT_DELETED, address, &record, None, false).await?;
        Ok(())
    }
}

fn not_found(space: &SpaceName, name: &Segment) -> StoreError {
    StoreError::EndpointNotFound { space: space.to_string(), name: name.to_string() }
}
