//! Switchyard's pure domain model: addresses, machine definitions, CEL guards and assignments,
//! the transition logic, the rules of durable jobs (retries, dead letters, fair selection), and
//! the records of the product's things that the store keeps and the engine and API reason about
//! (instances, log records, tokens, KV, subscriptions, functions, jobs, spaces, nodes).
//!
//! Architecture invariants:
//! - No I/O, no async runtime, no logging, no global mutable state: every function is a pure
//!   computation over its arguments (the one process-wide value is the immutable standard CEL
//!   environment, built on first use).
//! - Values of the public types are valid by construction: an [`Address`] cannot be malformed,
//!   a [`CompiledMachine`] cannot reference an unknown state or hold an unparsed expression.
//! - Nothing panics on user input; every refusal is a typed error whose `Display` is one
//!   sentence a person can act on.
//! - [`CompiledMachine`] is `Send + Sync` and immutable: the engine shares it in an `Arc`.
//!
//! Latency-critical path: [`CompiledMachine::apply`], run on the store's single writer thread
//! for every event.

#![warn(missing_docs)]

pub mod access;
pub mod address;
pub mod auth;
pub mod definition;
pub mod endpoint;
pub mod env;
pub mod expr;
pub mod flow;
pub mod functions;
pub mod idempotency;
pub mod instances;
pub mod jobs;
pub mod json;
pub mod log;
pub mod nodes;
pub mod orgs;
pub mod quotas;
pub mod schedule;
pub mod spaces;
pub mod streams;
pub mod time;
pub mod trigger;

pub use access::{
    AccessError, Actor, AddressPattern, BUILTIN_ROLES, FREE_SIGN_IN_FAILURES, FUNCTION_DEFAULT_ROLE, FUNCTION_KV_ROLE,
    Grant, GrantRecord, GrantSet, Level, Permission, PermissionEntry, PrincipalKind, PrincipalRecord, RoleDef,
    RoleRecord, SYSTEM_SPACE, builtin_role, function_grants, permissions, sign_in_lock_ms,
};
pub use address::{Address, AddressError, NameProblem, Segment, SpaceName};
pub use auth::{Role, SpaceGrant, TokenRecord};
pub use definition::{
    CompiledMachine, ContextError, DefinitionError, DefinitionFormat, Effect, FieldError, FromStates, GuardFailure,
    Input, InstanceInfo, InvokeKind, MachineDefinition, StateSpec, States, TransitionError, TransitionOutcome,
    TransitionSpec, definition_from_json, parse_definition,
};
pub use endpoint::{DELIVERY_JOB, EndpointRecord, endpoint_address};
pub use env::{
    MAX_ENV_VALUE_BYTES, MAX_SECRET_BYTES, MAX_SPACE_VALUES, SecretHeaders, SecretTemplate, SpaceValue, SpaceValueKind,
    TemplateError, check_secret_headers, is_header_name,
};
pub use functions::{
    FUNCTION_COMPLETED, FUNCTION_DEPLOYED, FunctionRecord, FunctionSpec, FunctionSummary, INVOCATION_ABANDONED,
    INVOCATION_JOB, InvocationRecord, InvocationStatus, insert_output,
};
pub use idempotency::Idempotency;
pub use instances::{
    InstanceKey, InstanceRecord, InstanceStatus, MAX_CHILD_DEPTH, MachineRecord, MachineSummary, MachineVersion,
    ParentLink, Revision, TIMER_JOB, TransitionApplied, child_in_work, child_work_entry,
};
pub use jobs::{
    Candidate, DeadReason, FailedAttempt, FairCursor, Jitter, JobAttempt, JobError, JobRecord, JobSpec, JobStatus,
    MAX_ATTEMPT_HISTORY, RetryDecision, RetryPolicy, Selection, SpaceLimits, UnknownJobStatus, job_kinds, select_fair,
};
pub use json::JsonObject;
pub use log::{AddressFilter, LogFilter, LogRecord, Seq, kinds};
pub use nodes::NodeRecord;
pub use orgs::{OrgError, OrgName, OrgRecord, project_space, resolve_space_ref, split_project};
pub use spaces::{SpaceDeletion, SpaceRecord};
pub use streams::{
    BucketRecord, DEFAULT_KV_HISTORY, DeadLetter, Delivery, KvCondition, KvEntry, KvKeyInfo, MAX_KV_HISTORY,
    SubscriptionRecord, SubscriptionSpec,
};
pub use time::Timestamp;
pub use trigger::{TRIGGER_JOB, TriggerRecord, trigger_address};
