//! Trigger definitions: the issue's examples compile, each source and target fires what it
//! says, filters refuse, and every broken definition is refused naming the field.

use serde_json::{Value, json};
use switchyard_model::DefinitionFormat;
use switchyard_model::trigger::{CompiledTrigger, Firing, Overlap, Source, compile_trigger, parse_trigger};

fn trigger(yaml: &str) -> CompiledTrigger {
    let def = parse_trigger(yaml.as_bytes(), DefinitionFormat::Yaml).expect("parses");
    compile_trigger(def, "acme", "t").unwrap_or_else(|e| panic!("{e}: {:?}", e.field_errors()))
}

fn refused(yaml: &str) -> String {
    let def = match parse_trigger(yaml.as_bytes(), DefinitionFormat::Yaml) {
        Ok(def) => def,
        Err(e) => return e.to_string(),
    };
    match compile_trigger(def, "acme", "t") {
        Ok(_) => panic!("compiled: {yaml}"),
        Err(e) => e.field_errors().iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"),
    }
}

#[test]
fn the_issues_examples_fire_a_flow() {
    let payment = trigger(
        r#"
source: { webhook: { scheme: standard-webhooks, secrets: ["{{secrets.payments_hook}}"] } }
filter: "body.type == 'payment.succeeded'"
target: { flow: "acme:fulfil", input: "body.data" }
"#,
    );
    assert!(matches!(payment.source, Source::Webhook(_)));
    let body = json!({ "type": "payment.succeeded", "data": { "order": "o-1" } });
    let (headers, query, id) = (json!({}), json!({}), json!("msg_1"));
    let vars = [("body", &body), ("headers", &headers), ("query", &query), ("delivery_id", &id)];
    assert_eq!(
        payment.fire(&vars, now()).unwrap(),
        Some(Firing::Flow { flow: "fulfil".into(), input: json!({ "order": "o-1" }) })
    );
    let other = json!({ "type": "payment.failed" });
    assert_eq!(payment.fire(&[("body", &other)], now()).unwrap(), None, "the filter refuses it");

    let report = trigger(
        r#"
source: { cron: { schedule: "0 9 * * MON-FRI", timezone: "Europe/Paris" } }
target: { flow: "acme:report", input: "{'at': fire_time}" }
"#,
    );
    let Source::Schedule { schedule, overlap, catch_up_ms } = &report.source else { panic!("a schedule") };
    assert_eq!((*overlap, *catch_up_ms), (Overlap::Skip, 0));
    // 2026-12-04 (a Friday) 12:00 UTC: the next is Monday 09:00 in Paris, 08:00 UTC.
    assert_eq!(schedule.next_after(1_796_385_600_000), Some(1_796_630_400_000));
    let at = json!("2026-12-07T08:00:00Z");
    assert_eq!(
        report.fire(&[("fire_time", &at)], now()).unwrap(),
        Some(Firing::Flow { flow: "report".into(), input: json!({ "at": "2026-12-07T08:00:00Z" }) })
    );
}

#[test]
fn every_target_kind_fires_with_its_fields() {
    let body = json!({ "order": "o-7", "total": 12, "customer": "c-1" });
    let vars: [(&str, &Value); 1] = [("body", &body)];
    let fire = |target: &str| {
        trigger(&format!(
            "source: {{ webhook: {{ scheme: github, secrets: ['{{{{secrets.gh}}}}'] }} }}\ntarget: {target}\n"
        ))
        .fire(&vars, now())
        .unwrap()
        .unwrap()
    };
    assert_eq!(
        fire("{ machine: order, id: \"body.order\", input: \"{'total': body.total}\" }"),
        Firing::Machine { machine: "order".into(), id: Some("o-7".into()), ctx: json!({ "total": 12 }) }
    );
    assert_eq!(
        fire("{ instance: \"'order:' + body.order\", event: paid, create: true }"),
        Firing::Event { instance: "order:o-7".into(), event: "paid".into(), payload: body.clone(), create: true }
    );
    assert_eq!(fire("{ function: notify }"), Firing::Function { function: "notify".into(), input: body.clone() });
    assert_eq!(
        fire("{ topic: orders, key: body.customer }"),
        Firing::Publish { topic: "orders".into(), message: body.clone(), key: Some("c-1".into()) }
    );
    // A mapping that does not give what the field needs is an error naming it.
    let bad = trigger(
        "source: { webhook: { scheme: github, secrets: ['{{secrets.gh}}'] } }\ntarget: { machine: order, id: body.total }\n",
    );
    assert_eq!(bad.fire(&vars, now()).unwrap_err().field, "target.id");
}

#[test]
fn event_patterns_intervals_and_one_off_times() {
    let t = trigger(
        "source: { event: { when: \"record.kind == 'instance.transitioned' && record.payload.to == 'paid'\" } }\ntarget: { topic: paid }\n",
    );
    let paid = json!({ "kind": "instance.transitioned", "payload": { "to": "paid" }, "seq": 9 });
    let shipped = json!({ "kind": "instance.transitioned", "payload": { "to": "shipped" } });
    assert!(t.matches_record(&[("record", &paid)], now()).unwrap());
    assert!(!t.matches_record(&[("record", &shipped)], now()).unwrap());
    assert_eq!(
        t.fire(&[("record", &paid)], now()).unwrap(),
        Some(Firing::Publish { topic: "paid".into(), message: paid.clone(), key: None })
    );

    let every =
        trigger("source: { interval: { every: 15m, overlap: buffer_one, catch_up: 1h } }\ntarget: { flow: sync }\n");
    let Source::Schedule { schedule, overlap, catch_up_ms } = &every.source else { panic!("a schedule") };
    assert_eq!((schedule.next_after(0), *overlap, *catch_up_ms), (Some(900_000), Overlap::BufferOne, 3_600_000));
    let fire_time = json!("1970-01-01T00:15:00Z");
    assert_eq!(
        every.fire(&[("fire_time", &fire_time)], now()).unwrap(),
        Some(Firing::Flow { flow: "sync".into(), input: json!({ "fire_time": "1970-01-01T00:15:00Z" }) })
    );
    let once = trigger("source: { at: { time: '2027-01-01T00:00:00+01:00' } }\ntarget: { flow: sync }\n");
    let Source::Schedule { schedule, .. } = &once.source else { panic!("a schedule") };
    assert_eq!(schedule.next_after(0), Some(1_798_758_000_000));
}

#[test]
fn every_broken_trigger_is_refused_naming_the_field() {
    let hook = "source: { webhook: { scheme: github, secrets: ['{{secrets.gh}}'] } }";
    let cases: &[(&str, &str)] = &[
        ("source: {}\ntarget: { flow: f }", "source: give one of webhook"),
        ("source: { cron: { schedule: '* * * * *' }, interval: { every: 1m } }\ntarget: { flow: f }", "exactly one of"),
        (&format!("{hook}\ntarget: {{}}"), "target: give one of flow"),
        (&format!("{hook}\ntarget: {{ flow: f, topic: t }}"), "target: give exactly one"),
        ("source: { cron: { schedule: '61 * * * *' } }\ntarget: { flow: f }", "source.cron: cron pattern"),
        ("source: { cron: { schedule: '* * * * *', timezone: Mars/Base } }\ntarget: { flow: f }", "not an IANA zone"),
        (
            "source: { interval: { every: 10ms } }\ntarget: { flow: f }",
            "source.interval.every: an interval is at least",
        ),
        ("source: { at: { time: tomorrow } }\ntarget: { flow: f }", "source.at.time"),
        (
            "source: { webhook: { scheme: svix, secrets: ['{{secrets.a}}'] } }\ntarget: { flow: f }",
            "source.webhook.scheme",
        ),
        (
            "source: { webhook: { scheme: stripe, secrets: [whsec_abc] } }\ntarget: { flow: f }",
            "must be a reference to a space secret",
        ),
        ("source: { webhook: { scheme: stripe } }\ntarget: { flow: f }", "source.webhook.secrets: missing"),
        (
            "source: { webhook: { scheme: hmac, secrets: ['{{secrets.a}}'] } }\ntarget: { flow: f }",
            "source.webhook.header",
        ),
        (
            "source: { webhook: { scheme: github, secrets: ['{{secrets.a}}'], prefix: x } }\ntarget: { flow: f }",
            "only the hmac scheme",
        ),
        (&format!("{hook}\nfilter: 'body.type =='\ntarget: {{ flow: f }}"), "filter: "),
        (&format!("{hook}\ntarget: {{ flow: 'other:f' }}"), "in another space"),
        (&format!("{hook}\ntarget: {{ instance: \"'m:1'\" }}"), "target.event: missing"),
        (&format!("{hook}\ntarget: {{ flow: f, id: 'body.id' }}"), "target.id: goes with `machine`"),
        ("source: { event: { when: 'record.nope(' } }\ntarget: { flow: f }", "source.event.when"),
        (&format!("{hook}\ntarget: {{ flow: f, input: 'fire_time' }}"), "target.input"),
        (&format!("name: other\n{hook}\ntarget: {{ flow: f }}"), "name: is \"other\""),
        (&format!("{hook}\ntarget: {{ flow: f }}\nretries: 3"), "unknown field"),
    ];
    for (yaml, needle) in cases {
        let errors = refused(yaml);
        assert!(errors.contains(needle), "{yaml}\n  expected {needle:?} in:\n{errors}");
    }
}

fn now() -> switchyard_model::trigger::Now {
    chrono::DateTime::parse_from_rfc3339("2026-12-04T09:00:00Z").unwrap()
}

#[test]
fn every_example_trigger_compiles() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/triggers");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("examples/triggers") {
        let path = entry.expect("entry").path();
        let text = std::fs::read(&path).expect("read");
        let parsed = parse_trigger(&text, DefinitionFormat::Yaml).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let name = parsed.name.clone().expect("every example names itself");
        compile_trigger(parsed, "acme", &name).unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
        seen += 1;
    }
    assert_eq!(seen, 4);
}
