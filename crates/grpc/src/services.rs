//! The unary and server-streaming services: each call authorises like its HTTP route, decodes,
//! calls the engine and encodes; `ApplyEvents` is in [`crate::stream`].

use std::pin::Pin;

use futures_util::{Stream, StreamExt};
use serde_json::json;
use switchyard_api::{ApiError, ErrorCode};
use switchyard_engine::{BatchOp, BatchResult, EngineError, InvokeRequest, KvPutRequest, WatchFilter, WatchFrom};
use switchyard_model::permissions::*;
use switchyard_model::{DefinitionFormat, KvCondition, Seq};
use switchyard_proto::v1;
use tonic::{Request, Response, Status, Streaming};

use crate::convert::{self, json_field, optional};
use crate::{GrpcApi, error_message};

type Answer<T> = Result<Response<T>, Status>;

/// The format of a definition sent without a media type: one that opens like JSON is JSON,
/// anything else YAML (as the HTTP route decides without a `Content-Type`).
fn definition_format(text: &str) -> DefinitionFormat {
    if text.trim_start().starts_with('{') { DefinitionFormat::Json } else { DefinitionFormat::Yaml }
}

#[tonic::async_trait]
impl v1::machines_server::Machines for GrpcApi {
    async fn put_machine(&self, request: Request<v1::PutMachineRequest>) -> Answer<v1::PutMachineResponse> {
        let result = async move {
            let r = request.get_ref();
            self.caller(&request, MACHINES_WRITE, &[r.space.as_str()]).await?;
            let req = request.into_inner();
            let engine = &self.state.engine;
            let body = req.definition.as_bytes();
            let format = definition_format(&req.definition);
            if req.dry_run {
                let preview = engine.preview_machine(&req.space, &req.name, body, format).await?;
                return Ok(v1::PutMachineResponse {
                    name: req.name,
                    version: 0,
                    created: preview.current.is_none(),
                    definition_json: preview.definition.to_string(),
                    changed: preview.changed,
                });
            }
            let (version, created) = engine.put_machine(&req.space, &req.name, body, format).await?;
            Ok(v1::PutMachineResponse {
                name: req.name,
                version: version.get(),
                created,
                definition_json: String::new(),
                changed: created,
            })
        }
        .await;
        self.finish("Machines/PutMachine", result)
    }

    async fn get_machine(&self, request: Request<v1::GetMachineRequest>) -> Answer<v1::Machine> {
        let result = async move {
            let r = request.get_ref();
            self.caller(&request, MACHINES_READ, &[r.space.as_str(), "machines", r.name.as_str()]).await?;
            let req = request.into_inner();
            let version = if req.version == 0 { None } else { Some(req.version) };
            let m = self.state.engine.get_machine(&req.space, &req.name, version).await?;
            Ok(v1::Machine {
                name: m.name.to_string(),
                version: m.version.get(),
                definition_json: m.definition.to_string(),
                created_at: m.created_at.to_rfc3339(),
            })
        }
        .await;
        self.finish("Machines/GetMachine", result)
    }

    async fn list_machines(&self, request: Request<v1::ListMachinesRequest>) -> Answer<v1::ListMachinesResponse> {
        let result = async move {
            let r = request.get_ref();
            self.caller(&request, MACHINES_READ, &[r.space.as_str(), "machines"]).await?;
            let machines = self.state.engine.list_machines(&request.get_ref().space).await?;
            Ok(v1::ListMachinesResponse {
                machines: machines
                    .iter()
                    .map(|m| v1::MachineSummary {
                        name: m.name.to_string(),
                        version: m.version.get(),
                        created_at: m.created_at.to_rfc3339(),
                    })
                    .collect(),
            })
        }
        .await;
        self.finish("Machines/ListMachines", result)
    }
}

#[tonic::async_trait]
impl v1::instances_server::Instances for GrpcApi {
    async fn create_instance(&self, request: Request<v1::CreateInstanceRequest>) -> Answer<v1::CreateInstanceResponse> {
        let result = async move {
            let r = request.get_ref();
            self.caller(&request, INSTANCES_WRITE, &[r.space.as_str(), "machines", r.machine.as_str()]).await?;
            let req = request.into_inner();
            let create = convert::create(&req)?;
            self.state.engine.admit_events(&req.space, 1)?;
            let (instance, replayed) = self.state.engine.create_instance(&req.space, &req.machine, create).await?;
            Ok(v1::CreateInstanceResponse { instance: Some(convert::instance(&instance)), replayed })
        }
        .await;
        self.finish("Instances/CreateInstance", result)
    }

    async fn get_instance(&self, request: Request<v1::GetInstanceRequest>) -> Answer<v1::Instance> {
        let result = async move {
            let r = request.get_ref();
            self.caller(&request, INSTANCES_READ, &[r.space.as_str(), "machines", r.machine.as_str(), r.id.as_str()])
                .await?;
            let req = request.get_ref();
            let instance = self.state.engine.get_instance(&req.space, &req.machine, &req.id).await?;
            Ok(convert::instance(&instance))
        }
        .await;
        self.finish("Instances/GetInstance", result)
    }

    async fn list_instances(&self, request: Request<v1::ListInstancesRequest>) -> Answer<v1::ListInstancesResponse> {
        let result = async move {
            let r = request.get_ref();
            self.caller(&request, INSTANCES_READ, &[r.space.as_str(), "machines", r.machine.as_str()]).await?;
            let req = request.into_inner();
            let limit = if req.limit == 0 { None } else { Some(i64::from(req.limit)) };
            let limit = switchyard_api::page_limit(limit, 100)?;
            let page = self
                .state
                .engine
                .list_instances(&req.space, &req.machine, optional(req.state), Some(limit), optional(req.cursor))
                .await?;
            Ok(v1::ListInstancesResponse {
                instances: page.instances.iter().map(convert::instance).collect(),
                next_cursor: page.next_cursor.unwrap_or_default(),
            })
        }
        .await;
        self.finish("Instances/ListInstances", result)
    }

    async fn delete_instance(&self, request: Request<v1::DeleteInstanceRequest>) -> Answer<v1::DeleteInstanceResponse> {
        let result = async move {
            let r = request.get_ref();
            self.caller(&request, INSTANCES_WRITE, &[r.space.as_str(), "machines", r.machine.as_str(), r.id.as_str()])
                .await?;
            let req = request.get_ref();
            self.state.engine.delete_instance(&req.space, &req.machine, &req.id).await?;
            Ok(v1::DeleteInstanceResponse {})
        }
        .await;
        self.finish("Instances/DeleteInstance", result)
    }
}

#[tonic::async_trait]
impl v1::events_server::Events for GrpcApi {
    async fn apply_event(&self, request: Request<v1::ApplyEventRequest>) -> Answer<v1::ApplyEventResponse> {
        let result = async move {
            let r = request.get_ref();
            self.caller(
                &request,
                EVENTS_SEND,
                &[r.space.as_str(), "machines", r.machine.as_str(), r.instance.as_str()],
            )
            .await?;
            let event = convert::event(request.into_inner())?;
            let engine = &self.state.engine;
            engine.admit_events(&event.space, 1)?;
            let (applied, replayed) =
                engine.apply_event(&event.space, &event.machine, &event.instance, event.send).await?;
            Ok(v1::ApplyEventResponse { transition: Some(convert::transition(&applied)), replayed })
        }
        .await;
        self.finish("Events/ApplyEvent", result)
    }

    type ApplyEventsStream = Pin<Box<dyn Stream<Item = Result<v1::ApplyEventsResponse, Status>> + Send>>;

    async fn apply_events(
        &self,
        request: Request<Streaming<v1::ApplyEventsRequest>>,
    ) -> Answer<Self::ApplyEventsStream> {
        let result = async {
            let principal = self.authenticate(&request).await?;
            // Every event is authorised as it arrives; the stream needs events:send somewhere.
            principal.require_somewhere(EVENTS_SEND)?;
            Ok(crate::stream::apply_events(
                self.state.clone(),
                self.stream_events.clone(),
                principal,
                request.into_inner(),
            ))
        }
        .await;
        self.finish("Events/ApplyEvents", result)
    }

    async fn batch(&self, request: Request<v1::BatchRequest>) -> Answer<v1::BatchResponse> {
        let result = async move {
            let principal = self.authenticate(&request).await?;
            let mut ops = Vec::with_capacity(request.get_ref().operations.len());
            for (index, op) in request.into_inner().operations.into_iter().enumerate() {
                let op = batch_op(op).map_err(|e| batch_failed(index, e))?;
                let checked = self.state.engine.authorise_batch_op(&principal, &op);
                checked.map_err(|e| ApiError::from(EngineError::BatchFailed { index, source: Box::new(e) }))?;
                ops.push(op);
            }
            self.state.engine.admit_batch(&ops)?;
            let results = self.state.engine.batch(ops).await?;
            Ok(v1::BatchResponse {
                results: results
                    .iter()
                    .map(|r| v1::BatchResult {
                        result: Some(match r {
                            BatchResult::Created(instance) => {
                                v1::batch_result::Result::Created(convert::instance(instance))
                            }
                            BatchResult::Applied(applied) => {
                                v1::batch_result::Result::Applied(convert::transition(applied))
                            }
                            BatchResult::Deleted => v1::batch_result::Result::Deleted(v1::DeleteInstanceResponse {}),
                        }),
                    })
                    .collect(),
            })
        }
        .await;
        self.finish("Events/Batch", result)
    }
}

/// An operation of a batch, decoded.
fn batch_op(op: v1::BatchOperation) -> Result<BatchOp, ApiError> {
    use v1::batch_operation::Op;
    match op.op {
        Some(Op::CreateInstance(req)) => {
            let request = convert::create(&req)?;
            Ok(BatchOp::CreateInstance { space: req.space, machine: req.machine, request })
        }
        Some(Op::ApplyEvent(req)) => {
            let event = convert::event(req)?;
            Ok(BatchOp::ApplyEvent {
                space: event.space,
                machine: event.machine,
                instance: event.instance,
                request: event.send,
            })
        }
        Some(Op::DeleteInstance(req)) => {
            Ok(BatchOp::DeleteInstance { space: req.space, machine: req.machine, instance: req.id })
        }
        None => Err(ApiError::new(
            ErrorCode::BadRequest,
            "an operation needs one of create_instance, apply_event, delete_instance",
        )),
    }
}

/// A batch's error naming the operation that failed, as the HTTP batch answers it.
fn batch_failed(index: usize, e: ApiError) -> ApiError {
    ApiError::new(e.code, format!("operation {index}: {}", e.message)).with_details(
        json!({ "index": index, "error": { "code": e.code, "message": e.message, "details": e.details } }),
    )
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<v1::WatchResponse, Status>> + Send>>;

#[tonic::async_trait]
impl v1::watch_server::Watch for GrpcApi {
    type WatchStream = WatchStream;

    async fn watch(&self, request: Request<v1::WatchRequest>) -> Answer<WatchStream> {
        let result = async move {
            let r = request.get_ref();
            self.caller(&request, LOG_READ, &[r.space.as_str()]).await?;
            let req = request.into_inner();
            let space = switchyard_engine::parse_space(&req.space)?;
            let from = match req.from_seq {
                0 => WatchFrom::Now,
                seq => WatchFrom::After(Seq(seq - 1)),
            };
            let address = switchyard_engine::parse_address_pattern(&space, optional(req.address).as_deref())?;
            let filter = WatchFilter {
                space,
                address,
                kinds: req.kinds,
                state: optional(req.state),
                event: optional(req.event),
            };
            let records = self.state.engine.watch(filter, from, 256).await?;
            // Dropping the stream (the client went away) drops the receiver, which ends the
            // watcher; an error is the stream's last item.
            let stream = futures_util::stream::unfold(Some(records), |records| async move {
                let mut records = records?;
                match records.recv().await? {
                    Ok(record) => {
                        Some((Ok(v1::WatchResponse { record: Some(convert::record(&record)) }), Some(records)))
                    }
                    Err(e) => Some((Err(crate::status(ApiError::from(e))), None)),
                }
            });
            // Ends at shutdown, like an SSE watch, rather than holding the node for its grace.
            let shutdown = self.state.shutdown.clone();
            let stream: WatchStream = Box::pin(stream.take_until(async move { shutdown.stopping().await }));
            Ok(stream)
        }
        .await;
        self.finish("Watch/Watch", result)
    }
}

#[tonic::async_trait]
impl v1::topics_server::Topics for GrpcApi {
    async fn publish(&self, request: Request<v1::PublishRequest>) -> Answer<v1::PublishResponse> {
        let result = async move {
            let r = request.get_ref();
            self.caller(&request, TOPICS_PUBLISH, &[r.space.as_str(), "topics", r.topic.as_str()]).await?;
            let req = request.into_inner();
            let payload = json_field("payload_json", &req.payload_json)?
                .ok_or_else(|| ApiError::new(ErrorCode::BadRequest, "payload_json is required (JSON text)"))?;
            let headers = req.headers.into_iter().collect();
            self.state.engine.admit_events(&req.space, 1)?;
            let (seq, replayed) = self
                .state
                .engine
                .publish(&req.space, &req.topic, payload, optional(req.key), headers, optional(req.idempotency_key))
                .await?;
            Ok(v1::PublishResponse { seq: seq.0, replayed })
        }
        .await;
        self.finish("Topics/Publish", result)
    }
}

#[tonic::async_trait]
impl v1::kv_server::Kv for GrpcApi {
    async fn get_key(&self, request: Request<v1::GetKeyRequest>) -> Answer<v1::KvEntry> {
        let result = async move {
            let r = request.get_ref();
            self.caller(&request, KV_READ, &[r.space.as_str(), "kv", r.bucket.as_str(), r.key.as_str()]).await?;
            let req = request.into_inner();
            let entry = self.state.engine.kv_get(&req.space, &req.bucket, &req.key).await?;
            Ok(v1::KvEntry {
                key: entry.key,
                revision: entry.revision,
                value: entry.value,
                content_type: entry.content_type,
                updated_at: entry.updated_at.to_rfc3339(),
                expires_at: entry.expires_at.map(|at| at.to_rfc3339()).unwrap_or_default(),
            })
        }
        .await;
        self.finish("Kv/GetKey", result)
    }

    async fn put_key(&self, request: Request<v1::PutKeyRequest>) -> Answer<v1::PutKeyResponse> {
        let result = async move {
            let r = request.get_ref();
            self.caller(&request, KV_WRITE, &[r.space.as_str(), "kv", r.bucket.as_str(), r.key.as_str()]).await?;
            let req = request.into_inner();
            let condition = match (req.expected_revision, req.only_if_absent) {
                (Some(_), true) => {
                    return Err(ApiError::new(
                        ErrorCode::ValidationFailed,
                        "expected_revision and only_if_absent cannot both be set",
                    ));
                }
                (Some(revision), false) => KvCondition::Revision(revision),
                (None, true) => KvCondition::Absent,
                (None, false) => KvCondition::Always,
            };
            let ttl = (req.ttl_ms > 0).then(|| std::time::Duration::from_millis(req.ttl_ms));
            let put = KvPutRequest { value: req.value, content_type: optional(req.content_type), ttl, condition };
            let (revision, seq) = self.state.engine.kv_put(&req.space, &req.bucket, &req.key, put).await?;
            Ok(v1::PutKeyResponse { revision, seq: seq.0 })
        }
        .await;
        self.finish("Kv/PutKey", result)
    }

    async fn delete_key(&self, request: Request<v1::DeleteKeyRequest>) -> Answer<v1::DeleteKeyResponse> {
        let result = async move {
            let r = request.get_ref();
            self.caller(&request, KV_WRITE, &[r.space.as_str(), "kv", r.bucket.as_str(), r.key.as_str()]).await?;
            let req = request.into_inner();
            let condition = req.expected_revision.map_or(KvCondition::Always, KvCondition::Revision);
            let (revision, seq) = self.state.engine.kv_delete(&req.space, &req.bucket, &req.key, condition).await?;
            Ok(v1::DeleteKeyResponse { revision, seq: seq.0 })
        }
        .await;
        self.finish("Kv/DeleteKey", result)
    }
}

#[tonic::async_trait]
impl v1::functions_server::Functions for GrpcApi {
    async fn invoke(&self, request: Request<v1::InvokeRequest>) -> Answer<v1::InvokeResponse> {
        let result = async move {
            let r = request.get_ref();
            self.caller(&request, FUNCTIONS_INVOKE, &[r.space.as_str(), "functions", r.function.as_str()]).await?;
            let req = request.into_inner();
            let invoke = InvokeRequest {
                input: req.input,
                content_type: optional(req.content_type),
                version: (req.version > 0).then_some(req.version),
                idempotency_key: optional(req.idempotency_key),
                trace_id: None,
                machine: None,
                attempt: 1,
            };
            self.state.engine.admit_storage(&req.space)?;
            let (record, output) = self.state.engine.invoke_function(&req.space, &req.function, invoke).await?;
            let result = match output {
                Some(output) => v1::invoke_response::Result::Output(v1::InvokeOutput {
                    body: output.body,
                    content_type: output.content_type,
                }),
                None => {
                    let error = record.error.clone().unwrap_or_default();
                    let text = |field: &str| error.get(field).and_then(serde_json::Value::as_str).map(str::to_owned);
                    v1::invoke_response::Result::Error(v1::Error {
                        code: text("code").unwrap_or_else(|| "function_trapped".to_owned()),
                        message: text("message").unwrap_or_else(|| "the function failed".to_owned()),
                        details_json: json!({
                            "invocation_id": record.id,
                            "retryable": error.get("retryable").cloned().unwrap_or(serde_json::Value::Bool(false)),
                            "logs": record.logs,
                        })
                        .to_string(),
                    })
                }
            };
            Ok(v1::InvokeResponse {
                invocation_id: record.id.clone(),
                version: record.version,
                duration_us: record.duration_us.unwrap_or(0),
                result: Some(result),
            })
        }
        .await;
        self.finish("Functions/Invoke", result)
    }
}

/// An event's answer on a stream: its transition or its error.
pub fn event_answer(
    correlation_id: u64,
    result: Result<(switchyard_model::TransitionApplied, bool), ApiError>,
) -> v1::ApplyEventsResponse {
    v1::ApplyEventsResponse {
        correlation_id,
        result: Some(match result {
            Ok((applied, replayed)) => v1::apply_events_response::Result::Applied(v1::ApplyEventResponse {
                transition: Some(convert::transition(&applied)),
                replayed,
            }),
            Err(e) => v1::apply_events_response::Result::Error(error_message(e)),
        }),
    }
}
