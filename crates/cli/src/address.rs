//! Command-line addresses: `[SPACE:]MACHINE` and `[SPACE:]MACHINE:ID`.
//!
//! The space is optional; when absent the command's `--space` applies. Each part follows the
//! naming rules of docs/http-api.md, so a malformed address is a usage error before any request.

use std::fmt;

/// Longest allowed name segment.
const MAX_SEGMENT: usize = 128;

/// A machine, optionally in a named space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineRef {
    /// The space, when the address named one.
    pub space: Option<String>,
    /// The machine's name.
    pub machine: String,
}

/// An instance, optionally in a named space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceRef {
    /// The space, when the address named one.
    pub space: Option<String>,
    /// The machine's name.
    pub machine: String,
    /// The instance id.
    pub id: String,
}

impl MachineRef {
    /// The space this address names, or `default`.
    pub fn space_or<'a>(&'a self, default: &'a str) -> &'a str {
        self.space.as_deref().unwrap_or(default)
    }
}

impl InstanceRef {
    /// The space this address names, or `default`.
    pub fn space_or<'a>(&'a self, default: &'a str) -> &'a str {
        self.space.as_deref().unwrap_or(default)
    }
}

impl fmt::Display for InstanceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(space) = &self.space {
            write!(f, "{space}:")?;
        }
        write!(f, "{}:{}", self.machine, self.id)
    }
}

/// Parses `MACHINE` or `SPACE:MACHINE`.
pub fn parse_machine(text: &str) -> Result<MachineRef, String> {
    let parts: Vec<&str> = text.split(':').collect();
    let (space, machine) = match parts.as_slice() {
        [machine] => (None, *machine),
        [space, machine] => (Some(*space), *machine),
        _ => return Err(format!("expected MACHINE or SPACE:MACHINE, got \"{text}\"")),
    };
    if let Some(space) = space {
        check_segment("space", space, true)?;
    }
    check_segment("machine name", machine, false)?;
    Ok(MachineRef { space: space.map(str::to_string), machine: machine.to_string() })
}

/// Parses `MACHINE:ID` or `SPACE:MACHINE:ID`.
pub fn parse_instance(text: &str) -> Result<InstanceRef, String> {
    let parts: Vec<&str> = text.split(':').collect();
    let (space, machine, id) = match parts.as_slice() {
        [machine, id] => (None, *machine, *id),
        [space, machine, id] => (Some(*space), *machine, *id),
        _ => return Err(format!("expected MACHINE:ID or SPACE:MACHINE:ID, got \"{text}\"")),
    };
    if let Some(space) = space {
        check_segment("space", space, true)?;
    }
    check_segment("machine name", machine, false)?;
    check_segment("instance id", id, false)?;
    Ok(InstanceRef { space: space.map(str::to_string), machine: machine.to_string(), id: id.to_string() })
}

/// Checks one name: 1–128 characters of `[A-Za-z0-9._-]` (lowercase only for a space),
/// starting with a letter or digit.
fn check_segment(what: &str, text: &str, lowercase: bool) -> Result<(), String> {
    let Some(first) = text.chars().next() else {
        return Err(format!("the {what} is empty"));
    };
    if text.chars().count() > MAX_SEGMENT {
        return Err(format!("the {what} is longer than {MAX_SEGMENT} characters"));
    }
    let allowed = |c: char| {
        c.is_ascii_digit()
            || c.is_ascii_lowercase()
            || (!lowercase && c.is_ascii_uppercase())
            || matches!(c, '.' | '_' | '-')
    };
    if let Some(bad) = text.chars().find(|c| !allowed(*c)) {
        let set = if lowercase { "a-z 0-9 . _ -" } else { "A-Z a-z 0-9 . _ -" };
        return Err(format!("the {what} \"{text}\" contains {bad:?}; allowed: {set}"));
    }
    if !first.is_ascii_alphanumeric() {
        return Err(format!("the {what} \"{text}\" must start with a letter or digit"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inst(space: Option<&str>, machine: &str, id: &str) -> InstanceRef {
        InstanceRef { space: space.map(str::to_string), machine: machine.into(), id: id.into() }
    }

    #[test]
    fn instance_addresses_parse_or_explain() {
        let long = "a".repeat(129);
        let max = "a".repeat(128);
        let table: Vec<(&str, Result<InstanceRef, &str>)> = vec![
            ("orders:o-1", Ok(inst(None, "orders", "o-1"))),
            ("acme:orders:o-1", Ok(inst(Some("acme"), "orders", "o-1"))),
            ("acme:Orders:O_1.x", Ok(inst(Some("acme"), "Orders", "O_1.x"))),
            ("9a:0b:1c", Ok(inst(Some("9a"), "0b", "1c"))),
            ("orders", Err("expected MACHINE:ID or SPACE:MACHINE:ID")),
            ("a:b:c:d", Err("expected MACHINE:ID or SPACE:MACHINE:ID")),
            ("", Err("expected MACHINE:ID")),
            ("orders:", Err("the instance id is empty")),
            (":o-1", Err("the machine name is empty")),
            ("::o-1", Err("the space is empty")),
            ("Acme:orders:o-1", Err("the space \"Acme\" contains 'A'")),
            ("orders:o 1", Err("contains ' '")),
            ("orders:o/1", Err("contains '/'")),
            ("orders:-o1", Err("must start with a letter or digit")),
            ("orders:.o1", Err("must start with a letter or digit")),
            ("orders:é", Err("contains 'é'")),
        ];
        for (input, expected) in table {
            match (parse_instance(input), expected) {
                (Ok(got), Ok(want)) => assert_eq!(got, want, "{input}"),
                (Err(err), Err(want)) => assert!(err.contains(want), "{input}: {err}"),
                (got, want) => panic!("{input:?}: got {got:?}, want {want:?}"),
            }
        }
        assert!(parse_instance(&format!("m:{max}")).is_ok());
        assert!(parse_instance(&format!("m:{long}")).unwrap_err().contains("longer than 128"));
    }

    /// Expected `(space, machine)` or a fragment of the error.
    type Expected<'a> = Result<(Option<&'a str>, &'a str), &'a str>;

    #[test]
    fn machine_addresses_parse_or_explain() {
        let table: &[(&str, Expected)] = &[
            ("orders", Ok((None, "orders"))),
            ("acme:orders", Ok((Some("acme"), "orders"))),
            ("acme:orders:o-1", Err("expected MACHINE or SPACE:MACHINE")),
            ("acme:", Err("the machine name is empty")),
            ("ac me:orders", Err("contains ' '")),
        ];
        for (input, expected) in table {
            match (parse_machine(input), expected) {
                (Ok(got), Ok((space, machine))) => {
                    assert_eq!(got.space.as_deref(), *space, "{input}");
                    assert_eq!(got.machine, *machine, "{input}");
                }
                (Err(err), Err(want)) => assert!(err.contains(want), "{input}: {err}"),
                (got, want) => panic!("{input:?}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn instance_address_display_round_trips() {
        for text in ["orders:o-1", "acme:orders:o-1"] {
            assert_eq!(parse_instance(text).unwrap().to_string(), text);
        }
    }
}
