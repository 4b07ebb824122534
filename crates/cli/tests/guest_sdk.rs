//! The guest SDK (`crates/guest`) inside the real server, through the example functions built on
//! it: the host calls no other test reaches — configuration and secrets, log lines, events sent
//! and published from a guest and the codes their refusals become, and the codes of outgoing HTTP
//! failures. (The SDK's pure parts have unit tests in the crate.)

mod support;

use serde_json::{Value, json};
use support::TestServer;
use support::http::Http;
use switchyard_client::{Client, ClientError, FunctionSettings, InvokeOptions};
use switchyard_testkit::{PATIENCE, example_function_bytes, wait_for};

async fn deploy(client: &Client, name: &str, example: &str, settings: FunctionSettings) {
    client.deploy_function("acme", name, &example_function_bytes(example), &settings).await.expect("deploy");
}

async fn invoke(client: &Client, name: &str, input: Value) -> Result<(Value, String), ClientError> {
    let out =
        client.invoke("acme", name, serde_json::to_vec(&input).expect("encode"), &InvokeOptions::default()).await?;
    Ok((serde_json::from_slice(&out.body).expect("JSON output"), out.invocation_id))
}

/// `(status, code, message)` of a refusal.
fn refusal(e: &ClientError) -> (u16, &str, &str) {
    match e {
        ClientError::Api { status, code, message, .. } => (*status, code.as_str(), message.as_str()),
        other => panic!("expected a refusal, got {other}"),
    }
}

/// The stored record of a synchronous invocation (written in the background).
async fn record(client: &Client, id: &str) -> Value {
    wait_for("the invocation's record", PATIENCE, || client.get_invocation("acme", id), Result::is_ok)
        .await
        .expect("the record")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_values_and_secrets_reach_the_guest() {
    let server = TestServer::start();
    let client = server.client();
    let settings = FunctionSettings {
        config: [("region".to_owned(), "eu-west".to_owned()), ("tier".to_owned(), "gold".to_owned())].into(),
        secrets: [("api_key".to_owned(), "s3cret".to_owned())].into(),
        ..FunctionSettings::default()
    };
    deploy(&client, "m", "misbehave", settings).await;
    let (out, _) = invoke(&client, "m", json!({"do": "config", "secret": "api_key"})).await.expect("config");
    // `keys` lists the configuration values only, never the secrets.
    assert_eq!(out, json!({"config": {"region": "eu-west", "tier": "gold"}, "secret": "s3cret"}));
    let (out, _) = invoke(&client, "m", json!({"do": "config", "secret": "region"})).await.expect("config");
    assert_eq!(out["secret"], Value::Null, "a configuration value is not a secret");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_lines_and_stdout_are_kept_with_the_invocation() {
    let server = TestServer::start();
    let client = server.client();
    deploy(&client, "m", "misbehave", FunctionSettings::default()).await;
    let (out, id) = invoke(&client, "m", json!({"do": "log", "lines": 2})).await.expect("log");
    assert_eq!(out, json!({"logged": 2}));
    let record = record(&client, &id).await;
    let lines: Vec<(&str, &str, &Value)> = record["logs"]
        .as_array()
        .expect("logs")
        .iter()
        .map(|l| (l["level"].as_str().unwrap_or("?"), l["message"].as_str().unwrap_or("?"), &l["fields"]))
        .collect();
    assert_eq!(
        lines,
        [
            ("info", "line 0", &json!({"i": "0"})),
            ("info", "line 1", &json!({"i": "1"})),
            ("info", "printed to stdout", &json!({"stream": "stdout"})),
        ],
        "{record}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_sent_and_published_by_a_guest_land_and_refusals_keep_their_codes() {
    let server = TestServer::start();
    let client = server.client();
    let http = Http::new(&server);
    let machine = json!({"initial": "pending", "states": ["pending", "paid"],
                         "transitions": [{"from": "pending", "event": "pay", "to": "paid"}]});
    let (status, body) = http.put_json("/v1/spaces/acme/machines/order", &machine).await;
    assert_eq!(status.as_u16(), 200, "{body}");
    let (status, body) = http.post("/v1/spaces/acme/machines/order/instances", json!({"id": "o-1"})).await;
    assert_eq!(status.as_u16(), 201, "{body}");
    deploy(&client, "m", "misbehave", FunctionSettings::default()).await;

    let (out, _) =
        invoke(&client, "m", json!({"do": "send", "instance": "order:o-1", "event": "pay"})).await.expect("send");
    assert_eq!(out, json!({"state": "paid"}));
    let (status, instance) = http.get("/v1/spaces/acme/machines/order/instances/o-1").await;
    assert_eq!((status.as_u16(), &instance["state"], &instance["revision"]), (200, &json!("paid"), &json!(2)));

    let again = invoke(&client, "m", json!({"do": "send", "instance": "order:o-1", "event": "pay"})).await;
    let again = again.expect_err("no transition from paid");
    assert_eq!(refusal(&again).1, "event_rejected", "{again}");
    let missing = invoke(&client, "m", json!({"do": "send", "instance": "order:o-9", "event": "pay"})).await;
    let missing = missing.expect_err("no such instance");
    assert_eq!(refusal(&missing).1, "instance_not_found", "{missing}");

    let (out, _) = invoke(&client, "m", json!({"do": "publish", "topic": "audit", "message": {"by": "guest"}}))
        .await
        .expect("publish");
    let seq = out["seq"].as_u64().expect("the message's seq");
    let mut watch = client
        .watch("acme", &switchyard_client::WatchQuery { from: Some(seq.to_string()), ..Default::default() })
        .await
        .expect("watch");
    let record = switchyard_testkit::within("the published message", PATIENCE, watch.next())
        .await
        .expect("watch")
        .expect("a record");
    assert_eq!((record.seq, record.kind.as_str(), record.address.as_str()), (seq, "topic.message", "acme:audit"));
    assert_eq!(record.payload["payload"], json!({"by": "guest"}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outgoing_http_failures_reach_the_caller_as_codes() {
    let server = TestServer::start_with(&["--function-allow-private-networks"]);
    let client = server.client();
    // A port nothing listens on: bound, then closed.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").to_string();
    let settings = FunctionSettings { allowed_hosts: vec![closed.clone()], ..FunctionSettings::default() };
    deploy(&client, "fetch", "http-fetch", settings).await;

    let refused = invoke(&client, "fetch", json!({"url": format!("http://{closed}/")})).await.expect_err("refused");
    assert_eq!(refusal(&refused).1, "http_connection_refused", "{refused}");
    assert_eq!(refusal(&refused).2, "the server refused the connection");
    let not_allowed = invoke(&client, "fetch", json!({"url": "http://example.invalid/"})).await.expect_err("denied");
    assert_eq!(
        refusal(&not_allowed),
        (403, "capability_denied", "outgoing HTTP to this host is not allowed (deploy with `--allow-host HOST`)")
    );
    let bad = invoke(&client, "fetch", json!({"url": "ftp://example.com/"})).await.expect_err("not http");
    assert_eq!(refusal(&bad).1, "http_invalid_url");
    assert_eq!(refusal(&bad).2, "ftp://example.com/: only http:// and https:// URLs are supported");
    // The SDK marks a refused connection as worth retrying, a denial not: the records keep it.
    let page = wait_for(
        "the three records",
        PATIENCE,
        || client.list_invocations("acme", "fetch", None, None),
        |page| page.as_ref().is_ok_and(|p| p.invocations.len() == 3),
    )
    .await
    .expect("records");
    let retryable: Vec<(String, bool)> = page
        .invocations
        .iter()
        .map(|r| {
            (r["error"]["code"].as_str().unwrap_or("?").to_owned(), r["error"]["retryable"].as_bool().unwrap_or(false))
        })
        .collect();
    assert_eq!(
        retryable,
        [
            ("http_connection_refused".to_owned(), true),
            ("capability_denied".to_owned(), false),
            ("http_invalid_url".to_owned(), false)
        ]
    );
}
