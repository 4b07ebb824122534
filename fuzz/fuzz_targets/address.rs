//! Addresses, space names and segments from arbitrary text.
//!
//! Properties: parsing never panics; whatever parses prints back to text that parses to an
//! equal value (`a.to_string().parse() == Ok(a)`), also through serde; the parts of a parsed
//! address rebuild it.

#![no_main]

use libfuzzer_sys::fuzz_target;
use switchyard_model::{Address, Segment, SpaceName};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(address) = text.parse::<Address>() {
        let printed = address.to_string();
        assert_eq!(printed.parse::<Address>().as_ref(), Ok(&address), "{text:?} printed as {printed:?}");
        let json = serde_json::to_string(&address).expect("an address serialises");
        assert_eq!(serde_json::from_str::<Address>(&json).ok().as_ref(), Some(&address));
        let mut rebuilt = Address::new(address.space().clone(), address.segments().to_vec()).expect("has segments");
        if let Some(path) = address.file_path() {
            rebuilt = rebuilt.with_file_path(path).expect("its own file path is valid");
        }
        assert_eq!(rebuilt, address);
    }
    if let Ok(space) = SpaceName::new(text) {
        assert_eq!(space.as_str(), text);
        assert_eq!(space.to_string().parse::<SpaceName>().as_ref(), Ok(&space));
        assert_eq!(serde_json::from_value::<SpaceName>(serde_json::json!(text)).ok().as_ref(), Some(&space));
    }
    if let Ok(segment) = Segment::new(text) {
        assert_eq!(segment.as_str(), text);
        assert_eq!(segment.to_string().parse::<Segment>().as_ref(), Ok(&segment));
        // Every valid segment after a valid space is a valid address.
        let address = Address::new(SpaceName::new("acme").expect("valid"), vec![segment.clone()]).expect("valid");
        assert_eq!(format!("acme:{text}").parse::<Address>().as_ref(), Ok(&address));
    }
});
