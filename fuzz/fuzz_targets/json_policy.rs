//! The JSON depth and size policy (`switchyard_model::json`) on arbitrary bytes.
//!
//! Properties: the text pre-scan and the check on the parsed value agree on every text
//! `serde_json` parses; `from_slice` never panics and never returns a value outside the policy;
//! the size counter agrees with the serialiser.

#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use switchyard_model::json::{self, MAX_DEPTH};

fuzz_target!(|data: &[u8]| {
    let scanned = json::scan_depth(data);
    if let Ok(value) = serde_json::from_slice::<Value>(data) {
        let checked = json::check_depth(&value);
        assert_eq!(scanned.is_ok(), checked.is_ok(), "scan {scanned:?} vs check {checked:?}");
        assert_eq!(checked.is_ok(), json::depth(&value) <= MAX_DEPTH);
        let exact = serde_json::to_vec(&value).expect("a parsed value serialises").len();
        assert_eq!(json::encoded_len_up_to(&value, usize::MAX - 1), exact);
        assert!(json::encoded_len_up_to(&value, exact / 2) > exact / 2);
        if checked.is_ok() {
            assert!(json::check_value(&value, exact).is_ok());
        }
        if exact > 0 && checked.is_ok() {
            assert!(json::check_value(&value, exact - 1).is_err());
        }
    }
    match json::from_slice::<Value>(data) {
        Ok(value) => assert!(json::depth(&value) <= MAX_DEPTH),
        Err(json::JsonParseError::Limit(_)) => assert!(scanned.is_err()),
        Err(json::JsonParseError::Syntax(_)) => {}
    }
});
