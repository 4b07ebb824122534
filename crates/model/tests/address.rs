//! Address parsing and formatting: a table of inputs with the expected address or error text.

use switchyard_model::{Address, AddressError, Segment, SpaceName};

/// (input, Ok(display) | Err(error message))
const CASES: &[(&str, Result<&str, &str>)] = &[
    ("acme:orders", Ok("acme:orders")),
    ("acme:orders:o-1001", Ok("acme:orders:o-1001")),
    ("acme:site:/index.html", Ok("acme:site:/index.html")),
    ("acme:site:/docs/a b/readme.md", Ok("acme:site:/docs/a b/readme.md")),
    ("acme:site:/a:b", Ok("acme:site:/a:b")),
    ("acme:charge:3", Ok("acme:charge:3")),
    ("0-tenant.x_y:Orders:ID.1_2-3", Ok("0-tenant.x_y:Orders:ID.1_2-3")),
    ("Acme:orders", Err(r#"space name "Acme": must be lowercase"#)),
    (":orders", Err(r#"space name "": must be 1-128 characters"#)),
    ("", Err(r#"space name "": must be 1-128 characters"#)),
    ("-acme:orders", Err(r#"space name "-acme": must start with a lowercase letter or digit"#)),
    ("ac me:orders", Err(r#"space name "ac me": character ' ' is not allowed (use a-z, 0-9, '.', '_', '-')"#)),
    ("acme", Err(r#"address "acme": needs a space and at least one name after it, like "acme:orders""#)),
    ("acme::x", Err(r#"segment "": must be 1-128 characters"#)),
    ("acme:orders:", Err(r#"segment "": must be 1-128 characters"#)),
    ("acme:_orders", Err(r#"segment "_orders": must start with a letter or digit"#)),
    ("acme:or/ders", Err(r#"segment "or/ders": character '/' is not allowed (use A-Z, a-z, 0-9, '.', '_', '-')"#)),
    ("acme:ördérs", Err(r#"segment "ördérs": character 'ö' is not allowed (use A-Z, a-z, 0-9, '.', '_', '-')"#)),
    (
        "acme:/index.html",
        Err(r#"address "acme:/index.html": needs a space and at least one name after it, like "acme:orders""#),
    ),
    ("acme:site:/", Err(r#"file path "/": must name a file after '/'"#)),
    ("acme:site:/a//b", Err(r#"file path "/a//b": must not contain empty components ('//' or a trailing '/')"#)),
    ("acme:site:/a/", Err(r#"file path "/a/": must not contain empty components ('//' or a trailing '/')"#)),
    ("acme:site:/../etc/passwd", Err(r#"file path "/../etc/passwd": must not contain '.' or '..' components"#)),
    ("acme:site:/a\nb", Err(r#"file path "/a\nb": must not contain control characters"#)),
];

#[test]
fn address_parse_table() {
    for (input, expected) in CASES {
        let got = input.parse::<Address>();
        match (expected, &got) {
            (Ok(display), Ok(address)) => {
                assert_eq!(&address.to_string(), display, "input {input:?}");
                assert_eq!(display.parse::<Address>().as_ref(), Ok(address), "reparse {input:?}");
            }
            (Err(message), Err(error)) => assert_eq!(&error.to_string(), message, "input {input:?}"),
            _ => panic!("input {input:?}: expected {expected:?}, got {got:?}"),
        }
    }
}

#[test]
fn long_names_are_limited_to_128_characters() {
    let ok = "a".repeat(128);
    assert!(SpaceName::new(&ok).is_ok());
    assert!(Segment::new(&ok).is_ok());
    let long = "a".repeat(129);
    assert_eq!(
        Segment::new(&long).unwrap_err().to_string(),
        format!("segment \"{}\"…: must be 1-128 characters", "a".repeat(64))
    );
    assert!(matches!(SpaceName::new(&long), Err(AddressError::SpaceName { .. })));
}

#[test]
fn address_parts_are_exposed() {
    let a: Address = "acme:site:/docs/index.html".parse().unwrap();
    assert_eq!(a.space().as_str(), "acme");
    let segments: Vec<&str> = a.segments().iter().map(Segment::as_str).collect();
    assert_eq!(segments, ["site"]);
    assert_eq!(a.file_path(), Some("/docs/index.html"));

    let b: Address = "acme:orders:o-1".parse().unwrap();
    assert_eq!(b.file_path(), None);
    assert_eq!(
        Address::instance(
            SpaceName::new("acme").unwrap(),
            Segment::new("orders").unwrap(),
            Segment::new("o-1").unwrap()
        ),
        b
    );
    let machine = Address::new(SpaceName::new("acme").unwrap(), vec![Segment::new("orders").unwrap()]).unwrap();
    assert_eq!(machine.child(Segment::new("o-1").unwrap()), b);
    assert!(Address::new(SpaceName::new("acme").unwrap(), vec![]).is_err());
}

#[test]
fn serde_uses_the_string_form_and_validates() {
    let a: Address = "acme:orders:o-1".parse().unwrap();
    assert_eq!(serde_json::to_string(&a).unwrap(), r#""acme:orders:o-1""#);
    assert_eq!(serde_json::from_str::<Address>(r#""acme:orders:o-1""#).unwrap(), a);
    let err = serde_json::from_str::<Address>(r#""Acme:orders""#).unwrap_err();
    assert!(err.to_string().contains(r#"space name "Acme": must be lowercase"#), "{err}");
    assert_eq!(serde_json::to_string(&SpaceName::new("acme").unwrap()).unwrap(), r#""acme""#);
    assert!(serde_json::from_str::<Segment>(r#""""#).is_err());
    assert_eq!(
        serde_json::from_str::<Segment>(r#""Orders""#).unwrap(),
        Segment::try_from("Orders".to_owned()).unwrap()
    );
}

#[test]
fn addresses_order_by_space_then_segments() {
    let mut list: Vec<Address> = ["b:x", "a:y", "a:x:1", "a:x"].iter().map(|s| s.parse().unwrap()).collect();
    list.sort();
    let shown: Vec<String> = list.iter().map(ToString::to_string).collect();
    assert_eq!(shown, ["a:x", "a:x:1", "a:y", "b:x"]);
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn segment() -> impl Strategy<Value = String> {
        "[A-Za-z0-9][A-Za-z0-9._-]{0,20}"
    }

    fn address() -> impl Strategy<Value = Address> {
        (
            "[a-z0-9][a-z0-9._-]{0,20}",
            proptest::collection::vec(segment(), 1..5),
            proptest::option::of(proptest::collection::vec("[^/\\x00-\\x1f\\x7f]{1,12}", 1..4)),
        )
            .prop_filter_map("file path components must not be . or ..", |(space, segs, path)| {
                let space = SpaceName::new(&space).ok()?;
                let segs = segs.iter().map(|s| Segment::new(s)).collect::<Result<Vec<_>, _>>().ok()?;
                let address = Address::new(space, segs).ok()?;
                match path {
                    None => Some(address),
                    Some(parts) => address.with_file_path(&format!("/{}", parts.join("/"))).ok(),
                }
            })
    }

    proptest! {
        #[test]
        fn parse_display_round_trips(a in address()) {
            let text = a.to_string();
            prop_assert_eq!(text.parse::<Address>(), Ok(a.clone()));
            let json = serde_json::to_string(&a).unwrap();
            prop_assert_eq!(serde_json::from_str::<Address>(&json).unwrap(), a);
        }

        #[test]
        fn parsing_arbitrary_text_never_panics(s in "\\PC{0,40}") {
            if let Ok(a) = s.parse::<Address>() {
                prop_assert_eq!(a.to_string(), s);
            }
        }
    }
}
