//! Route handlers for KV buckets and durable subscriptions: decode, call the engine, encode
//! (the route's rule was checked before). No business logic lives here.
//!
//! A KV value travels as the raw request and response body with its own Content-Type; its
//! revision is the `ETag` (`"3"`), which `If-Match` names for a compare-and-set.

use std::time::Duration;

use axum::extract::State;
use axum::http::header::{CONTENT_TYPE, ETAG, IF_MATCH, IF_NONE_MATCH};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use switchyard_engine::{
    ErrorCode, KvPutRequest, SubscribeFrom, SubscriptionSettings, SubscriptionStatus, parse_space,
};
use switchyard_model::{BucketRecord, DeadLetter, Delivery, KvCondition, KvEntry, KvKeyInfo, LogFilter, Seq};

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{Body, Caller, DEFAULT_LIMIT, Json, Path, Query, page_limit};
use crate::views::LogView;

type Result<T> = std::result::Result<T, ApiError>;

/// The header carrying a KV value's revision besides the ETag.
const REVISION_HEADER: HeaderName = HeaderName::from_static("x-switchyard-revision");
/// The header carrying when a KV value expires.
const EXPIRES_HEADER: HeaderName = HeaderName::from_static("x-switchyard-expires-at");

fn ok(status: StatusCode, body: impl Serialize) -> Response {
    (status, axum::Json(body)).into_response()
}

fn parse_duration(what: &str, text: &str) -> Result<Duration> {
    humantime::parse_duration(text).map_err(|e| {
        ApiError::new(ErrorCode::BadRequest, format!("{what} \"{text}\" is not a duration such as 30s or 5m: {e}"))
    })
}

// ---------------------------------------------------------------------------------------------
// KV

#[derive(Serialize)]
struct BucketView<'a> {
    name: &'a str,
    history: u32,
    created_at: String,
}

impl<'a> From<&'a BucketRecord> for BucketView<'a> {
    fn from(b: &'a BucketRecord) -> Self {
        BucketView { name: b.name.as_ref(), history: b.history, created_at: b.created_at.to_rfc3339() }
    }
}

#[derive(Serialize)]
struct KeyInfoView<'a> {
    key: &'a str,
    revision: u64,
    size: u64,
    content_type: &'a str,
    updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<String>,
}

impl<'a> From<&'a KvKeyInfo> for KeyInfoView<'a> {
    fn from(k: &'a KvKeyInfo) -> Self {
        KeyInfoView {
            key: &k.key,
            revision: k.revision,
            size: k.size,
            content_type: &k.content_type,
            updated_at: k.updated_at.to_rfc3339(),
            expires_at: k.expires_at.map(|t| t.to_rfc3339()),
        }
    }
}

/// A revision in a key's history: the value as text when it is UTF-8, else base64.
#[derive(Serialize)]
struct EntryView<'a> {
    key: &'a str,
    revision: u64,
    operation: &'static str,
    content_type: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value_base64: Option<String>,
    updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<String>,
}

impl<'a> From<&'a KvEntry> for EntryView<'a> {
    fn from(e: &'a KvEntry) -> Self {
        use base64::Engine as _;
        let (value, value_base64) = match (e.deleted, std::str::from_utf8(&e.value)) {
            (true, _) => (None, None),
            (false, Ok(text)) => (Some(text), None),
            (false, Err(_)) => (None, Some(base64::engine::general_purpose::STANDARD.encode(&e.value))),
        };
        EntryView {
            key: &e.key,
            revision: e.revision,
            operation: if e.deleted { "delete" } else { "put" },
            content_type: &e.content_type,
            value,
            value_base64,
            updated_at: e.updated_at.to_rfc3339(),
            expires_at: e.expires_at.map(|t| t.to_rfc3339()),
        }
    }
}

pub async fn list_buckets(State(state): State<AppState>, _: Caller, Path(space): Path<String>) -> Result<Response> {
    let buckets = state.engine.list_buckets(&space).await?;
    let buckets: Vec<BucketView> = buckets.iter().map(BucketView::from).collect();
    Ok(ok(StatusCode::OK, json!({ "buckets": buckets })))
}

pub async fn get_bucket(
    State(state): State<AppState>,
    _: Caller,
    Path((space, bucket)): Path<(String, String)>,
) -> Result<Response> {
    let bucket = state.engine.get_bucket(&space, &bucket).await?;
    Ok(ok(StatusCode::OK, BucketView::from(&bucket)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BucketBody {
    history: Option<u32>,
}

pub async fn put_bucket(
    State(state): State<AppState>,
    _: Caller,
    Path((space, bucket)): Path<(String, String)>,
    Json(body): Json<BucketBody>,
) -> Result<Response> {
    let history = body.history.unwrap_or(switchyard_model::DEFAULT_KV_HISTORY);
    let (bucket, created) = state.engine.put_bucket(&space, &bucket, history).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok(ok(status, BucketView::from(&bucket)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListKeysQuery {
    prefix: Option<String>,
    after: Option<String>,
    limit: Option<i64>,
}

pub async fn list_keys(
    State(state): State<AppState>,
    _: Caller,
    Path((space, bucket)): Path<(String, String)>,
    Query(q): Query<ListKeysQuery>,
) -> Result<Response> {
    let limit = page_limit(q.limit, DEFAULT_LIMIT)?;
    let page = state.engine.list_keys(&space, &bucket, q.prefix.as_deref().unwrap_or(""), q.after, limit).await?;
    let keys: Vec<KeyInfoView> = page.keys.iter().map(KeyInfoView::from).collect();
    Ok(ok(StatusCode::OK, json!({ "keys": keys, "next_cursor": page.next_cursor })))
}

fn revision_headers(headers: &mut HeaderMap, revision: u64) {
    if let Ok(v) = HeaderValue::from_str(&format!("\"{revision}\"")) {
        headers.insert(ETAG, v);
    }
    headers.insert(REVISION_HEADER, HeaderValue::from(revision));
}

pub async fn get_key(
    State(state): State<AppState>,
    _: Caller,
    Path((space, bucket, key)): Path<(String, String, String)>,
) -> Result<Response> {
    let entry = state.engine.kv_get(&space, &bucket, &key).await?;
    let mut response = entry.value.into_response();
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_str(&entry.content_type)
            .unwrap_or_else(|_| HeaderValue::from_static(switchyard_engine::kv::DEFAULT_CONTENT_TYPE)),
    );
    revision_headers(headers, entry.revision);
    if let Some(at) = entry.expires_at
        && let Ok(v) = HeaderValue::from_str(&at.to_rfc3339())
    {
        headers.insert(EXPIRES_HEADER, v);
    }
    Ok(response)
}

/// The precondition a write's `If-Match` / `If-None-Match` headers state.
fn condition(headers: &HeaderMap) -> Result<KvCondition> {
    let text = |name: &HeaderName| -> Result<Option<&str>> {
        match headers.get(name) {
            None => Ok(None),
            Some(v) => v
                .to_str()
                .map(|s| Some(s.trim()))
                .map_err(|_| ApiError::new(ErrorCode::BadRequest, format!("the {name} header is not valid text"))),
        }
    };
    match (text(&IF_MATCH)?, text(&IF_NONE_MATCH)?) {
        (Some(_), Some(_)) => Err(ApiError::new(ErrorCode::BadRequest, "send If-Match or If-None-Match, not both")),
        (Some(tag), None) => {
            let bare = tag.trim_matches('"');
            bare.parse::<u64>().map(KvCondition::Revision).map_err(|_| {
                ApiError::new(
                    ErrorCode::BadRequest,
                    format!("If-Match \"{tag}\" is not a revision (e.g. If-Match: \"3\")"),
                )
            })
        }
        (None, Some("*")) => Ok(KvCondition::Absent),
        (None, Some(other)) => Err(ApiError::new(
            ErrorCode::BadRequest,
            format!("If-None-Match \"{other}\" is not supported; only * (create only) is"),
        )),
        (None, None) => Ok(KvCondition::Always),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PutKeyQuery {
    ttl: Option<String>,
}

pub async fn put_key(
    State(state): State<AppState>,
    _: Caller,
    Path((space, bucket, key)): Path<(String, String, String)>,
    Query(q): Query<PutKeyQuery>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response> {
    let condition = condition(&headers)?;
    let ttl = q.ttl.as_deref().map(|t| parse_duration("ttl", t)).transpose()?;
    let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_string);
    let put = KvPutRequest { value: body.to_vec(), content_type, ttl, condition };
    let (revision, seq) = state.engine.kv_put(&space, &bucket, &key, put).await?;
    let mut response = ok(StatusCode::OK, json!({ "revision": revision, "seq": seq.0 }));
    revision_headers(response.headers_mut(), revision);
    Ok(response)
}

pub async fn delete_key(
    State(state): State<AppState>,
    _: Caller,
    Path((space, bucket, key)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Response> {
    let condition = condition(&headers)?;
    let (revision, seq) = state.engine.kv_delete(&space, &bucket, &key, condition).await?;
    Ok(ok(StatusCode::OK, json!({ "revision": revision, "seq": seq.0 })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    limit: Option<i64>,
}

pub async fn key_history(
    State(state): State<AppState>,
    _: Caller,
    Path((space, bucket, key)): Path<(String, String, String)>,
    Query(q): Query<HistoryQuery>,
) -> Result<Response> {
    // A key keeps at most MAX_KV_HISTORY revisions, so the default is all of them.
    let limit = page_limit(q.limit, switchyard_model::MAX_KV_HISTORY)?;
    let entries = state.engine.kv_history(&space, &bucket, &key, limit).await?;
    let entries: Vec<EntryView> = entries.iter().map(EntryView::from).collect();
    Ok(ok(StatusCode::OK, json!({ "history": entries })))
}

// ---------------------------------------------------------------------------------------------
// Subscriptions

#[derive(Serialize)]
struct SubscriptionView<'a> {
    name: &'a str,
    address: String,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    kinds: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    state: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    event: Option<&'a str>,
    max_deliveries: u32,
    ack_wait: String,
    allow_loss: bool,
    cursor: u64,
    /// Records after the cursor, not yet examined.
    lag: u64,
    pending: u64,
    leased: u64,
    dead_letters: u64,
    log_newest_seq: u64,
    created_at: String,
}

impl<'a> From<&'a SubscriptionStatus> for SubscriptionView<'a> {
    fn from(s: &'a SubscriptionStatus) -> Self {
        let sub = &s.subscription;
        let spec = &sub.spec;
        SubscriptionView {
            name: spec.name.as_ref(),
            address: spec.filter.address.to_pattern(),
            kinds: &spec.filter.kinds,
            state: spec.filter.state.as_deref(),
            event: spec.filter.event.as_deref(),
            max_deliveries: spec.max_deliveries,
            ack_wait: humantime::format_duration(Duration::from_millis(spec.ack_wait_ms)).to_string(),
            allow_loss: spec.allow_loss,
            cursor: sub.cursor.0,
            lag: s.lag,
            pending: sub.pending,
            leased: sub.leased,
            dead_letters: sub.dead_letters,
            log_newest_seq: s.log_newest.0,
            created_at: sub.created_at.to_rfc3339(),
        }
    }
}

#[derive(Serialize)]
struct DeliveryView<'a> {
    #[serde(flatten)]
    record: LogView<'a>,
    deliveries: u32,
    lease_expires_at: String,
}

impl<'a> From<&'a Delivery> for DeliveryView<'a> {
    fn from(d: &'a Delivery) -> Self {
        DeliveryView {
            record: LogView::from(&d.record),
            deliveries: d.deliveries,
            lease_expires_at: d.lease_expires_at.to_rfc3339(),
        }
    }
}

#[derive(Serialize)]
struct DeadLetterView<'a> {
    seq: u64,
    deliveries: u32,
    dead_at: String,
    /// `null` when retention trimmed the record (only a subscription that allows loss).
    record: Option<LogView<'a>>,
}

impl<'a> From<&'a DeadLetter> for DeadLetterView<'a> {
    fn from(d: &'a DeadLetter) -> Self {
        DeadLetterView {
            seq: d.seq.0,
            deliveries: d.deliveries,
            dead_at: d.dead_at.to_rfc3339(),
            record: d.record.as_ref().map(LogView::from),
        }
    }
}

/// A `kind` filter: one kind, a comma-separated list, or a JSON list.
#[derive(Deserialize)]
#[serde(untagged)]
pub enum Kinds {
    One(String),
    Many(Vec<String>),
}

/// Where a subscription starts: "now", "earliest" or a seq.
#[derive(Deserialize)]
#[serde(untagged)]
pub enum FromField {
    Seq(u64),
    Word(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionBody {
    address: Option<String>,
    kind: Option<Kinds>,
    state: Option<String>,
    event: Option<String>,
    from: Option<FromField>,
    max_deliveries: Option<u32>,
    ack_wait: Option<String>,
    #[serde(default)]
    allow_loss: bool,
}

pub async fn put_subscription(
    State(state): State<AppState>,
    _: Caller,
    Path((space, name)): Path<(String, String)>,
    Json(body): Json<SubscriptionBody>,
) -> Result<Response> {
    let space = parse_space(&space)?;
    let kinds = match body.kind {
        None => Vec::new(),
        Some(Kinds::One(k)) => k.split(',').map(str::trim).filter(|k| !k.is_empty()).map(str::to_string).collect(),
        Some(Kinds::Many(ks)) => ks,
    };
    let from = match body.from {
        None => SubscribeFrom::Now,
        Some(FromField::Word(w)) if w == "now" => SubscribeFrom::Now,
        Some(FromField::Word(w)) if w == "earliest" => SubscribeFrom::Earliest,
        // `from` names the first seq wanted, as in a watch.
        Some(FromField::Seq(seq)) => SubscribeFrom::After(Seq(seq.saturating_sub(1))),
        Some(FromField::Word(w)) => {
            return Err(ApiError::new(
                ErrorCode::BadRequest,
                format!("from \"{w}\" must be \"now\", \"earliest\" or a seq"),
            ));
        }
    };
    let address = switchyard_engine::parse_address_pattern(&space, body.address.as_deref())?;
    let ack_wait = body.ack_wait.as_deref().map(|t| parse_duration("ack_wait", t)).transpose()?;
    let filter = LogFilter { space, address, kinds, state: body.state, event: body.event };
    let settings = SubscriptionSettings {
        filter,
        from,
        max_deliveries: body.max_deliveries,
        ack_wait,
        allow_loss: body.allow_loss,
    };
    let (status, created) = state.engine.put_subscription(&name, settings).await?;
    let code = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok(ok(code, SubscriptionView::from(&status)))
}

pub async fn get_subscription(
    State(state): State<AppState>,
    _: Caller,
    Path((space, name)): Path<(String, String)>,
) -> Result<Response> {
    let status = state.engine.get_subscription(&space, &name).await?;
    Ok(ok(StatusCode::OK, SubscriptionView::from(&status)))
}

pub async fn list_subscriptions(
    State(state): State<AppState>,
    _: Caller,
    Path(space): Path<String>,
) -> Result<Response> {
    let subs = state.engine.list_subscriptions(&space).await?;
    let subs: Vec<SubscriptionView> = subs.iter().map(SubscriptionView::from).collect();
    Ok(ok(StatusCode::OK, json!({ "subscriptions": subs })))
}

pub async fn delete_subscription(
    State(state): State<AppState>,
    _: Caller,
    Path((space, name)): Path<(String, String)>,
) -> Result<Response> {
    state.engine.delete_subscription(&space, &name).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PullQuery {
    max: Option<u32>,
    lease: Option<String>,
    wait: Option<String>,
}

pub async fn pull(
    State(state): State<AppState>,
    _: Caller,
    Path((space, name)): Path<(String, String)>,
    Query(q): Query<PullQuery>,
) -> Result<Response> {
    // Pulling changes the subscription (leases), so it needs a writer.
    let lease = q.lease.as_deref().map(|t| parse_duration("lease", t)).transpose()?;
    let wait = q.wait.as_deref().map(|t| parse_duration("wait", t)).transpose()?;
    let deliveries = state.engine.pull(&space, &name, q.max.unwrap_or(10), lease, wait).await?;
    let records: Vec<DeliveryView> = deliveries.iter().map(DeliveryView::from).collect();
    Ok(ok(StatusCode::OK, json!({ "records": records })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeqsBody {
    seqs: Vec<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptionalSeqsBody {
    seqs: Option<Vec<u64>>,
}

fn seqs(v: Vec<u64>) -> Vec<Seq> {
    v.into_iter().map(Seq).collect()
}

pub async fn ack(
    State(state): State<AppState>,
    _: Caller,
    Path((space, name)): Path<(String, String)>,
    Json(body): Json<SeqsBody>,
) -> Result<Response> {
    let settled = state.engine.ack(&space, &name, seqs(body.seqs)).await?;
    // 200 even when nothing was pending: an ack retried after a lost answer finds its records
    // acked already, and must not fail. The answer says which were not pending.
    let numbers = |seqs: &[Seq]| seqs.iter().map(|s| s.0).collect::<Vec<_>>();
    Ok(ok(
        StatusCode::OK,
        json!({
            "acked": settled.done.len(),
            "acked_seqs": numbers(&settled.done),
            "not_pending": numbers(&settled.not_pending),
        }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lease {
    seq: u64,
    deliveries: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NackBody {
    leases: Vec<Lease>,
}

pub async fn nack(
    State(state): State<AppState>,
    _: Caller,
    Path((space, name)): Path<(String, String)>,
    Json(body): Json<NackBody>,
) -> Result<Response> {
    let leases = body.leases.into_iter().map(|l| (Seq(l.seq), l.deliveries)).collect();
    let settled = state.engine.nack(&space, &name, leases).await?;
    let leases = |leases: &[(Seq, u32)]| {
        leases.iter().map(|(seq, deliveries)| json!({ "seq": seq.0, "deliveries": deliveries })).collect::<Vec<_>>()
    };
    Ok(ok(
        StatusCode::OK,
        json!({
            "released": settled.done.len(),
            "released_leases": leases(&settled.done),
            "not_released": leases(&settled.not_pending),
        }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeadLetterQuery {
    after: Option<u64>,
    limit: Option<i64>,
}

pub async fn dead_letters(
    State(state): State<AppState>,
    _: Caller,
    Path((space, name)): Path<(String, String)>,
    Query(q): Query<DeadLetterQuery>,
) -> Result<Response> {
    let limit = page_limit(q.limit, DEFAULT_LIMIT)?;
    let letters = state.engine.dead_letters(&space, &name, Seq(q.after.unwrap_or(0)), limit).await?;
    let next_cursor = (letters.len() == limit as usize).then(|| letters.last().map(|d| d.seq.0)).flatten();
    let letters: Vec<DeadLetterView> = letters.iter().map(DeadLetterView::from).collect();
    Ok(ok(StatusCode::OK, json!({ "dead_letters": letters, "next_cursor": next_cursor })))
}

/// An optional JSON body: none (or empty) means every dead letter.
fn optional_seqs(headers: &HeaderMap, body: &[u8]) -> Result<Option<Vec<Seq>>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    crate::extract::require_json(headers)?;
    let body: OptionalSeqsBody = crate::extract::decode_json(body)?;
    Ok(body.seqs.map(seqs))
}

pub async fn redrive(
    State(state): State<AppState>,
    _: Caller,
    Path((space, name)): Path<(String, String)>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response> {
    let n = state.engine.redrive(&space, &name, optional_seqs(&headers, &body)?).await?;
    Ok(ok(StatusCode::OK, json!({ "redriven": n })))
}

pub async fn discard_dead_letters(
    State(state): State<AppState>,
    _: Caller,
    Path((space, name)): Path<(String, String)>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response> {
    let n = state.engine.discard_dead_letters(&space, &name, optional_seqs(&headers, &body)?).await?;
    Ok(ok(StatusCode::OK, json!({ "discarded": n })))
}
