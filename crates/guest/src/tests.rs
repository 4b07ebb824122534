//! The SDK's pure parts, on the host: reading a request's input, building responses and errors,
//! and the errors the host's refusals become. What needs the host (KV, events, HTTP, logs)
//! runs inside the real server in the CLI's tests (`functions.rs`, `serve_flags.rs`,
//! `guest_sdk.rs`), through the example functions built on this crate.

use std::collections::BTreeMap;

use super::*;
use crate::events::EventError;
use crate::kv::KvError;

fn request(content_type: &str, body: &[u8]) -> Request {
    Request {
        input: Payload { content_type: content_type.to_owned(), body: body.to_vec() },
        context: Context {
            space: "acme".into(),
            function: "acme:f".into(),
            version: 1,
            invocation_id: "inv-1".into(),
            attempt: 1,
            idempotency_key: None,
            trace_id: "inv-1".into(),
            machine: None,
        },
    }
}

fn parts(error: &Error) -> (&str, &str, bool) {
    (error.code.as_str(), error.message.as_str(), error.retryable)
}

/// Serialising this fails (a JSON object's keys must be strings).
fn unencodable() -> BTreeMap<(u8, u8), u8> {
    BTreeMap::from([((1, 2), 3)])
}

#[test]
fn text_is_the_input_or_the_contents_of_a_json_string() {
    let table: &[(&str, &[u8], &str)] = &[
        ("application/json", br#""Ada""#, "Ada"),
        ("application/json; charset=utf-8", br#""Ada""#, "Ada"),
        ("application/vnd.api+json", br#""Ada""#, "Ada"),
        ("application/json", br#""line\nbreak \u00e9""#, "line\nbreak \u{e9}"),
        // JSON that is not a string, or not JSON at all, is the text as sent.
        ("application/json", br#"{"name":"Ada"}"#, r#"{"name":"Ada"}"#),
        ("application/json", b"Ada", "Ada"),
        // Another media type is never unquoted.
        ("text/plain", br#""Ada""#, r#""Ada""#),
        ("", b"Ada", "Ada"),
        ("application/octet-stream", "Zoë".as_bytes(), "Zoë"),
    ];
    for (content_type, body, want) in table {
        let text = request(content_type, body).text();
        assert_eq!(text.as_deref().map_err(parts), Ok(*want), "{content_type} {body:?}");
    }
}

#[test]
fn text_refuses_input_that_is_not_utf8() {
    for content_type in ["text/plain", "application/json"] {
        let error = request(content_type, &[b'a', 0xff]).text().expect_err("not UTF-8");
        assert_eq!(parts(&error), ("invalid_input", "the input is not UTF-8 text", false));
    }
}

#[test]
fn json_parses_the_input_into_the_type_asked_for() {
    #[derive(Debug, PartialEq, serde::Deserialize)]
    struct Charge {
        amount: u64,
        currency: String,
    }
    let charge: Charge = request("application/json", br#"{"amount":1250,"currency":"EUR"}"#).json().expect("parses");
    assert_eq!(charge, Charge { amount: 1250, currency: "EUR".into() });
    // Whatever the content type says: the body is parsed.
    let value: serde_json::Value = request("text/plain", b"[1,2]").json().expect("parses");
    assert_eq!(value, serde_json::json!([1, 2]));

    let table: &[(&[u8], &str)] = &[
        (br#"{"amount":"ten","currency":"EUR"}"#, "invalid type: string \"ten\", expected u64 at line 1 column 15"),
        (br#"{"amount":1}"#, "missing field `currency` at line 1 column 12"),
        (b"", "EOF while parsing a value at line 1 column 0"),
    ];
    for (body, cause) in table {
        let error = request("application/json", body).json::<Charge>().expect_err("refused");
        let message = format!("the input is not the JSON expected: {cause}");
        assert_eq!(parts(&error), ("invalid_input", message.as_str(), false));
    }
}

#[test]
fn responses_carry_their_media_type() {
    let text = Response::text("Hello, Ada!");
    assert_eq!((text.output.content_type.as_str(), text.output.body.as_slice()), (TEXT, b"Hello, Ada!".as_slice()));
    assert_eq!(TEXT, "text/plain; charset=utf-8");

    let json = Response::json(&serde_json::json!({"greeting": "Hello, Ada!"})).expect("encodes");
    assert_eq!(json.output.content_type, JSON);
    assert_eq!(JSON, "application/json");
    assert_eq!(json.output.body, br#"{"greeting":"Hello, Ada!"}"#);

    let bytes = Response::bytes("image/png", vec![137, 80, 78, 71]);
    assert_eq!(
        (bytes.output.content_type.as_str(), bytes.output.body.as_slice()),
        ("image/png", [137, 80, 78, 71].as_slice())
    );

    let error = Response::json(&unencodable()).expect_err("keys must be strings");
    assert_eq!(
        parts(&error),
        ("invalid_output", "the output could not be encoded as JSON: key must be a string", false)
    );
}

#[test]
fn errors_say_whether_trying_again_may_help() {
    assert_eq!(parts(&Error::new("card_declined", "declined")), ("card_declined", "declined", false));
    assert_eq!(parts(&Error::retryable("busy", "try later")), ("busy", "try later", true));
}

#[test]
fn kv_refusals_become_errors_with_stable_codes() {
    let table = [
        (
            KvError::Denied("bucket vault is not granted".into()),
            ("capability_denied", "bucket vault is not granted", false),
        ),
        (KvError::Conflict(Some(7)), ("kv_conflict", "the key changed; it is now at revision 7", true)),
        (KvError::Conflict(None), ("kv_conflict", "the key has no value", true)),
        (KvError::Invalid("key too long".into()), ("kv_invalid", "key too long", false)),
        (KvError::Unavailable("store down".into()), ("kv_unavailable", "store down", true)),
    ];
    for (refusal, want) in table {
        let name = format!("{refusal:?}");
        assert_eq!(parts(&Error::from(refusal)), want, "{name}");
    }
    assert_eq!(CAPABILITY_DENIED, "capability_denied");
}

#[test]
fn event_refusals_become_errors_with_stable_codes() {
    let table = [
        (EventError::Denied("other space".into()), ("capability_denied", "other space", false)),
        (EventError::NotFound("orders:9".into()), ("instance_not_found", "orders:9", false)),
        (EventError::Rejected("no transition".into()), ("event_rejected", "no transition", false)),
        (EventError::Invalid("bad topic".into()), ("event_invalid", "bad topic", false)),
        (EventError::Unavailable("store down".into()), ("events_unavailable", "store down", true)),
    ];
    for (refusal, want) in table {
        let name = format!("{refusal:?}");
        assert_eq!(parts(&Error::from(refusal)), want, "{name}");
    }
}

#[test]
fn payloads_that_cannot_be_encoded_are_refused_before_reaching_the_host() {
    let error = events::send_json("orders:1", "pay", &unencodable()).expect_err("refused");
    assert_eq!(parts(&error), ("invalid_payload", "the payload could not be encoded: key must be a string", false));
    let error = events::publish_json("audit", &unencodable()).expect_err("refused");
    assert_eq!(parts(&error), ("invalid_payload", "the message could not be encoded: key must be a string", false));
}
