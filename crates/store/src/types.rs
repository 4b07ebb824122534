//! The operations the store applies and what each did.
//!
//! Each op is a struct of its own, defined beside its command (`commands::*`) and named by one
//! [`WriteOp`] variant; what it did comes back as a [`WriteOutcome`]. Its [`Request`] impl names
//! the one outcome variant that answers it, which is what lets `StoreExt::execute` return a
//! typed value instead of an enum every caller has to match. The records ops carry and report
//! are the model's (`switchyard_model`).

use switchyard_model::jobs::JobRecord;
use switchyard_model::log::Seq;
use switchyard_model::streams::Delivery;

use crate::commands::access::{
    BootstrapAdminToken, CreateGrant, CreateOrg, CreatePrincipal, CreateToken, DeleteGrant, DeleteOrg, DeletePrincipal,
    DeleteRole, PutRole, RecordSignIn, RevokeToken, SetPassword,
};
use crate::commands::endpoints::{
    ConfirmEndpointConsumer, DeleteEndpoint, EndpointPut, PutEndpoint, SetEndpointDisabled,
};
use crate::commands::env::{DeleteSpaceValue, PutSpaceValue, SpaceValuePut};
use crate::commands::functions::{
    EnqueueInvocation, FunctionPut, InvocationEnqueued, PurgeInvocations, PutFunction, RecordInvocations,
};
use crate::commands::instances::{
    ApplyEvent, CancelInstance, CreateInstance, DeleteInstance, EventApplied, InstanceCreated, InstanceMigrated,
    MigrateInstance,
};
use crate::commands::jobs::{
    CancelJob, DeleteJob, EnqueueJob, ExtendJobLeases, FinishJob, JobEnqueued, JobFinished, JobsLeased, LeaseJobs,
    PurgeJobs, RedriveJobs, ReleaseJobs, RetryJob,
};
use crate::commands::kv::{BucketPut, ExpireKv, KvDelete, KvPut, KvWritten, PutBucket};
use crate::commands::machines::{MachinePut, PutMachine};
use crate::commands::quotas::{AddMeters, SetQuota};
use crate::commands::retention::TrimLog;
use crate::commands::spaces::{DeleteSpace, SpaceDeleted};
use crate::commands::subscriptions::{
    Ack, DeleteSubscription, DiscardDeadLetters, Nack, Pull, PutSubscription, RedriveDeadLetters, SubscriptionPut,
};
use crate::commands::system::{HeartbeatNode, PurgeIdempotency, RemoveNode, RenewNode};
use crate::commands::topics::{Publish, Published};
use crate::commands::triggers::{
    AdvanceSchedule, DeleteTrigger, PauseTrigger, PutTrigger, RecordExecution, TriggerPut,
};
use crate::error::StoreError;

/// A write the store applies atomically: one op (each op's struct says what it does).
#[derive(Debug, Clone)]
pub enum WriteOp {
    /// Stores a machine definition as its next version (see [`PutMachine`]).
    PutMachine(PutMachine),
    /// Creates an instance (see [`CreateInstance`]).
    CreateInstance(CreateInstance),
    /// Applies an event to an instance (see [`ApplyEvent`]).
    ApplyEvent(ApplyEvent),
    /// Soft-deletes an instance (see [`DeleteInstance`]).
    DeleteInstance(DeleteInstance),
    /// Cancels an instance and its pending work (see [`CancelInstance`]).
    CancelInstance(CancelInstance),
    /// Moves an instance to another version of its machine (see [`MigrateInstance`]).
    MigrateInstance(MigrateInstance),
    /// Stores a new token (see [`CreateToken`]).
    CreateToken(CreateToken),
    /// Stores the first admin token (see [`BootstrapAdminToken`]).
    BootstrapAdminToken(BootstrapAdminToken),
    /// Revokes a token (see [`RevokeToken`]).
    RevokeToken(RevokeToken),
    /// Creates a user or service account (see [`CreatePrincipal`]).
    CreatePrincipal(CreatePrincipal),
    /// Deletes a user or service account (see [`DeletePrincipal`]).
    DeletePrincipal(DeletePrincipal),
    /// Creates an org (see [`CreateOrg`]).
    CreateOrg(CreateOrg),
    /// Deletes an org (see [`DeleteOrg`]).
    DeleteOrg(DeleteOrg),
    /// Records a sign-in attempt (see [`RecordSignIn`]).
    RecordSignIn(RecordSignIn),
    /// Replaces a user's password (see [`SetPassword`]).
    SetPassword(SetPassword),
    /// Grants a role on a pattern (see [`CreateGrant`]).
    CreateGrant(CreateGrant),
    /// Deletes a grant (see [`DeleteGrant`]).
    DeleteGrant(DeleteGrant),
    /// Stores a custom role (see [`PutRole`]).
    PutRole(PutRole),
    /// Deletes a custom role (see [`DeleteRole`]).
    DeleteRole(DeleteRole),
    /// Sets or removes a space's quota (see [`SetQuota`]).
    SetQuota(SetQuota),
    /// Adds a node's counts to spaces' meters (see [`AddMeters`]).
    AddMeters(AddMeters),
    /// Publishes a message to a topic (see [`Publish`]).
    Publish(Publish),
    /// Registers a node or renews its heartbeat (see [`HeartbeatNode`]).
    HeartbeatNode(HeartbeatNode),
    /// Renews the heartbeat of a registered node (see [`RenewNode`]).
    RenewNode(RenewNode),
    /// Removes a node (see [`RemoveNode`]).
    RemoveNode(RemoveNode),
    /// Creates a KV bucket or changes its history (see [`PutBucket`]).
    PutBucket(PutBucket),
    /// Writes a KV key (see [`KvPut`]).
    KvPut(KvPut),
    /// Deletes a KV key (see [`KvDelete`]).
    KvDelete(KvDelete),
    /// Deletes KV keys whose TTL ended (see [`ExpireKv`]).
    ExpireKv(ExpireKv),
    /// Creates or updates a durable subscription (see [`PutSubscription`]).
    PutSubscription(PutSubscription),
    /// Deletes a durable subscription (see [`DeleteSubscription`]).
    DeleteSubscription(DeleteSubscription),
    /// Leases records of a subscription to a consumer (see [`Pull`]).
    Pull(Pull),
    /// Acknowledges pending records (see [`Ack`]).
    Ack(Ack),
    /// Ends leases of pending records (see [`Nack`]).
    Nack(Nack),
    /// Makes dead letters pending again (see [`RedriveDeadLetters`]).
    RedriveDeadLetters(RedriveDeadLetters),
    /// Forgets dead letters (see [`DiscardDeadLetters`]).
    DiscardDeadLetters(DiscardDeadLetters),
    /// Removes the oldest log records as retention allows (see [`TrimLog`]).
    TrimLog(TrimLog),
    /// Stores a function version (see [`PutFunction`]).
    PutFunction(PutFunction),
    /// Inserts finished invocation records (see [`RecordInvocations`]).
    RecordInvocations(RecordInvocations),
    /// Enqueues an asynchronous invocation with its job (see [`EnqueueInvocation`]).
    EnqueueInvocation(EnqueueInvocation),
    /// Forgets finished invocation records (see [`PurgeInvocations`]).
    PurgeInvocations(PurgeInvocations),
    /// Deletes a space and everything in it (see [`DeleteSpace`]).
    DeleteSpace(DeleteSpace),
    /// Forgets old idempotency records (see [`PurgeIdempotency`]).
    PurgeIdempotency(PurgeIdempotency),
    /// Enqueues a job (see [`EnqueueJob`]).
    EnqueueJob(EnqueueJob),
    /// Leases due jobs to a worker (see [`LeaseJobs`]).
    LeaseJobs(LeaseJobs),
    /// Extends the leases a worker holds (see [`ExtendJobLeases`]).
    ExtendJobLeases(ExtendJobLeases),
    /// Gives up the leases a worker holds (see [`ReleaseJobs`]).
    ReleaseJobs(ReleaseJobs),
    /// Ends a job's attempt (see [`FinishJob`]).
    FinishJob(FinishJob),
    /// Re-drives a dead or cancelled job (see [`RetryJob`]).
    RetryJob(RetryJob),
    /// Re-drives dead jobs of a space (see [`RedriveJobs`]).
    RedriveJobs(RedriveJobs),
    /// Cancels a job (see [`CancelJob`]).
    CancelJob(CancelJob),
    /// Deletes a job (see [`DeleteJob`]).
    DeleteJob(DeleteJob),
    /// Forgets finished jobs (see [`PurgeJobs`]).
    PurgeJobs(PurgeJobs),
    /// Sets a space's `env` value or secret (see [`PutSpaceValue`]).
    PutSpaceValue(PutSpaceValue),
    /// Puts a trigger's version (see [`PutTrigger`]).
    PutTrigger(PutTrigger),
    /// Pauses or resumes a trigger (see [`PauseTrigger`]).
    PauseTrigger(PauseTrigger),
    /// Deletes a trigger (see [`DeleteTrigger`]).
    DeleteTrigger(DeleteTrigger),
    /// Moves a schedule on to its next fire time (see [`AdvanceSchedule`]).
    AdvanceSchedule(AdvanceSchedule),
    /// Records an event-pattern trigger's execution (see [`RecordExecution`]).
    RecordExecution(RecordExecution),
    /// Puts an outbound webhook endpoint's version (see [`PutEndpoint`]).
    PutEndpoint(PutEndpoint),
    /// Disables or enables an endpoint (see [`SetEndpointDisabled`]).
    SetEndpointDisabled(SetEndpointDisabled),
    /// Deletes an endpoint (see [`DeleteEndpoint`]).
    DeleteEndpoint(DeleteEndpoint),
    /// Checks a consumer is still its endpoint's (see [`ConfirmEndpointConsumer`]).
    ConfirmEndpointConsumer(ConfirmEndpointConsumer),
    /// Deletes a space's `env` value or secret (see [`DeleteSpaceValue`]).
    DeleteSpaceValue(DeleteSpaceValue),
}

/// What a [`WriteOp`] did: for each op, the one variant its [`Request`] impl names.
// `InvocationEnqueued` carries a whole record and is the largest variant by far; an outcome is
// built once per write and moved a few times, so boxing it would only burden every match.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum WriteOutcome {
    /// A machine definition is stored (see [`MachinePut`]).
    MachinePut(MachinePut),
    /// An instance exists (see [`InstanceCreated`]).
    InstanceCreated(InstanceCreated),
    /// An event was applied (see [`EventApplied`]).
    EventApplied(EventApplied),
    /// The instance was deleted.
    InstanceDeleted,
    /// The instance was cancelled.
    InstanceCancelled,
    /// The instance was moved to another version (see [`InstanceMigrated`]).
    InstanceMigrated(InstanceMigrated),
    /// A token was stored (`false` from a bootstrap that had happened before).
    TokenCreated(bool),
    /// A token was revoked.
    TokenRevoked,
    /// A principal was created.
    PrincipalCreated,
    /// A principal was deleted; its tokens' ids, revoked.
    PrincipalDeleted(Vec<String>),
    /// A sign-in was recorded (see [`SignInOutcome`]).
    SignInRecorded(crate::commands::access::SignInOutcome),
    /// A password was replaced; the sessions revoked.
    PasswordSet(Vec<String>),
    /// A grant was made.
    GrantCreated,
    /// A grant was deleted (as it was).
    GrantDeleted(switchyard_model::GrantRecord),
    /// A custom role was stored; whether it was new.
    RolePut(bool),
    /// A custom role was deleted.
    RoleDeleted,
    /// An org was created.
    OrgCreated,
    /// An org was deleted; the ids of the grants on its projects deleted with it.
    OrgDeleted(Vec<String>),
    /// A quota was set or removed; whether anything changed.
    QuotaSet(bool),
    /// Meters were added to.
    MetersAdded,
    /// This many idempotency records were forgotten.
    IdempotencyPurged(u64),
    /// A node's registration was written or removed.
    NodeRecorded,
    /// A bucket was created or its history changed (see [`BucketPut`]).
    BucketPut(BucketPut),
    /// A KV key was written or deleted (see [`KvWritten`]).
    KvWritten(KvWritten),
    /// This many expired KV keys were deleted.
    KvExpired(u64),
    /// A subscription was created or its settings updated (see [`SubscriptionPut`]).
    SubscriptionPut(SubscriptionPut),
    /// A subscription was deleted.
    SubscriptionDeleted,
    /// The records a pull leased, by seq.
    Pulled(Vec<Delivery>),
    /// This many dead letters were redriven or discarded (seqs that were not dead are not
    /// counted).
    SubscriptionUpdated(u64),
    /// The records an ack acknowledged, or whose leases a nack ended, by seq (ascending): the
    /// seqs named that were not pending (or whose lease was not the one named) are left out.
    Settled(Vec<Seq>),
    /// This many log records were trimmed.
    LogTrimmed(u64),
    /// A function version was stored, or the latest equalled the deploy (see [`FunctionPut`]).
    FunctionPut(FunctionPut),
    /// This many invocation records were inserted.
    InvocationsRecorded(u64),
    /// An asynchronous invocation is pending (see [`InvocationEnqueued`]).
    InvocationEnqueued(InvocationEnqueued),
    /// This many invocation records were forgotten.
    InvocationsPurged(u64),
    /// A message was published (see [`Published`]).
    Published(Published),
    /// A space and everything in it were deleted (see [`SpaceDeleted`]).
    SpaceDeleted(SpaceDeleted),
    /// A job is enqueued (see [`JobEnqueued`]).
    JobEnqueued(JobEnqueued),
    /// The jobs a worker leased.
    JobsLeased(JobsLeased),
    /// This many leases were extended.
    JobLeasesExtended(u64),
    /// What ending an attempt did.
    JobFinished(JobFinished),
    /// A job was re-driven or cancelled: the record as it now is.
    JobChanged(Box<JobRecord>),
    /// A job was deleted.
    JobDeleted,
    /// This many jobs were re-driven.
    JobsRedriven(u64),
    /// This many finished jobs were forgotten.
    JobsPurged(u64),
    /// This many leases were given up.
    JobsReleased(u64),
    /// A space's `env` value or secret was set (see [`SpaceValuePut`]).
    SpaceValuePut(SpaceValuePut),
    /// A trigger was put (see [`TriggerPut`]).
    TriggerPut(TriggerPut),
    /// A trigger was paused or resumed: it as stored now.
    TriggerChanged(Box<switchyard_model::TriggerRecord>),
    /// A trigger was deleted.
    TriggerDeleted,
    /// Whether a schedule moved on.
    ScheduleAdvanced(bool),
    /// Whether an execution was recorded (not a repeat).
    ExecutionRecorded(bool),
    /// An endpoint was put (see [`EndpointPut`]).
    EndpointPut(EndpointPut),
    /// An endpoint was disabled or enabled: it as stored now.
    EndpointChanged(Box<switchyard_model::EndpointRecord>),
    /// An endpoint was deleted.
    EndpointDeleted,
    /// A space's `env` value or secret was deleted.
    SpaceValueDeleted,
}

/// An op and its typed answer: the [`WriteOutcome`] variant that answers it, unwrapped.
/// `StoreExt::execute` returns [`Request::Output`]; an atomic batch still answers with
/// outcomes, which [`Request::output`] reads.
pub trait Request: Into<WriteOp> {
    /// What the op answers with.
    type Output;

    /// The answer `outcome` carries; an outcome of another op (a bug in the store, never a
    /// refusal) is [`StoreError::Internal`].
    fn output(outcome: WriteOutcome) -> Result<Self::Output, StoreError>;

    /// The outcome that carries `output`.
    fn outcome(output: Self::Output) -> WriteOutcome;
}

/// The error for an outcome that is not the one `R` is answered with.
pub(crate) fn mismatched<R>(outcome: &WriteOutcome) -> StoreError {
    let op = std::any::type_name::<R>().rsplit("::").next().unwrap_or("an op");
    // Only the variant's name: the payload may be large, and this path is never taken unless
    // the store has a bug.
    let debug = format!("{outcome:?}");
    let variant = debug.split(['(', ' ', '{']).next().unwrap_or("?");
    StoreError::Internal(format!(
        "the store answered {op} with the outcome of another op ({variant}); the write may have been applied"
    ))
}

impl WriteOutcome {
    /// Whether the write created its space: the space had no row in `spaces` (it never
    /// existed, or it was deleted) and this write made it exist. Only writes that can bring a
    /// space into being report it: a new machine version, KV bucket, function version or
    /// subscription, a published message and an enqueued job.
    pub fn space_created(&self) -> bool {
        match self {
            WriteOutcome::MachinePut(MachinePut { space_created, .. })
            | WriteOutcome::BucketPut(BucketPut { space_created, .. })
            | WriteOutcome::KvWritten(KvWritten { space_created, .. })
            | WriteOutcome::SubscriptionPut(SubscriptionPut { space_created, .. })
            | WriteOutcome::FunctionPut(FunctionPut { space_created, .. })
            | WriteOutcome::Published(Published { space_created, .. })
            | WriteOutcome::JobEnqueued(JobEnqueued { space_created, .. })
            | WriteOutcome::SpaceValuePut(SpaceValuePut { space_created, .. })
            | WriteOutcome::TriggerPut(TriggerPut { space_created, .. })
            | WriteOutcome::EndpointPut(EndpointPut { space_created, .. }) => *space_created,
            WriteOutcome::InstanceCreated(_)
            | WriteOutcome::EventApplied(_)
            | WriteOutcome::InstanceDeleted
            | WriteOutcome::InstanceCancelled
            | WriteOutcome::InstanceMigrated(_)
            | WriteOutcome::TokenCreated(_)
            | WriteOutcome::TokenRevoked
            | WriteOutcome::PrincipalCreated
            | WriteOutcome::PrincipalDeleted(_)
            | WriteOutcome::SignInRecorded(_)
            | WriteOutcome::PasswordSet(_)
            | WriteOutcome::GrantCreated
            | WriteOutcome::GrantDeleted(_)
            | WriteOutcome::RolePut(_)
            | WriteOutcome::RoleDeleted
            | WriteOutcome::OrgCreated
            | WriteOutcome::OrgDeleted(_)
            | WriteOutcome::QuotaSet(_)
            | WriteOutcome::MetersAdded
            | WriteOutcome::IdempotencyPurged(_)
            | WriteOutcome::NodeRecorded
            | WriteOutcome::KvExpired(_)
            | WriteOutcome::SubscriptionDeleted
            | WriteOutcome::Pulled(_)
            | WriteOutcome::SubscriptionUpdated(_)
            | WriteOutcome::Settled(_)
            | WriteOutcome::LogTrimmed(_)
            | WriteOutcome::InvocationsRecorded(_)
            | WriteOutcome::InvocationEnqueued(_)
            | WriteOutcome::InvocationsPurged(_)
            | WriteOutcome::SpaceDeleted(_)
            | WriteOutcome::JobsLeased(_)
            | WriteOutcome::JobLeasesExtended(_)
            | WriteOutcome::JobFinished(_)
            | WriteOutcome::JobChanged(_)
            | WriteOutcome::JobDeleted
            | WriteOutcome::JobsRedriven(_)
            | WriteOutcome::JobsPurged(_)
            | WriteOutcome::SpaceValueDeleted
            | WriteOutcome::TriggerChanged(_)
            | WriteOutcome::TriggerDeleted
            | WriteOutcome::ScheduleAdvanced(_)
            | WriteOutcome::ExecutionRecorded(_)
            | WriteOutcome::EndpointChanged(_)
            | WriteOutcome::EndpointDeleted
            | WriteOutcome::JobsReleased(_) => false,
        }
    }

    /// Records that the write created its space (learnt when the group's `spaces` rows are
    /// written); outcomes that cannot create a space ignore it.
    pub(crate) fn set_space_created(&mut self) {
        match self {
            WriteOutcome::MachinePut(MachinePut { space_created, .. })
            | WriteOutcome::BucketPut(BucketPut { space_created, .. })
            | WriteOutcome::KvWritten(KvWritten { space_created, .. })
            | WriteOutcome::SubscriptionPut(SubscriptionPut { space_created, .. })
            | WriteOutcome::FunctionPut(FunctionPut { space_created, .. })
            | WriteOutcome::Published(Published { space_created, .. })
            | WriteOutcome::JobEnqueued(JobEnqueued { space_created, .. })
            | WriteOutcome::SpaceValuePut(SpaceValuePut { space_created, .. })
            | WriteOutcome::TriggerPut(TriggerPut { space_created, .. })
            | WriteOutcome::EndpointPut(EndpointPut { space_created, .. }) => *space_created = true,
            WriteOutcome::InstanceCreated(_)
            | WriteOutcome::EventApplied(_)
            | WriteOutcome::InstanceDeleted
            | WriteOutcome::InstanceCancelled
            | WriteOutcome::InstanceMigrated(_)
            | WriteOutcome::TokenCreated(_)
            | WriteOutcome::TokenRevoked
            | WriteOutcome::PrincipalCreated
            | WriteOutcome::PrincipalDeleted(_)
            | WriteOutcome::SignInRecorded(_)
            | WriteOutcome::PasswordSet(_)
            | WriteOutcome::GrantCreated
            | WriteOutcome::GrantDeleted(_)
            | WriteOutcome::RolePut(_)
            | WriteOutcome::RoleDeleted
            | WriteOutcome::OrgCreated
            | WriteOutcome::OrgDeleted(_)
            | WriteOutcome::QuotaSet(_)
            | WriteOutcome::MetersAdded
            | WriteOutcome::IdempotencyPurged(_)
            | WriteOutcome::NodeRecorded
            | WriteOutcome::KvExpired(_)
            | WriteOutcome::SubscriptionDeleted
            | WriteOutcome::Pulled(_)
            | WriteOutcome::SubscriptionUpdated(_)
            | WriteOutcome::Settled(_)
            | WriteOutcome::LogTrimmed(_)
            | WriteOutcome::InvocationsRecorded(_)
            | WriteOutcome::InvocationEnqueued(_)
            | WriteOutcome::InvocationsPurged(_)
            | WriteOutcome::SpaceDeleted(_)
            | WriteOutcome::JobsLeased(_)
            | WriteOutcome::JobLeasesExtended(_)
            | WriteOutcome::JobFinished(_)
            | WriteOutcome::JobChanged(_)
            | WriteOutcome::JobDeleted
            | WriteOutcome::JobsRedriven(_)
            | WriteOutcome::JobsPurged(_)
            | WriteOutcome::SpaceValueDeleted
            | WriteOutcome::TriggerChanged(_)
            | WriteOutcome::TriggerDeleted
            | WriteOutcome::ScheduleAdvanced(_)
            | WriteOutcome::ExecutionRecorded(_)
            | WriteOutcome::EndpointChanged(_)
            | WriteOutcome::EndpointDeleted
            | WriteOutcome::JobsReleased(_) => {}
        }
    }

    /// Records the seq of the log record this outcome reports (learnt when the group's records
    /// are numbered); outcomes that report none ignore it.
    pub(crate) fn set_seq(&mut self, seq: Seq) {
        match self {
            WriteOutcome::EventApplied(o) => o.applied.seq = seq,
            WriteOutcome::Published(Published { seq: at, .. })
            | WriteOutcome::KvWritten(KvWritten { seq: at, .. })
            | WriteOutcome::SpaceDeleted(SpaceDeleted { seq: at, .. }) => *at = seq,
            WriteOutcome::MachinePut(_)
            | WriteOutcome::InstanceCreated(_)
            | WriteOutcome::InstanceDeleted
            | WriteOutcome::InstanceCancelled
            | WriteOutcome::InstanceMigrated(_)
            | WriteOutcome::TokenCreated(_)
            | WriteOutcome::TokenRevoked
            | WriteOutcome::PrincipalCreated
            | WriteOutcome::PrincipalDeleted(_)
            | WriteOutcome::SignInRecorded(_)
            | WriteOutcome::PasswordSet(_)
            | WriteOutcome::GrantCreated
            | WriteOutcome::GrantDeleted(_)
            | WriteOutcome::RolePut(_)
            | WriteOutcome::RoleDeleted
            | WriteOutcome::OrgCreated
            | WriteOutcome::OrgDeleted(_)
            | WriteOutcome::QuotaSet(_)
            | WriteOutcome::MetersAdded
            | WriteOutcome::IdempotencyPurged(_)
            | WriteOutcome::NodeRecorded
            | WriteOutcome::BucketPut(_)
            | WriteOutcome::KvExpired(_)
            | WriteOutcome::SubscriptionPut(_)
            | WriteOutcome::SubscriptionDeleted
            | WriteOutcome::Pulled(_)
            | WriteOutcome::SubscriptionUpdated(_)
            | WriteOutcome::Settled(_)
            | WriteOutcome::LogTrimmed(_)
            | WriteOutcome::FunctionPut(_)
            | WriteOutcome::InvocationsRecorded(_)
            | WriteOutcome::InvocationEnqueued(_)
            | WriteOutcome::InvocationsPurged(_)
            | WriteOutcome::JobEnqueued(_)
            | WriteOutcome::JobsLeased(_)
            | WriteOutcome::JobLeasesExtended(_)
            | WriteOutcome::JobFinished(_)
            | WriteOutcome::JobChanged(_)
            | WriteOutcome::JobDeleted
            | WriteOutcome::JobsRedriven(_)
            | WriteOutcome::JobsPurged(_)
            | WriteOutcome::SpaceValuePut(_)
            | WriteOutcome::SpaceValueDeleted
            | WriteOutcome::TriggerPut(_)
            | WriteOutcome::EndpointPut(_)
            | WriteOutcome::TriggerChanged(_)
            | WriteOutcome::TriggerDeleted
            | WriteOutcome::ScheduleAdvanced(_)
            | WriteOutcome::ExecutionRecorded(_)
            | WriteOutcome::EndpointChanged(_)
            | WriteOutcome::EndpointDeleted
            | WriteOutcome::JobsReleased(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use switchyard_model::MachineVersion;

    use super::*;

    #[test]
    fn an_op_reads_back_the_outcome_it_is_answered_with() {
        let put = MachinePut { version: MachineVersion::FIRST, created: true, space_created: false };
        assert_eq!(PutMachine::output(PutMachine::outcome(put.clone())).unwrap(), put);
        assert_eq!(PurgeJobs::output(WriteOutcome::JobsPurged(7)).unwrap(), 7);
        DeleteJob::output(DeleteJob::outcome(())).unwrap();
    }

    #[test]
    fn an_outcome_of_another_op_is_an_internal_error_naming_the_op() {
        match PutMachine::output(WriteOutcome::Pulled(Vec::new())) {
            Err(StoreError::Internal(message)) => {
                assert!(message.contains("PutMachine") && message.contains("Pulled"), "{message}");
            }
            other => panic!("expected an internal error, got {other:?}"),
        }
        assert!(matches!(DeleteJob::output(WriteOutcome::TokenRevoked), Err(StoreError::Internal(_))));
    }
}
