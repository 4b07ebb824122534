//! Durable jobs' rules: retry policies (parsing, validation, backoff, decisions), job statuses
//! and fair selection. Tables of inputs and expected outputs, then properties.

use std::collections::BTreeMap;

use serde_json::json;
use switchyard_model::jobs::{MAX_DURATION_MS, MAX_MULTIPLIER};
use switchyard_model::{
    Candidate, DeadReason, FailedAttempt, FairCursor, Jitter, JobStatus, RetryDecision, RetryPolicy, SpaceLimits,
    select_fair,
};

fn policy(v: serde_json::Value) -> RetryPolicy {
    serde_json::from_value(v).expect("policy parses")
}

const DAY: u64 = 86_400_000;

// ---------------------------------------------------------------------------------------------
// Parsing

#[test]
fn policy_parses_the_user_facing_form() {
    let yaml = r#"{ max_attempts: 7, initial: 200ms, multiplier: 1.5, max: 30s, deadline: 1h,
                   non_retryable: [card_declined], jitter: none }"#;
    let parsed: RetryPolicy = serde_norway::from_str(yaml).unwrap();
    assert_eq!(
        parsed,
        RetryPolicy {
            max_attempts: 7,
            initial_ms: 200,
            multiplier: 1.5,
            max_ms: 30_000,
            jitter: Jitter::None,
            deadline_ms: Some(3_600_000),
            non_retryable: vec!["card_declined".to_owned()],
        }
    );
}

#[test]
fn policy_fields_default_and_durations_read_as_strings_or_milliseconds() {
    let d = RetryPolicy::default();
    let cases: Vec<(serde_json::Value, RetryPolicy)> = vec![
        (json!({}), d.clone()),
        (json!({"initial": 250, "max": 1000}), RetryPolicy { initial_ms: 250, max_ms: 1000, ..d.clone() }),
        (json!({"initial": "1h 30m"}), RetryPolicy { initial_ms: 5_400_000, max_ms: 540_000_000, ..d.clone() }),
        // An absent max is 100 × initial, within bounds.
        (json!({"initial": "2s"}), RetryPolicy { initial_ms: 2_000, max_ms: 200_000, ..d.clone() }),
        (json!({"initial": "1d"}), RetryPolicy { initial_ms: DAY, max_ms: 30 * DAY, ..d.clone() }),
        (json!({"initial": 0}), RetryPolicy { initial_ms: 0, max_ms: 1, ..d.clone() }),
        (json!({"multiplier": 3}), RetryPolicy { multiplier: 3.0, ..d.clone() }),
        (json!({"deadline": null}), d.clone()),
        (json!({"deadline": "2000us"}), RetryPolicy { deadline_ms: Some(2), ..d.clone() }),
        (json!({"jitter": "full"}), d.clone()),
        (json!({"max_attempts": 1}), RetryPolicy::no_retries()),
    ];
    for (input, expected) in cases {
        assert_eq!(policy(input.clone()), expected, "{input}");
    }
}

#[test]
fn policy_shape_errors_name_the_field() {
    let cases: Vec<(serde_json::Value, &str)> = vec![
        (json!({"max_attempt": 3}), "max_attempt: unknown field `max_attempt`"),
        (json!({"initial": "soon"}), r#"initial: invalid duration "soon": expected number at 0"#),
        (json!({"initial": "5"}), r#"initial: invalid duration "5": time unit needed"#),
        (json!({"max": "1500us"}), r#"max: invalid duration "1500us": durations are whole milliseconds"#),
        (json!({"deadline": -5}), "deadline: invalid duration -5: must not be negative"),
        (json!({"initial": 1.5}), "initial: invalid type: floating point `1.5`, expected a duration like"),
        (json!({"jitter": "equal"}), "jitter: unknown variant `equal`, expected `full` or `none`"),
        (json!({"multiplier": "2"}), "multiplier: invalid type: string \"2\", expected f64"),
        (json!({"max_attempts": -1}), "max_attempts: invalid value: integer `-1`, expected u32"),
        (json!({"non_retryable": "card_declined"}), "non_retryable: invalid type: string"),
        (json!("5s"), r#"invalid type: string "5s", expected a retry policy (a map of its settings)"#),
    ];
    for (input, expected) in cases {
        let text = input.to_string();
        let mut de = serde_json::Deserializer::from_str(&text);
        let err = serde_path_to_error::deserialize::<_, RetryPolicy>(&mut de).unwrap_err();
        let shown = format!("{}: {}", err.path(), err.inner());
        let shown = shown.trim_start_matches(".: ");
        assert!(shown.starts_with(expected), "{input}:\n  got      {shown}\n  expected {expected}…");
    }
}

#[test]
fn policy_serialises_to_a_form_that_reads_back() {
    let full = policy(json!({"max_attempts": 9, "initial": 1500, "multiplier": 1.5, "max": "2m",
                             "deadline": 86_400_000, "non_retryable": ["a", "b"], "jitter": "none"}));
    assert_eq!(
        serde_json::to_value(&full).unwrap(),
        json!({"max_attempts": 9, "initial": "1500ms", "multiplier": 1.5, "max": "2m", "deadline": "1d",
               "non_retryable": ["a", "b"], "jitter": "none"})
    );
    assert_eq!(
        serde_json::to_value(RetryPolicy::default()).unwrap(),
        json!({"max_attempts": 5, "initial": "1s", "multiplier": 2.0, "max": "100s", "jitter": "full"})
    );
    for p in [full, RetryPolicy::default(), RetryPolicy::no_retries()] {
        assert_eq!(policy(serde_json::to_value(&p).unwrap()), p);
        let yaml = serde_norway::to_string(&p).unwrap();
        assert_eq!(serde_norway::from_str::<RetryPolicy>(&yaml).unwrap(), p, "{yaml}");
    }
}

// ---------------------------------------------------------------------------------------------
// Validation

/// (policy as JSON, every expected error in order)
fn invalid_policies() -> Vec<(serde_json::Value, Vec<&'static str>)> {
    let codes: Vec<String> = (0..65).map(|i| format!("code_{i}")).collect();
    vec![
        (json!({"max_attempts": 0}), vec!["max_attempts: must be between 1 and 1000 (got 0)"]),
        (json!({"max_attempts": 1001}), vec!["max_attempts: must be between 1 and 1000 (got 1001)"]),
        (json!({"initial": 0}), vec!["initial: must be between 1ms and 30d (got 0ms)"]),
        (json!({"initial": "31d", "max": "30d"}), vec!["initial: must be between 1ms and 30d (got 31d)"]),
        (json!({"multiplier": 0.5}), vec!["multiplier: must be a number between 1 and 100 (got 0.5)"]),
        (json!({"multiplier": 101}), vec!["multiplier: must be a number between 1 and 100 (got 101)"]),
        (json!({"max": 0}), vec!["max: must be between 1ms and 30d (got 0ms)"]),
        (json!({"max": "720h 1ms"}), vec!["max: must be between 1ms and 30d (got 2592000001ms)"]),
        (json!({"initial": "10s", "max": "5s"}), vec!["max: must be at least as long as initial, 10s (got 5s)"]),
        (json!({"deadline": 0}), vec!["deadline: must be between 1ms and 30d (got 0ms)"]),
        (json!({"deadline": "31d"}), vec!["deadline: must be between 1ms and 30d (got 31d)"]),
        (json!({"non_retryable": [""]}), vec!["non_retryable[0]: an error code must be 1 to 128 characters (got 0)"]),
        (
            json!({"non_retryable": ["ok", "x".repeat(129)]}),
            vec!["non_retryable[1]: an error code must be 1 to 128 characters (got 129)"],
        ),
        (
            json!({"non_retryable": ["card declined"]}),
            vec![
                r#"non_retryable[0]: invalid error code "card declined": whitespace and control characters are not allowed"#,
            ],
        ),
        (json!({"non_retryable": ["a", "b", "a"]}), vec![r#"non_retryable[2]: error code "a" is listed twice"#]),
        (json!({"non_retryable": codes}), vec!["non_retryable: lists 65 codes; at most 64 are allowed"]),
        (
            json!({"max_attempts": 0, "initial": "2s", "multiplier": 0, "max": "1s", "deadline": 0}),
            vec![
                "max_attempts: must be between 1 and 1000 (got 0)",
                "multiplier: must be a number between 1 and 100 (got 0)",
                "max: must be at least as long as initial, 2s (got 1s)",
                "deadline: must be between 1ms and 30d (got 0ms)",
            ],
        ),
    ]
}

#[test]
fn invalid_policies_report_every_field_with_what_is_allowed() {
    for (input, expected) in invalid_policies() {
        let errors = policy(input.clone()).validate().expect_err(&input.to_string());
        let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(shown, expected, "{input}");
    }
}

#[test]
fn valid_policies_pass_validation() {
    for input in [
        json!({}),
        json!({"max_attempts": 1}),
        json!({"max_attempts": 1000, "initial": 1, "multiplier": 1, "max": 1}),
        json!({"initial": "30d", "max": "30d", "multiplier": 100, "deadline": "30d"}),
        json!({"non_retryable": ["card_declined", "function_trap", "http.404"]}),
    ] {
        assert_eq!(policy(input.clone()).validate(), Ok(()), "{input}");
    }
    let many = RetryPolicy { non_retryable: vec![String::new(); 100_000], ..RetryPolicy::default() };
    let errors = many.validate().unwrap_err();
    assert_eq!(errors.len(), 1 + 64, "the count, then the first 64 codes only");
    let nan = RetryPolicy { multiplier: f64::NAN, ..RetryPolicy::default() };
    assert_eq!(nan.validate().unwrap_err()[0].to_string(), "multiplier: must be a number between 1 and 100 (got NaN)");
}

#[test]
fn validation_paths_sit_under_the_given_field() {
    let errors = policy(json!({"max_attempts": 0, "non_retryable": [""]}))
        .validate_at("states.charging.invoke.retry")
        .unwrap_err();
    let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["states.charging.invoke.retry.max_attempts", "states.charging.invoke.retry.non_retryable[0]"]);
}

// ---------------------------------------------------------------------------------------------
// Backoff

#[test]
fn backoff_grows_to_its_cap_and_jitter_draws_below_it() {
    let none = json!({"initial": "200ms", "max": "30s", "jitter": "none"});
    let full = json!({"initial": "200ms", "max": "30s"});
    // (policy, attempt that failed, random, expected delay in ms)
    let cases: Vec<(&serde_json::Value, u32, f64, u64)> = vec![
        (&none, 1, 0.5, 200),
        (&none, 2, 0.5, 400),
        (&none, 3, 0.0, 800),
        (&none, 8, 0.0, 25_600),
        (&none, 9, 0.0, 30_000),
        (&none, 1000, 0.0, 30_000),
        (&none, u32::MAX, 0.0, 30_000),
        (&none, 0, 0.0, 200),
        (&full, 3, 0.0, 0),
        (&full, 3, 0.5, 400),
        (&full, 3, 0.999_999, 799),
        (&full, 9, 0.25, 7_500),
        (&full, 3, f64::NAN, 0),
        (&full, 3, -1.0, 0),
        (&full, 3, 7.0, 800),
        (&full, 3, f64::INFINITY, 800),
    ];
    for (p, attempt, random, expected) in cases {
        assert_eq!(policy(p.clone()).backoff(attempt, random), expected, "{p} attempt {attempt} random {random}");
    }
    let gentle = policy(json!({"initial": "1s", "multiplier": 1.5, "max": "1h", "jitter": "none"}));
    let delays: Vec<u64> = (1..=6).map(|a| gentle.backoff(a, 0.0)).collect();
    assert_eq!(delays, [1_000, 1_500, 2_250, 3_375, 5_062, 7_593]);
    let flat = policy(json!({"initial": "3s", "multiplier": 1, "jitter": "none"}));
    assert_eq!((1..=4).map(|a| flat.backoff(a, 0.0)).collect::<Vec<_>>(), [3_000; 4]);
}

#[test]
fn backoff_of_out_of_range_values_is_clamped_not_a_panic() {
    let cases: Vec<(RetryPolicy, u32, u64)> = vec![
        (RetryPolicy { multiplier: f64::NAN, jitter: Jitter::None, ..RetryPolicy::default() }, 5, 1_000),
        (RetryPolicy { multiplier: f64::INFINITY, jitter: Jitter::None, ..RetryPolicy::default() }, 2, 100_000),
        (RetryPolicy { multiplier: -3.0, jitter: Jitter::None, ..RetryPolicy::default() }, 5, 1_000),
        (RetryPolicy { initial_ms: 0, jitter: Jitter::None, ..RetryPolicy::default() }, 5, 0),
        (RetryPolicy { max_ms: 0, jitter: Jitter::None, ..RetryPolicy::default() }, 5, 0),
        (
            RetryPolicy { initial_ms: u64::MAX, max_ms: u64::MAX, jitter: Jitter::None, ..RetryPolicy::default() },
            1,
            MAX_DURATION_MS,
        ),
        (RetryPolicy { initial_ms: 5_000, max_ms: 10, jitter: Jitter::None, ..RetryPolicy::default() }, 1, 10),
    ];
    for (p, attempt, expected) in cases {
        assert_eq!(p.backoff(attempt, 0.5), expected, "{p:?} attempt {attempt}");
    }
}

// ---------------------------------------------------------------------------------------------
// Decisions

/// (policy, attempt, error code, retry-after ms, failed at ms, expected)
type DecisionCase<'a> = (&'a RetryPolicy, u32, Option<&'a str>, Option<u64>, i64, RetryDecision);

#[test]
fn after_failure_retries_or_declares_the_job_dead() {
    // Created at t = 100 s; the deadline is at 160 s.
    let p = policy(json!({"max_attempts": 3, "initial": "1s", "max": "10s", "jitter": "none",
                          "deadline": "1m", "non_retryable": ["card_declined"]}));
    let open = policy(json!({"max_attempts": 3, "initial": "1s", "max": "10s", "jitter": "none"}));
    let once = RetryPolicy::no_retries();
    let retry = |at_ms| RetryDecision::Retry { at_ms };
    let dead = |reason| RetryDecision::Dead { reason };
    let exhausted = |attempts| dead(DeadReason::AttemptsExhausted { attempts });
    let declined = dead(DeadReason::NonRetryable { code: "card_declined".to_owned() });
    let late = dead(DeadReason::DeadlineExceeded);
    let cases: Vec<DecisionCase<'_>> = vec![
        (&p, 1, Some("timeout"), None, 101_000, retry(102_000)),
        (&p, 2, Some("timeout"), None, 105_000, retry(107_000)),
        (&p, 0, Some("timeout"), None, 101_000, retry(102_000)),
        (&p, 1, None, None, 101_000, retry(102_000)),
        (&p, 3, Some("timeout"), None, 110_000, exhausted(3)),
        (&p, 7, Some("timeout"), None, 110_000, exhausted(7)),
        (&p, 1, Some("card_declined"), None, 101_000, declined.clone()),
        // A non-retryable code is reported as such even on the last attempt.
        (&p, 3, Some("card_declined"), None, 101_000, declined.clone()),
        // Codes compare exactly.
        (&p, 1, Some("Card_Declined"), None, 101_000, retry(102_000)),
        // Retry-After: no earlier than it says, past `max`, but not past the deadline.
        (&p, 1, Some("rate_limited"), Some(30_000), 101_000, retry(131_000)),
        (&p, 1, Some("rate_limited"), Some(500), 101_000, retry(102_000)),
        (&p, 1, Some("rate_limited"), Some(59_000), 101_000, retry(160_000)),
        (&p, 1, Some("rate_limited"), Some(59_001), 101_000, late.clone()),
        (&p, 1, Some("rate_limited"), Some(u64::MAX), 101_000, late.clone()),
        // The deadline: a retry exactly at it is allowed, one past it is not.
        (&p, 2, Some("timeout"), None, 158_000, retry(160_000)),
        (&p, 2, Some("timeout"), None, 158_001, late.clone()),
        (&p, 1, Some("timeout"), None, 500_000, late.clone()),
        // Without a deadline a Retry-After is honoured up to 30 days.
        (&open, 1, None, Some(40 * DAY), 101_000, retry(101_000 + 30 * DAY as i64)),
        (&open, 1, None, Some(DAY), 101_000, retry(101_000 + DAY as i64)),
        // Times at the ends of the range saturate.
        (&open, 1, None, None, i64::MAX - 10, retry(i64::MAX)),
        (&open, 2, None, None, i64::MIN, retry(i64::MIN + 2_000)),
        (&once, 1, None, None, 0, exhausted(1)),
    ];
    for (policy, attempt, code, retry_after, failed_at, expected) in cases {
        let failed = FailedAttempt {
            attempt,
            error_code: code,
            retry_after_ms: retry_after,
            failed_at_ms: failed_at,
            created_at_ms: 100_000,
            random: 0.5,
        };
        assert_eq!(policy.after_failure(&failed), expected, "{failed:?}");
    }
}

#[test]
fn dead_reasons_have_stable_codes_sentences_and_serialised_forms() {
    let cases = [
        (
            DeadReason::NonRetryable { code: "card_declined".into() },
            "non_retryable",
            r#"error code "card_declined" is not retryable"#,
            json!({"kind": "non_retryable", "code": "card_declined"}),
        ),
        (
            DeadReason::AttemptsExhausted { attempts: 5 },
            "attempts_exhausted",
            "all 5 attempts failed",
            json!({"kind": "attempts_exhausted", "attempts": 5}),
        ),
        (
            DeadReason::AttemptsExhausted { attempts: 1 },
            "attempts_exhausted",
            "its only attempt failed",
            json!({"kind": "attempts_exhausted", "attempts": 1}),
        ),
        (
            DeadReason::DeadlineExceeded,
            "deadline_exceeded",
            "the next attempt would fall after the retry deadline",
            json!({"kind": "deadline_exceeded"}),
        ),
    ];
    for (reason, code, sentence, serialised) in cases {
        assert_eq!(reason.code(), code);
        assert_eq!(reason.to_string(), sentence);
        assert_eq!(serde_json::to_value(&reason).unwrap(), serialised);
        assert_eq!(serde_json::from_value::<DeadReason>(serialised).unwrap(), reason);
    }
    assert_eq!(
        serde_json::to_value(RetryDecision::Retry { at_ms: 5 }).unwrap(),
        json!({"decision": "retry", "at_ms": 5})
    );
}

// ---------------------------------------------------------------------------------------------
// Statuses

#[test]
fn job_statuses_are_spelled_once_and_parse_back() {
    let cases = [
        (JobStatus::Pending, "pending", false),
        (JobStatus::Running, "running", false),
        (JobStatus::Succeeded, "succeeded", true),
        (JobStatus::Dead, "dead", true),
        (JobStatus::Cancelled, "cancelled", true),
    ];
    assert_eq!(cases.len(), JobStatus::ALL.len());
    for (status, text, terminal) in cases {
        assert_eq!(status.as_str(), text);
        assert_eq!(status.to_string(), text);
        assert_eq!(JobStatus::parse(text), Ok(status));
        assert_eq!(text.parse::<JobStatus>(), Ok(status));
        assert_eq!(status.is_terminal(), terminal, "{text}");
        assert_eq!(serde_json::to_value(status).unwrap(), json!(text));
        assert_eq!(serde_json::from_value::<JobStatus>(json!(text)).unwrap(), status);
    }
    for bad in ["Pending", "canceled", "done", "", " dead"] {
        let err = JobStatus::parse(bad).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("unknown job status {bad:?}; expected pending, running, succeeded, dead or cancelled")
        );
        assert!(serde_json::from_value::<JobStatus>(json!(bad)).is_err());
    }
}

// ---------------------------------------------------------------------------------------------
// Fair selection

fn job<'a>(id: &'a str, space: &'a str, key: Option<&'a str>, priority: i32, run_at_ms: i64) -> Candidate<'a, &'a str> {
    Candidate { id, space, concurrency_key: key, priority, run_at_ms }
}

fn running(pairs: &[(&str, u32)]) -> BTreeMap<String, u32> {
    pairs.iter().map(|(s, n)| ((*s).to_owned(), *n)).collect()
}

#[test]
fn a_busy_space_cannot_delay_another_spaces_single_job() {
    let mut candidates: Vec<Candidate<'_, String>> = (0..10_000)
        .map(|i| Candidate { id: format!("a{i}"), space: "a", concurrency_key: None, priority: 0, run_at_ms: i })
        .collect();
    candidates.push(Candidate { id: "b0".into(), space: "b", concurrency_key: None, priority: 0, run_at_ms: 50_000 });
    let picked = select_fair(&candidates, &BTreeMap::new(), &SpaceLimits::new(100), 2, &FairCursor::default());
    assert_eq!(picked.start, ["a0", "b0"]);
    assert_eq!(picked.cursor.last_space(), Some("b"));
    // One slot: the cursor hands it to the other space next round.
    let first = select_fair(&candidates, &BTreeMap::new(), &SpaceLimits::new(100), 1, &FairCursor::default());
    assert_eq!(first.start, ["a0"]);
    let second = select_fair(&candidates[1..], &BTreeMap::new(), &SpaceLimits::new(100), 1, &first.cursor);
    assert_eq!(second.start, ["b0"]);
}

/// (candidates, running per space, limits, free slots, expected picks, expected cursor space)
type SelectionCase<'a> =
    (&'a [Candidate<'a, &'a str>], BTreeMap<String, u32>, SpaceLimits, usize, Vec<&'a str>, Option<&'a str>);

#[test]
fn fair_selection_cases() {
    let ab = [
        job("a1", "a", None, 0, 1),
        job("a2", "a", None, 0, 2),
        job("a3", "a", None, 0, 3),
        job("b1", "b", None, 0, 1),
        job("b2", "b", None, 0, 2),
        job("c1", "c", None, 0, 9),
    ];
    let lanes = [
        job("x1", "s", Some("x"), 0, 1),
        job("x2", "s", Some("x"), 0, 2),
        job("x3", "s", Some("x"), 0, 3),
        job("y1", "s", Some("y"), 0, 4),
        job("n1", "s", None, 0, 5),
    ];
    let priorities = [
        job("low-early", "s", None, 1, 10),
        job("high-late", "s", None, 5, 20),
        job("high-early", "s", None, 5, 15),
        job("neg", "s", None, -4, 0),
    ];
    let with_override = SpaceLimits { default: 10, overrides: [("b".to_owned(), 0)].into() };
    let cases: Vec<SelectionCase<'_>> = vec![
        (&ab, running(&[]), SpaceLimits::new(10), 10, vec!["a1", "b1", "c1", "a2", "b2", "a3"], Some("a")),
        (&ab, running(&[]), SpaceLimits::new(10), 4, vec!["a1", "b1", "c1", "a2"], Some("a")),
        (&ab, running(&[]), SpaceLimits::new(10), 0, vec![], None),
        (&ab, running(&[("a", 9)]), SpaceLimits::new(10), 10, vec!["a1", "b1", "c1", "b2"], Some("b")),
        (&ab, running(&[("a", 12)]), SpaceLimits::new(10), 10, vec!["b1", "c1", "b2"], Some("b")),
        (&ab, running(&[]), SpaceLimits::new(1), 10, vec!["a1", "b1", "c1"], Some("c")),
        (&ab, running(&[]), SpaceLimits::new(0), 10, vec![], None),
        (&ab, running(&[]), with_override, 10, vec!["a1", "c1", "a2", "a3"], Some("a")),
        // Lanes take turns (no-key lane first, then keys in order); a key is not a mutex.
        (&lanes, running(&[]), SpaceLimits::new(10), 10, vec!["n1", "x1", "y1", "x2", "x3"], Some("s")),
        (&lanes, running(&[("s", 7)]), SpaceLimits::new(10), 10, vec!["n1", "x1", "y1"], Some("s")),
        // Within a lane: priority, then run_at.
        (
            &priorities,
            running(&[]),
            SpaceLimits::new(10),
            10,
            vec!["high-early", "high-late", "low-early", "neg"],
            Some("s"),
        ),
        (&[], running(&[]), SpaceLimits::new(10), 10, vec![], None),
    ];
    for (candidates, running, limits, slots, expected, cursor) in cases {
        let picked = select_fair(candidates, &running, &limits, slots, &FairCursor::default());
        assert_eq!(picked.start, expected, "{running:?} {limits:?} slots {slots}");
        assert_eq!(picked.cursor.last_space(), cursor);
    }
}

#[test]
fn the_cursor_rotates_spaces_and_lanes_between_rounds() {
    let mut left = vec![
        job("a1", "a", Some("x"), 0, 1),
        job("a2", "a", Some("x"), 0, 2),
        job("a3", "a", Some("y"), 0, 3),
        job("b1", "b", None, 0, 1),
        job("b2", "b", None, 0, 2),
        job("c1", "c", None, 0, 1),
    ];
    let mut cursor = FairCursor::default();
    let mut served = Vec::new();
    while !left.is_empty() {
        let round = select_fair(&left, &BTreeMap::new(), &SpaceLimits::new(10), 1, &cursor);
        assert_eq!(round.start.len(), 1);
        served.push(round.start[0]);
        left.retain(|c| c.id != round.start[0]);
        cursor = round.cursor;
    }
    // Space a serves lane x, then (next time round) lane y, then x again.
    assert_eq!(served, ["a1", "b1", "c1", "a3", "b2", "a2"]);
    assert_eq!(cursor.last_lane("a"), Some(Some("x")));
    let idle = select_fair(&left, &BTreeMap::new(), &SpaceLimits::new(10), 1, &cursor);
    assert!(idle.start.is_empty());
    assert_eq!(idle.cursor.last_space(), Some("a"));
    assert_eq!(idle.cursor.last_lane("a"), None, "spaces without candidates are forgotten");
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    // --- Retry policies ---------------------------------------------------------------------

    fn any_policy() -> impl Strategy<Value = RetryPolicy> {
        let float = prop_oneof![
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(0.0),
            Just(1.0),
            -10.0..1000.0f64,
            any::<f64>(),
        ];
        (any::<u32>(), any::<u64>(), float, any::<u64>(), any::<bool>(), proptest::option::of(any::<u64>())).prop_map(
            |(max_attempts, initial_ms, multiplier, max_ms, full, deadline_ms)| RetryPolicy {
                max_attempts,
                initial_ms,
                multiplier,
                max_ms,
                jitter: if full { Jitter::Full } else { Jitter::None },
                deadline_ms,
                non_retryable: vec!["fatal".to_owned()],
            },
        )
    }

    fn valid_policy(jitter: Jitter) -> impl Strategy<Value = RetryPolicy> {
        (
            1..=1000u32,
            1..=MAX_DURATION_MS,
            1.0..=MAX_MULTIPLIER,
            0..=MAX_DURATION_MS,
            proptest::option::of(1..=MAX_DURATION_MS),
        )
            .prop_map(move |(max_attempts, initial_ms, multiplier, extra, deadline_ms)| RetryPolicy {
                max_attempts,
                initial_ms,
                multiplier,
                max_ms: initial_ms + extra % (MAX_DURATION_MS - initial_ms + 1),
                jitter,
                deadline_ms,
                non_retryable: vec!["fatal".to_owned()],
            })
    }

    fn any_jitter() -> impl Strategy<Value = Jitter> {
        prop_oneof![Just(Jitter::Full), Just(Jitter::None)]
    }

    proptest! {
        #[test]
        fn any_policy_any_input_never_panics_and_stays_under_the_cap(
            p in any_policy(),
            attempt in any::<u32>(),
            random in any::<f64>(),
            retry_after in proptest::option::of(any::<u64>()),
            failed_at in any::<i64>(),
            created_at in any::<i64>(),
            code in proptest::option::of(prop_oneof![Just("fatal"), Just("other")]),
        ) {
            let cap = p.backoff_cap(attempt);
            prop_assert!(cap <= p.max_ms.min(MAX_DURATION_MS));
            prop_assert!(p.backoff(attempt, random) <= cap);
            prop_assert!(p.backoff_cap(attempt.saturating_add(1)) >= cap);
            let _ = p.validate();
            let failed = FailedAttempt {
                attempt, error_code: code, retry_after_ms: retry_after,
                failed_at_ms: failed_at, created_at_ms: created_at, random,
            };
            if let RetryDecision::Retry { at_ms } = p.after_failure(&failed) {
                prop_assert!(at_ms >= failed_at);
            }
        }

        #[test]
        fn valid_policies_validate_and_round_trip(p in valid_policy(Jitter::Full)) {
            prop_assert_eq!(p.validate(), Ok(()));
            let back: RetryPolicy = serde_json::from_value(serde_json::to_value(&p).unwrap()).unwrap();
            prop_assert_eq!(back, p);
        }

        #[test]
        fn the_cap_follows_the_formula(p in valid_policy(Jitter::None), attempt in 1..=1000u32) {
            let cap = p.backoff_cap(attempt);
            prop_assert!(cap >= p.initial_ms && cap <= p.max_ms, "{} not in [{}, {}]", cap, p.initial_ms, p.max_ms);
            let exact = p.initial_ms as f64 * p.multiplier.powi(attempt as i32 - 1);
            if exact < p.max_ms as f64 {
                // Within float rounding of the formula (the power is taken step by step).
                prop_assert!((cap as f64 - exact.floor()).abs() <= 1.0 + exact * 1e-12, "{} vs {}", cap, exact);
            } else {
                prop_assert!(cap + 1 >= p.max_ms);
            }
            prop_assert_eq!(p.backoff(attempt, 0.7), cap);
        }

        #[test]
        fn full_jitter_draws_within_zero_and_the_cap(
            p in valid_policy(Jitter::Full),
            attempt in 1..=1000u32,
            random in 0.0..1.0f64,
        ) {
            let delay = p.backoff(attempt, random);
            let cap = p.backoff_cap(attempt);
            prop_assert!(delay <= cap);
            prop_assert!(delay as f64 <= random * cap as f64);
        }

        #[test]
        fn without_jitter_the_retry_time_grows_with_the_attempt(
            p in valid_policy(Jitter::None),
            attempt in 1..999u32,
            failed_at in -1_000_000_000_000i64..1_000_000_000_000,
            retry_after in proptest::option::of(0..=2 * MAX_DURATION_MS),
        ) {
            let p = RetryPolicy { max_attempts: 1000, deadline_ms: None, ..p };
            let at = |attempt| {
                let failed = FailedAttempt {
                    attempt, error_code: None, retry_after_ms: retry_after,
                    failed_at_ms: failed_at, created_at_ms: failed_at, random: 0.3,
                };
                match p.after_failure(&failed) {
                    RetryDecision::Retry { at_ms } => at_ms,
                    dead => panic!("{dead:?}"),
                }
            };
            prop_assert!(at(attempt) <= at(attempt + 1));
        }

        #[test]
        fn retries_respect_retry_after_and_the_deadline(
            p in valid_policy(Jitter::Full),
            jitter in any_jitter(),
            attempt in 1..=1000u32,
            retry_after in proptest::option::of(0..=2 * MAX_DURATION_MS),
            created_at in -1_000_000_000_000i64..1_000_000_000_000,
            age in 0..=2 * MAX_DURATION_MS as i64,
            random in 0.0..1.0f64,
            fatal in any::<bool>(),
        ) {
            let p = RetryPolicy { jitter, ..p };
            let failed = FailedAttempt {
                attempt, error_code: Some(if fatal { "fatal" } else { "other" }), retry_after_ms: retry_after,
                failed_at_ms: created_at + age, created_at_ms: created_at, random,
            };
            match p.after_failure(&failed) {
                RetryDecision::Retry { at_ms } => {
                    prop_assert!(!fatal && attempt < p.max_attempts);
                    let wait = (at_ms - failed.failed_at_ms) as u64;
                    let expected = p.backoff(attempt, random).max(retry_after.unwrap_or(0).min(MAX_DURATION_MS));
                    prop_assert_eq!(wait, expected);
                    if let Some(deadline) = p.deadline_ms {
                        prop_assert!(at_ms <= created_at + deadline as i64);
                    }
                }
                RetryDecision::Dead { reason: DeadReason::NonRetryable { code } } => {
                    prop_assert!(fatal && code == "fatal");
                }
                RetryDecision::Dead { reason: DeadReason::AttemptsExhausted { attempts } } => {
                    prop_assert!(!fatal && attempts == attempt && attempt >= p.max_attempts);
                }
                RetryDecision::Dead { reason: DeadReason::DeadlineExceeded } => {
                    prop_assert!(!fatal && attempt < p.max_attempts);
                    let deadline = p.deadline_ms.expect("a deadline");
                    let wait = p.backoff(attempt, random).max(retry_after.unwrap_or(0).min(MAX_DURATION_MS));
                    prop_assert!(failed.failed_at_ms + wait as i64 > created_at + deadline as i64);
                }
            }
        }
    }

    // --- Fair selection ---------------------------------------------------------------------

    const SPACES: [&str; 5] = ["a", "b", "c", "d", "e"];
    const KEYS: [Option<&str>; 4] = [None, Some("k1"), Some("k2"), Some("k3")];

    #[derive(Debug, Clone)]
    struct Round {
        candidates: Vec<(usize, usize, i32, i64)>,
        running: BTreeMap<String, u32>,
        limits: SpaceLimits,
        slots: usize,
        warm_up_slots: usize,
    }

    fn round() -> impl Strategy<Value = Round> {
        (
            proptest::collection::vec((0..SPACES.len(), 0..KEYS.len(), -2..3i32, 0..20i64), 0..80),
            proptest::collection::vec(0..6u32, SPACES.len()),
            0..6u32,
            proptest::collection::vec(proptest::option::of(0..8u32), SPACES.len()),
            0..40usize,
            0..40usize,
        )
            .prop_map(|(candidates, running, default, overrides, slots, warm_up_slots)| Round {
                candidates,
                running: SPACES.iter().zip(running).map(|(s, n)| ((*s).to_owned(), n)).collect(),
                limits: SpaceLimits {
                    default,
                    overrides: SPACES.iter().zip(overrides).filter_map(|(s, o)| Some(((*s).to_owned(), o?))).collect(),
                },
                slots,
                warm_up_slots,
            })
    }

    fn candidates(round: &Round) -> Vec<Candidate<'static, usize>> {
        round
            .candidates
            .iter()
            .enumerate()
            .map(|(id, &(space, key, priority, run_at_ms))| Candidate {
                id,
                space: SPACES[space],
                concurrency_key: KEYS[key],
                priority,
                run_at_ms,
            })
            .collect()
    }

    /// Runs a warm-up round to get a cursor a real scheduler could hold, then the round.
    fn run(round: &Round) -> (Vec<Candidate<'static, usize>>, FairCursor, Vec<usize>, FairCursor) {
        let all = candidates(round);
        let warm = select_fair(&all, &round.running, &round.limits, round.warm_up_slots, &FairCursor::default());
        let picked = select_fair(&all, &round.running, &round.limits, round.slots, &warm.cursor);
        (all, warm.cursor, picked.start, picked.cursor)
    }

    fn room(round: &Round, space: &str) -> usize {
        round.limits.limit(space).saturating_sub(round.running.get(space).copied().unwrap_or(0)) as usize
    }

    proptest! {
        #[test]
        fn limits_and_slots_are_never_exceeded_and_no_room_is_wasted(r in round()) {
            let (all, _, start, _) = run(&r);
            prop_assert!(start.len() <= r.slots);
            let mut seen = std::collections::BTreeSet::new();
            for &id in &start {
                prop_assert!(id < all.len() && seen.insert(id), "picked {} twice or invented it", id);
            }
            let mut usable = 0;
            for space in SPACES {
                let picked = start.iter().filter(|&&id| all[id].space == space).count();
                let waiting = all.iter().filter(|c| c.space == space).count();
                prop_assert!(picked <= room(&r, space), "{}: {} picked, room {}", space, picked, room(&r, space));
                usable += waiting.min(room(&r, space));
            }
            prop_assert_eq!(start.len(), usable.min(r.slots));
        }

        #[test]
        fn every_space_with_work_and_room_is_served_once_before_any_twice(r in round()) {
            let (all, _, start, _) = run(&r);
            let eligible: Vec<&str> =
                SPACES.into_iter().filter(|s| room(&r, s) > 0 && all.iter().any(|c| c.space == *s)).collect();
            let first_turn: Vec<&str> = start.iter().take(eligible.len()).map(|&id| all[id].space).collect();
            let distinct: std::collections::BTreeSet<&str> = first_turn.iter().copied().collect();
            prop_assert_eq!(distinct.len(), first_turn.len(), "{:?}", first_turn);
            if r.slots >= eligible.len() {
                prop_assert_eq!(distinct, eligible.iter().copied().collect::<std::collections::BTreeSet<_>>());
            }
            // Spaces' shares differ by at most one, unless the smaller one ran out of work or room.
            for s1 in SPACES {
                for s2 in SPACES {
                    let n = |s: &str| start.iter().filter(|&&id| all[id].space == s).count();
                    let waiting = all.iter().filter(|c| c.space == s2).count();
                    if n(s2) < waiting.min(room(&r, s2)) {
                        prop_assert!(n(s1) <= n(s2) + 1, "{} got {}, {} got {}", s1, n(s1), s2, n(s2));
                    }
                }
            }
        }

        #[test]
        fn lanes_share_a_space_and_run_best_first(r in round()) {
            let (all, _, start, _) = run(&r);
            for space in SPACES {
                let n = |key: Option<&str>| {
                    start.iter().filter(|&&id| all[id].space == space && all[id].concurrency_key == key).count()
                };
                for k1 in KEYS {
                    // Within a lane: the best candidates, in order.
                    let mut lane: Vec<usize> = (0..all.len())
                        .filter(|&i| all[i].space == space && all[i].concurrency_key == k1)
                        .collect();
                    lane.sort_by_key(|&i| (std::cmp::Reverse(all[i].priority), all[i].run_at_ms, i));
                    let picked: Vec<usize> = start.iter().copied().filter(|&id| lane.contains(&id)).collect();
                    prop_assert_eq!(&picked[..], &lane[..picked.len()]);
                    // Across lanes: shares differ by at most one unless a lane ran dry.
                    for k2 in KEYS {
                        let waiting = all.iter().filter(|c| c.space == space && c.concurrency_key == k2).count();
                        if n(k2) < waiting {
                            let (n1, n2) = (n(k1), n(k2));
                            prop_assert!(n1 <= n2 + 1, "{}: {:?} got {}, {:?} got {}", space, k1, n1, k2, n2);
                        }
                    }
                }
            }
        }

        #[test]
        fn a_round_starts_after_the_space_served_last(r in round()) {
            let (all, before, start, after) = run(&r);
            let eligible: Vec<&str> =
                SPACES.into_iter().filter(|s| room(&r, s) > 0 && all.iter().any(|c| c.space == *s)).collect();
            match start.first() {
                None => prop_assert_eq!(after.last_space(), before.last_space()),
                Some(&first) => {
                    let expected = match before.last_space() {
                        Some(last) => eligible.iter().find(|s| **s > last).or(eligible.first()),
                        None => eligible.first(),
                    };
                    prop_assert_eq!(Some(all[first].space), expected.copied());
                    prop_assert_eq!(after.last_space(), Some(all[*start.last().unwrap()].space));
                }
            }
        }

        #[test]
        fn one_slot_rounds_visit_the_spaces_in_turn(
            counts in proptest::collection::vec(1..6usize, SPACES.len()),
            warm_up in 0..SPACES.len(),
        ) {
            let mut left: Vec<Candidate<'static, usize>> = Vec::new();
            for (s, &n) in counts.iter().enumerate() {
                for k in 0..n {
                    let (id, space, concurrency_key) = (left.len(), SPACES[s], KEYS[k % 3]);
                    left.push(Candidate { id, space, concurrency_key, priority: 0, run_at_ms: k as i64 });
                }
            }
            let limits = SpaceLimits::new(100);
            let mut cursor = select_fair(&left, &BTreeMap::new(), &limits, warm_up, &FairCursor::default()).cursor;
            let mut served: Vec<&str> = Vec::new();
            let rounds = *counts.iter().min().unwrap() * SPACES.len();
            for _ in 0..rounds {
                let round = select_fair(&left, &BTreeMap::new(), &limits, 1, &cursor);
                let id = round.start[0];
                served.push(left.iter().find(|c| c.id == id).unwrap().space);
                left.retain(|c| c.id != id);
                cursor = round.cursor;
            }
            // While every space has work, each window of |spaces| rounds serves each space once,
            // in name order: the space served last is served first after everyone else.
            for (i, space) in served.iter().enumerate() {
                prop_assert_eq!(*space, served[i % SPACES.len()]);
            }
            let mut window: Vec<&str> = served[..SPACES.len()].to_vec();
            let first = window[0];
            window.sort();
            prop_assert_eq!(window, SPACES.to_vec());
            let start = SPACES.iter().position(|s| *s == first).unwrap();
            for (i, space) in served.iter().enumerate() {
                prop_assert_eq!(*space, SPACES[(start + i) % SPACES.len()]);
            }
        }
    }
}
