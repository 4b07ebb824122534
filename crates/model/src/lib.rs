//! Switchyard's pure domain model: addresses, machine definitions, CEL guards and assignments,
//! the transition logic, and the rules of durable jobs (retries, dead letters, fair selection).
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

pub mod address;
pub mod definition;
pub mod expr;
pub mod jobs;
pub mod json;

pub use address::{Address, AddressError, NameProblem, Segment, SpaceName};
pub use definition::{
    CompiledMachine, ContextError, DefinitionError, DefinitionFormat, FieldError, FromStates, GuardFailure,
    MachineDefinition, StateSpec, States, TransitionError, TransitionOutcome, TransitionSpec, definition_from_json,
    parse_definition,
};
pub use jobs::{
    Candidate, DeadReason, FailedAttempt, FairCursor, Jitter, JobStatus, RetryDecision, RetryPolicy, Selection,
    SpaceLimits, UnknownJobStatus, select_fair,
};
