//! The schema only grows: `proto/switchyard` checked against the last release's copy
//! (`proto/baseline/<version>`) with buf's wire- and JSON-compatibility rules, written as code.
//! A client generated from the baseline must keep working against today's server: nothing it
//! can send or receive may be removed, renumbered, retyped, renamed or moved in or out of a
//! oneof, and no method may change its messages or streaming.
//!
//! At a release, copy `proto/switchyard` to `proto/baseline/<version>/switchyard` and point
//! [`BASELINE`] at it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use prost_types::field_descriptor_proto::Label;
use prost_types::{DescriptorProto, FieldDescriptorProto, FileDescriptorProto, FileDescriptorSet};

/// The last release's schema.
const BASELINE: &str = "baseline/v0.1.0";

fn proto_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../proto")
}

fn compile(root: &Path) -> FileDescriptorSet {
    protox::compile([root.join("switchyard/v1/switchyard.proto")], [root])
        .unwrap_or_else(|e| panic!("compiling {}: {e}", root.display()))
}

fn compile_text(text: &str) -> FileDescriptorSet {
    let dir = scratch_dir();
    let file = dir.join("switchyard/v1/switchyard.proto");
    std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
    std::fs::write(&file, text).expect("write");
    let set = compile(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    set
}

fn scratch_dir() -> PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("switchyard-proto-compat-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Every message of a set, nested ones included, by full name.
fn messages(set: &FileDescriptorSet) -> HashMap<String, DescriptorProto> {
    fn walk(prefix: &str, message: &DescriptorProto, out: &mut HashMap<String, DescriptorProto>) {
        let name = format!("{prefix}.{}", message.name());
        for nested in &message.nested_type {
            walk(&name, nested, out);
        }
        out.insert(name, message.clone());
    }
    let mut out = HashMap::new();
    for file in &set.file {
        for message in &file.message_type {
            walk(&format!(".{}", file.package()), message, &mut out);
        }
    }
    out
}

/// The real oneof a field is in (a proto3 `optional` is a synthetic oneof, not a real one).
fn oneof_of(message: &DescriptorProto, field: &FieldDescriptorProto) -> Option<String> {
    field
        .oneof_index
        .filter(|_| !field.proto3_optional())
        .and_then(|i| message.oneof_decl.get(usize::try_from(i).ok()?))
        .map(|o| o.name().to_owned())
}

/// What a client built from `old` would find broken in `new`, one line per change.
fn breaking_changes(old: &FileDescriptorSet, new: &FileDescriptorSet) -> Vec<String> {
    let mut problems = Vec::new();
    let files = |set: &FileDescriptorSet| -> HashMap<String, FileDescriptorProto> {
        set.file.iter().map(|f| (f.name().to_owned(), f.clone())).collect()
    };
    let (old_files, new_files) = (files(old), files(new));
    for (name, old_file) in &old_files {
        let Some(new_file) = new_files.get(name) else {
            problems.push(format!("file {name} was removed"));
            continue;
        };
        if old_file.package() != new_file.package() {
            problems.push(format!("file {name} changed package {} to {}", old_file.package(), new_file.package()));
        }
        let go = |f: &FileDescriptorProto| f.options.as_ref().map(|o| o.go_package().to_owned());
        if go(old_file) != go(new_file) {
            problems.push(format!("file {name} changed go_package"));
        }
        for old_service in &old_file.service {
            let Some(new_service) = new_file.service.iter().find(|s| s.name() == old_service.name()) else {
                problems.push(format!("service {} was removed", old_service.name()));
                continue;
            };
            for old_method in &old_service.method {
                let path = format!("{}/{}", old_service.name(), old_method.name());
                let Some(new_method) = new_service.method.iter().find(|m| m.name() == old_method.name()) else {
                    problems.push(format!("method {path} was removed"));
                    continue;
                };
                if old_method.input_type() != new_method.input_type() {
                    problems.push(format!("method {path} changed its request type"));
                }
                if old_method.output_type() != new_method.output_type() {
                    problems.push(format!("method {path} changed its response type"));
                }
                if old_method.client_streaming() != new_method.client_streaming()
                    || old_method.server_streaming() != new_method.server_streaming()
                {
                    problems.push(format!("method {path} changed its streaming"));
                }
            }
        }
        for old_enum in &old_file.enum_type {
            let Some(new_enum) = new_file.enum_type.iter().find(|e| e.name() == old_enum.name()) else {
                problems.push(format!("enum {} was removed", old_enum.name()));
                continue;
            };
            for value in &old_enum.value {
                match new_enum.value.iter().find(|v| v.number() == value.number()) {
                    None => problems.push(format!("enum value {}.{} was removed", old_enum.name(), value.name())),
                    Some(v) if v.name() != value.name() => problems.push(format!(
                        "enum value {}.{} was renamed {}",
                        old_enum.name(),
                        value.name(),
                        v.name()
                    )),
                    Some(_) => {}
                }
            }
        }
    }
    let new_messages = messages(new);
    for (name, old_message) in messages(old) {
        let Some(new_message) = new_messages.get(&name) else {
            problems.push(format!("message {name} was removed"));
            continue;
        };
        for old_field in &old_message.field {
            let field = format!("{name}.{}", old_field.name());
            let Some(new_field) = new_message.field.iter().find(|f| f.number() == old_field.number()) else {
                problems.push(format!("field {field} (number {}) was removed", old_field.number()));
                continue;
            };
            if new_field.name() != old_field.name() {
                problems.push(format!("field {field} was renamed {} (its JSON name changes)", new_field.name()));
            }
            if new_field.r#type() != old_field.r#type() || new_field.type_name() != old_field.type_name() {
                problems.push(format!("field {field} changed type"));
            }
            let repeated = |f: &FieldDescriptorProto| f.label() == Label::Repeated;
            if repeated(new_field) != repeated(old_field) || new_field.proto3_optional() != old_field.proto3_optional()
            {
                problems.push(format!("field {field} changed label (repeated or optional)"));
            }
            if oneof_of(&old_message, old_field) != oneof_of(new_message, new_field) {
                problems.push(format!("field {field} moved in or out of a oneof"));
            }
        }
        for new_field in &new_message.field {
            let reserved_number =
                old_message.reserved_range.iter().any(|r| (r.start()..r.end()).contains(&new_field.number()));
            if reserved_number || old_message.reserved_name.iter().any(|n| n == new_field.name()) {
                problems.push(format!("field {name}.{} reuses a reserved number or name", new_field.name()));
            }
        }
    }
    problems.sort();
    problems
}

#[test]
fn the_schema_keeps_every_client_of_the_last_release_working() {
    let old = compile(&proto_dir().join(BASELINE));
    let new = compile(&proto_dir());
    let problems = breaking_changes(&old, &new);
    assert!(problems.is_empty(), "breaking changes against {BASELINE}:\n{}", problems.join("\n"));
}

/// The rules catch what they are for: each edit of the baseline below breaks clients.
#[test]
fn the_check_finds_each_kind_of_breaking_change() {
    let base_text =
        std::fs::read_to_string(proto_dir().join(BASELINE).join("switchyard/v1/switchyard.proto")).expect("baseline");
    let base = compile_text(&base_text);
    assert!(breaking_changes(&base, &base).is_empty());
    let edits: [(&str, &str, &str, &str); 9] = [
        (
            "a removed field",
            "  string expected_state = 7;\n",
            "",
            "field .switchyard.v1.ApplyEventRequest.expected_state (number 7) was removed",
        ),
        (
            "a renumbered field",
            "  string event = 4;",
            "  string event = 40;",
            "ApplyEventRequest.event (number 4) was removed",
        ),
        (
            "a renamed field",
            "  string event = 4;",
            "  string event_name = 4;",
            "ApplyEventRequest.event was renamed event_name",
        ),
        (
            "a retyped field",
            "  uint64 correlation_id = 1;\n  ApplyEventRequest",
            "  string correlation_id = 1;\n  ApplyEventRequest",
            "ApplyEventsRequest.correlation_id changed type",
        ),
        ("a field made repeated", "  string kind = 2;", "  repeated string kind = 2;", "LogRecord.kind changed label"),
        (
            "a field moved out of a oneof",
            "    Error error = 5;\n  }\n}\n\nmessage InvokeOutput",
            "  }\n  Error error = 5;\n}\n\nmessage InvokeOutput",
            "InvokeResponse.error moved in or out of a oneof",
        ),
        (
            "a removed method",
            "  rpc Publish(PublishRequest) returns (PublishResponse);\n",
            "",
            "method Topics/Publish was removed",
        ),
        (
            "a method's streaming",
            "rpc Watch(WatchRequest) returns (stream WatchResponse);",
            "rpc Watch(WatchRequest) returns (WatchResponse);",
            "method Watch/Watch changed its streaming",
        ),
        (
            "a removed message",
            "message DeleteKeyResponse {\n  uint64 revision = 1;\n  uint64 seq = 2;\n}\n",
            "",
            "message .switchyard.v1.DeleteKeyResponse was removed",
        ),
    ];
    for (what, from, to, expected) in edits {
        assert!(base_text.contains(from), "{what}: the baseline has no {from:?}");
        let mut edited = base_text.replacen(from, to, 1);
        if what == "a removed message" {
            // Keeps it compiling: the method that answered it now answers another message.
            edited = edited.replace("returns (DeleteKeyResponse)", "returns (PutKeyResponse)");
        }
        let problems = breaking_changes(&base, &compile_text(&edited));
        assert!(problems.iter().any(|p| p.contains(expected)), "{what}: expected {expected:?} in {problems:?}");
    }
    // Growing is fine: a new field, message and service.
    let grown = base_text
        .replacen(
            "  optional uint64 expected_revision = 8;\n",
            "  optional uint64 expected_revision = 8;\n  string trace_id = 9;\n",
            1,
        )
        .replacen(
            "service Topics {",
            "service Extra {\n  rpc Ping(PublishRequest) returns (PublishResponse);\n}\n\nservice Topics {",
            1,
        )
        + "\nmessage Added {\n  string x = 1;\n}\n";
    let problems = breaking_changes(&base, &compile_text(&grown));
    assert!(problems.is_empty(), "{problems:?}");
}
