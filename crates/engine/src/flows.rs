//! Flows and their runs. A flow is stored as the machine it compiles to (the machine's
//! definition keeps the flow under `flow`), so its versions are the machine's; a run is an
//! instance of that machine, started with the context `{input, vars: {}, nodes: {}}` and an id
//! that is a UUIDv7 (so ids sort by start time, and `since`/`until` are id ranges).
//!
//! Invariants this module keeps:
//! - A name is a flow or a machine, never both: putting a flow over a machine that is not one
//!   (or a machine over a flow) is refused with `conflict`.
//! - Only runs that nobody else started are listed and found as runs: the instances a run
//!   starts (a subflow) are the run's own, and show under its node.
//! - Retrying a run never changes it: it starts a new run that keeps every node record of the
//!   old one and resumes at the node that failed, so nodes that completed do not run again.

use std::time::Duration;

use serde_json::{Map, Value, json};
use switchyard_model::flow::{compile_flow, parse_flow};
use switchyard_model::{
    DefinitionFormat, InstanceRecord, InstanceStatus, MachineRecord, MachineVersion, Segment, Timestamp,
};
use switchyard_store::{ListInstances, StoreError};

use crate::{CreateInstance, Engine, EngineError, parse_segment, parse_space};

/// The longest `wait` a run's start may ask for.
pub const MAX_RUN_WAIT: Duration = Duration::from_secs(60);

/// The status of a run, from its instance's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    /// A node is working (a function, a request, a subflow).
    Running,
    /// The run waits for an event, an approval or a time.
    Waiting,
    /// It ended at a node that succeeded, or at a `succeed` node.
    Succeeded,
    /// A node failed and nothing handled it, or it reached a `fail` node.
    Failed,
    /// It was cancelled.
    Cancelled,
}

impl RunStatus {
    /// The status's name.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Waiting => "waiting",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
        }
    }

    /// Parses a status name.
    pub fn parse(text: &str) -> Option<RunStatus> {
        Some(match text {
            "running" => RunStatus::Running,
            "waiting" => RunStatus::Waiting,
            "succeeded" => RunStatus::Succeeded,
            "failed" => RunStatus::Failed,
            "cancelled" => RunStatus::Cancelled,
            _ => return None,
        })
    }

    /// The run status of an instance status.
    pub fn of(status: InstanceStatus) -> RunStatus {
        match status {
            InstanceStatus::Running => RunStatus::Running,
            // A delay rests in a state with a timer only: it waits for a time.
            InstanceStatus::Waiting | InstanceStatus::Active => RunStatus::Waiting,
            InstanceStatus::Completed => RunStatus::Succeeded,
            InstanceStatus::Failed => RunStatus::Failed,
            InstanceStatus::Cancelled => RunStatus::Cancelled,
        }
    }

    /// Whether the run has ended.
    pub fn is_terminal(self) -> bool {
        matches!(self, RunStatus::Succeeded | RunStatus::Failed | RunStatus::Cancelled)
    }

    /// The instance statuses this run status covers.
    fn instance_statuses(self) -> &'static [InstanceStatus] {
        match self {
            RunStatus::Running => &[InstanceStatus::Running],
            RunStatus::Waiting => &[InstanceStatus::Waiting, InstanceStatus::Active],
            RunStatus::Succeeded => &[InstanceStatus::Completed],
            RunStatus::Failed => &[InstanceStatus::Failed],
            RunStatus::Cancelled => &[InstanceStatus::Cancelled],
        }
    }
}

/// A flow as stored: the machine it compiled to and the flow as written (canonical form).
#[derive(Debug, Clone)]
pub struct FlowRecord {
    /// The machine version it is.
    pub machine: MachineRecord,
    /// The flow's canonical form.
    pub flow: Value,
}

/// Which runs to list.
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    /// Runs of this flow only.
    pub flow: Option<String>,
    /// Runs with this status only.
    pub status: Option<RunStatus>,
    /// Runs started at or after this time.
    pub since: Option<Timestamp>,
    /// Runs started before this time.
    pub until: Option<Timestamp>,
}

/// A page of runs, newest first.
#[derive(Debug, Clone)]
pub struct RunPage {
    /// The runs.
    pub runs: Vec<InstanceRecord>,
    /// Where the next page starts, if there may be one.
    pub next_cursor: Option<String>,
}

/// What a bulk cancel or retry did.
#[derive(Debug, Clone, Default)]
pub struct BulkOutcome {
    /// The runs it applied to (for a retry, the new runs).
    pub done: Vec<String>,
    /// The runs it could not apply to, with why.
    pub skipped: Vec<(String, String)>,
}

/// The most runs one bulk request touches.
pub const MAX_BULK_RUNS: usize = 1000;

impl Engine {
    /// Stores a flow: its compiled machine becomes a new version of the machine of that name
    /// when it differs from the latest.
    pub async fn put_flow(
        &self,
        space: &str,
        name: &str,
        body: &[u8],
        format: DefinitionFormat,
    ) -> Result<(MachineVersion, bool), EngineError> {
        let (space_name, segment, compiled) = self.compile_flow_put(space, name, body, format).await?;
        self.store_compiled_machine(space_name, segment, &compiled).await
    }

    /// Parses and compiles a flow put as `space:name`, with every check but storing.
    pub(crate) async fn compile_flow_put(
        &self,
        space: &str,
        name: &str,
        body: &[u8],
        format: DefinitionFormat,
    ) -> Result<(switchyard_model::SpaceName, Segment, switchyard_model::CompiledMachine), EngineError> {
        let space_name = parse_space(space)?;
        let segment = parse_segment("flow name", name)?;
        let body = body.to_vec();
        let machine = name.to_owned();
        let compiled =
            tokio::task::spawn_blocking(move || parse_flow(&body, format).and_then(|f| compile_flow(f, &machine)))
                .await
                .map_err(|e| EngineError::Store(StoreError::Internal(format!("compiling a flow: {e}"))))??;
        if let Some(inner) = compiled.name()
            && inner != name
        {
            return Err(EngineError::Validation {
                message: format!("name: the flow is named \"{inner}\" but is put as \"{name}\""),
                details: json!({ "errors": [{ "path": "name", "message": format!("must be \"{name}\" or absent") }] }),
            });
        }
        if let Some(latest) = self.store.get_machine(&space_name, &segment, None).await?
            && latest.definition.get("flow").is_none()
        {
            return Err(EngineError::Conflict(format!(
                "{space}:{name} is a machine, not a flow; a flow and a machine cannot share a name"
            )));
        }
        Ok((space_name, segment, compiled))
    }

    /// One version of a flow (the latest without `version`).
    pub async fn get_flow(&self, space: &str, name: &str, version: Option<u32>) -> Result<FlowRecord, EngineError> {
        let not_found = || EngineError::FlowNotFound(format!("flow {space}:{name} not found"));
        let machine = match self.get_machine(space, name, version).await {
            Ok(machine) => machine,
            Err(EngineError::Store(StoreError::MachineNotFound { version: Some(v), .. })) => {
                return Err(EngineError::FlowNotFound(format!("flow {space}:{name} has no version {v}")));
            }
            Err(EngineError::Store(StoreError::MachineNotFound { .. })) => return Err(not_found()),
            Err(e) => return Err(e),
        };
        let flow = machine.definition.get("flow").cloned().ok_or_else(not_found)?;
        Ok(FlowRecord { machine, flow })
    }

    /// The latest version of every flow in a space, by name.
    pub async fn list_flows(&self, space: &str) -> Result<Vec<FlowRecord>, EngineError> {
        let space_name = parse_space(space)?;
        let mut flows = Vec::new();
        for summary in self.store.list_machines(&space_name).await? {
            let Some(machine) = self.store.get_machine(&space_name, &summary.name, Some(summary.version)).await? else {
                continue;
            };
            if let Some(flow) = machine.definition.get("flow").cloned() {
                flows.push(FlowRecord { machine, flow });
            }
        }
        Ok(flows)
    }

    /// Starts a run of the latest version of a flow; `true` with it when an idempotency key
    /// returned the original.
    pub async fn start_run(
        &self,
        space: &str,
        flow: &str,
        input: Value,
        idempotency_key: Option<String>,
    ) -> Result<(InstanceRecord, bool), EngineError> {
        self.get_flow(space, flow, None).await?;
        let ctx = json!({ "input": input, "vars": {}, "nodes": {} });
        let req = CreateInstance { id: None, ctx: Some(ctx), idempotency_key };
        self.create_instance(space, flow, req).await
    }

    /// Waits up to `wait` for a run to end; returns it as it stands then.
    pub async fn wait_for_run(&self, run: InstanceRecord, wait: Duration) -> Result<InstanceRecord, EngineError> {
        let deadline = tokio::time::Instant::now() + wait.min(MAX_RUN_WAIT);
        let key = switchyard_model::InstanceKey {
            space: run.space.clone(),
            machine: run.machine.clone(),
            id: run.id.clone(),
        };
        let mut current = run;
        // Short first pauses: most runs of a few nodes end within milliseconds.
        let mut pause = Duration::from_millis(2);
        while !current.status.is_terminal() {
            let now = tokio::time::Instant::now();
            if now >= deadline {
                break;
            }
            tokio::time::sleep(pause.min(deadline - now)).await;
            pause = (pause * 2).min(Duration::from_millis(100));
            match self.store.get_instance(&key).await? {
                Some(instance) => current = instance,
                None => break,
            }
        }
        Ok(current)
    }

    /// A run by id, whichever flow it is of.
    pub async fn get_run(&self, space: &str, id: &str) -> Result<InstanceRecord, EngineError> {
        let space_name = parse_space(space)?;
        let id = parse_segment("run id", id)?;
        for flow in self.flow_names(&space_name).await? {
            let key = switchyard_model::InstanceKey { space: space_name.clone(), machine: flow, id: id.clone() };
            if let Some(instance) = self.store.get_instance(&key).await?
                && instance.deleted_at.is_none()
                && instance.parent.is_none()
            {
                return Ok(instance);
            }
        }
        Err(EngineError::RunNotFound(format!("{space}:{id}")))
    }

    /// A page of runs, newest first.
    pub async fn list_runs(
        &self,
        space: &str,
        filter: &RunFilter,
        limit: u32,
        cursor: Option<String>,
    ) -> Result<RunPage, EngineError> {
        if !(1..=1000).contains(&limit) {
            return Err(EngineError::validation("limit must be between 1 and 1000"));
        }
        let space_name = parse_space(space)?;
        let flows = match &filter.flow {
            Some(flow) => {
                self.get_flow(space, flow, None).await?;
                vec![parse_segment("flow", flow)?]
            }
            None => self.flow_names(&space_name).await?,
        };
        let statuses: Vec<Option<&str>> = match filter.status {
            Some(status) => status.instance_statuses().iter().map(|s| Some(s.as_str())).collect(),
            None => vec![None],
        };
        let mut runs = Vec::new();
        for flow in flows {
            for status in &statuses {
                let query = ListInstances {
                    status: status.map(str::to_owned),
                    roots_only: true,
                    id_at_least: filter.since.map(uuid_floor),
                    id_below: filter.until.map(uuid_floor),
                    after_id: cursor.clone(),
                    newest_first: true,
                    ..ListInstances::of(space_name.clone(), flow.clone(), limit)
                };
                runs.extend(self.store.list_instances(&query).await?);
            }
        }
        // Each list is newest first; merged, the newest `limit` of them all.
        runs.sort_by(|a, b| b.id.as_ref().cmp(a.id.as_ref()));
        runs.truncate(limit as usize);
        let next_cursor = if runs.len() == limit as usize { runs.last().map(|r| r.id.to_string()) } else { None };
        Ok(RunPage { runs, next_cursor })
    }

    /// Cancels a run (its running node's work is cancelled, and every subflow with it).
    pub async fn cancel_run(
        &self,
        space: &str,
        id: &str,
        reason: Option<String>,
    ) -> Result<InstanceRecord, EngineError> {
        let run = self.get_run(space, id).await?;
        self.cancel_instance(space, run.machine.as_ref(), id, reason).await
    }

    /// Starts a new run that resumes a failed or cancelled one at the node it stopped at,
    /// keeping what every other node recorded (so completed nodes do not run again).
    pub async fn retry_run(&self, space: &str, id: &str) -> Result<InstanceRecord, EngineError> {
        let run = self.get_run(space, id).await?;
        let status = RunStatus::of(run.status);
        if !matches!(status, RunStatus::Failed | RunStatus::Cancelled) {
            return Err(EngineError::Conflict(format!(
                "run {id} is {}; only a failed or cancelled run can be retried (rerun starts a new run with the same input)",
                status.as_str()
            )));
        }
        let Some(node) = stopped_at(&run.ctx, &run.state) else {
            return Err(EngineError::Conflict(format!(
                "run {id} did not stop at a node, so there is nothing to resume; rerun it instead"
            )));
        };
        let mut ctx = run.ctx.clone();
        ctx.remove("error");
        ctx.insert("resume".to_owned(), Value::String(node));
        ctx.insert("retry_of".to_owned(), Value::String(id.to_owned()));
        let req = CreateInstance { id: None, ctx: Some(Value::Object(ctx)), idempotency_key: None };
        Ok(self.create_instance(space, run.machine.as_ref(), req).await?.0)
    }

    /// Starts a new run of the same flow (its latest version) with the same input.
    pub async fn rerun_run(&self, space: &str, id: &str) -> Result<InstanceRecord, EngineError> {
        let run = self.get_run(space, id).await?;
        let input = run.ctx.get("input").cloned().unwrap_or(Value::Null);
        let ctx = json!({ "input": input, "vars": {}, "nodes": {}, "rerun_of": id });
        let req = CreateInstance { id: None, ctx: Some(ctx), idempotency_key: None };
        Ok(self.create_instance(space, run.machine.as_ref(), req).await?.0)
    }

    /// Cancels (or retries) every run the filter selects, up to [`MAX_BULK_RUNS`].
    pub async fn bulk_runs(&self, space: &str, filter: &RunFilter, retry: bool) -> Result<BulkOutcome, EngineError> {
        let mut outcome = BulkOutcome::default();
        let mut cursor = None;
        let mut seen = 0;
        loop {
            let page = self.list_runs(space, filter, 200, cursor).await?;
            for run in &page.runs {
                if seen == MAX_BULK_RUNS {
                    return Ok(outcome);
                }
                seen += 1;
                let id = run.id.as_ref();
                let result = if retry {
                    self.retry_run(space, id).await.map(|new| new.id.to_string())
                } else if run.status.is_terminal() {
                    Err(EngineError::Conflict(format!("run {id} has ended")))
                } else {
                    self.cancel_instance(space, run.machine.as_ref(), id, Some("cancelled in bulk".to_owned()))
                        .await
                        .map(|_| id.to_owned())
                };
                match result {
                    Ok(done) => outcome.done.push(done),
                    Err(e) => outcome.skipped.push((id.to_owned(), e.to_string())),
                }
            }
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => return Ok(outcome),
            }
        }
    }

    /// The names of the space's machines that are flows.
    async fn flow_names(&self, space: &switchyard_model::SpaceName) -> Result<Vec<Segment>, EngineError> {
        let mut names = Vec::new();
        for summary in self.store.list_machines(space).await? {
            let compiled = self.store.get_machine(space, &summary.name, Some(summary.version)).await?;
            if compiled.is_some_and(|m| m.definition.get("flow").is_some()) {
                names.push(summary.name);
            }
        }
        Ok(names)
    }
}

/// The node a stopped run stopped at: the one its error names, else the one whose state it
/// is in (`fetch.run`: cancelled there, or stopped by an error the flow did not handle).
fn stopped_at(ctx: &Map<String, Value>, state: &str) -> Option<String> {
    if let Some(node) = ctx.get("error").and_then(|e| e.get("node")).and_then(Value::as_str) {
        return Some(node.to_owned());
    }
    let node = state.split('.').next().filter(|n| !n.is_empty() && *n != "flow")?;
    ctx.get("nodes")?.as_object()?.contains_key(node).then(|| node.to_owned())
}

/// The smallest UUIDv7 (as text) made at `at` or later: run ids compare as text in time order.
fn uuid_floor(at: Timestamp) -> String {
    let ms = u64::try_from(at.as_millis()).unwrap_or(0) & 0xffff_ffff_ffff;
    format!("{:08x}-{:04x}-0000-0000-000000000000", ms >> 16, ms & 0xffff)
}

#[cfg(test)]
mod tests {
    use super::uuid_floor;
    use switchyard_model::Timestamp;

    #[test]
    fn uuid_floors_sort_with_the_ids_made_at_that_time() {
        let at = Timestamp(1_700_000_000_123);
        let id =
            uuid::Uuid::new_v7(uuid::Timestamp::from_unix(uuid::NoContext, 1_700_000_000, 123_000_000)).to_string();
        assert!(uuid_floor(at).as_str() <= id.as_str(), "{} > {id}", uuid_floor(at));
        let later = Timestamp(1_700_000_000_124);
        assert!(uuid_floor(later).as_str() > id.as_str());
    }
}
