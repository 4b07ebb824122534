//! The OpenAPI 3.1 document served at `/v1/openapi.json`.
//!
//! Kept as a JSON file beside this module; tests check that its operations (method and path)
//! are exactly the router's, so the two cannot drift apart silently, and that it reads well to
//! client generators: every operation has a unique lowerCamelCase `operationId` and one
//! declared tag, no body or answer is `*/*`, and the `operationId`s of an API version never
//! change (`operation_ids.txt` lists them; a rename or removal needs a new `info.version`).

/// The document's text.
pub const DOCUMENT: &str = include_str!("openapi.json");

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use crate::access::Verb;

    /// The operation fields of an OpenAPI path item.
    const HTTP_METHODS: &[&str] = &["get", "put", "post", "delete", "options", "head", "patch", "trace"];

    /// The `(method, path)` pairs the router serves: [`crate::RULES`] comes from the same table
    /// as the router's routes (`routes!`), one entry per route and method. OpenAPI has no
    /// wildcard segment, so the router's `{*key}` (a key may contain `/`) is documented as `{key}`.
    pub(crate) fn routed() -> BTreeSet<(&'static str, String)> {
        crate::RULES
            .iter()
            .map(|rule| {
                let method = match rule.verb {
                    Verb::Get => "get",
                    Verb::Put => "put",
                    Verb::Post => "post",
                    Verb::Delete => "delete",
                };
                (method, rule.route.replace("{*key}", "{key}"))
            })
            .collect()
    }

    #[test]
    fn openapi_operations_are_exactly_the_routers() {
        let doc: serde_json::Value = serde_json::from_str(super::DOCUMENT).expect("openapi.json is JSON");
        let mut documented = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            // A path item's other fields (`parameters`, `summary`…) are not operations.
            for method in item.as_object().expect("a path item").keys().filter(|k| HTTP_METHODS.contains(&k.as_str())) {
                documented.insert((method.as_str(), path.clone()));
            }
        }
        let documented: BTreeSet<(&str, String)> = documented.into_iter().collect();
        assert_eq!(documented, routed());
    }

    /// Every operation: `(operationId, METHOD, path, operation)`.
    fn operations(doc: &serde_json::Value) -> Vec<(String, String, String, serde_json::Value)> {
        let mut out = Vec::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("a path item") {
                if HTTP_METHODS.contains(&method.as_str()) {
                    let id = op["operationId"].as_str().unwrap_or_default().to_string();
                    out.push((id, method.to_uppercase(), path.clone(), op.clone()));
                }
            }
        }
        out
    }

    #[test]
    fn every_operation_has_a_unique_lower_camel_case_id_and_one_declared_tag() {
        let doc: serde_json::Value = serde_json::from_str(super::DOCUMENT).expect("openapi.json is JSON");
        let declared: BTreeSet<&str> =
            doc["tags"].as_array().expect("tags").iter().filter_map(|t| t["name"].as_str()).collect();
        let mut seen = BTreeSet::new();
        for (id, method, path, op) in operations(&doc) {
            let camel =
                id.starts_with(|c: char| c.is_ascii_lowercase()) && id.chars().all(|c| c.is_ascii_alphanumeric());
            assert!(camel, "{method} {path}: operationId {id:?} is not lowerCamelCase");
            assert!(seen.insert(id.clone()), "{method} {path}: operationId {id} is used twice");
            let tags: Vec<&str> = op["tags"].as_array().into_iter().flatten().filter_map(|t| t.as_str()).collect();
            assert_eq!(tags.len(), 1, "{method} {path}: one tag per operation, not {tags:?}");
            assert!(declared.contains(tags[0]), "{method} {path}: tag {} is not declared in `tags`", tags[0]);
        }
        let used: BTreeSet<String> = operations(&doc).iter().map(|(_, _, _, op)| op["tags"][0].to_string()).collect();
        for tag in &declared {
            assert!(used.contains(&format!("{tag:?}")), "tag {tag} is declared but no operation has it");
        }
    }

    #[test]
    fn no_body_or_answer_is_a_wildcard_media_type() {
        fn media_types<'a>(value: &'a serde_json::Value, found: &mut Vec<&'a str>) {
            match value {
                serde_json::Value::Object(map) => {
                    if let Some(content) = map.get("content").and_then(|c| c.as_object()) {
                        found.extend(content.keys().map(String::as_str));
                    }
                    map.values().for_each(|v| media_types(v, found));
                }
                serde_json::Value::Array(items) => items.iter().for_each(|v| media_types(v, found)),
                _ => {}
            }
        }
        let doc: serde_json::Value = serde_json::from_str(super::DOCUMENT).expect("openapi.json is JSON");
        for (_, method, path, op) in operations(&doc) {
            let mut found = Vec::new();
            media_types(&op, &mut found);
            for media_type in found {
                assert!(!media_type.contains('*'), "{method} {path}: {media_type} names no concrete media type");
            }
        }
    }

    /// Every error answer is the shared `Error` schema, whose `code` enumerates the documented
    /// codes — but an invocation's, where the function's own error (`InvocationError`, its code
    /// the function's) may answer instead.
    #[test]
    fn every_error_answer_is_the_shared_error_schema() {
        let doc: serde_json::Value = serde_json::from_str(super::DOCUMENT).expect("openapi.json is JSON");
        let error = serde_json::json!({ "$ref": "#/components/schemas/Error" });
        let invocation = serde_json::json!({ "$ref": "#/components/schemas/InvocationError" });
        let codes = doc["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]["enum"]
            .as_array()
            .expect("the codes");
        assert!(codes.iter().any(|c| c == "invalid_transition"), "Error.code enumerates the codes");
        for (id, method, path, op) in operations(&doc) {
            let responses = op["responses"].as_object().expect("responses");
            assert!(responses.contains_key("default"), "{method} {path}: no default (error) answer");
            for (status, answer) in responses {
                if status.starts_with('2') || status == "101" {
                    continue;
                }
                for (media_type, content) in answer["content"].as_object().into_iter().flatten() {
                    let schema = &content["schema"];
                    let alternatives: Vec<&serde_json::Value> =
                        schema["anyOf"].as_array().map(|a| a.iter().collect()).unwrap_or_else(|| vec![schema]);
                    for alternative in alternatives {
                        let allowed = *alternative == error || (id == "invokeFunction" && *alternative == invocation);
                        assert!(
                            allowed,
                            "{method} {path} {status} {media_type}: {alternative} is not the Error schema"
                        );
                    }
                }
            }
        }
    }

    /// A rename or removal of an `operationId` breaks every client generated from the
    /// document: within one `info.version` the ids listed in `operation_ids.txt` stay, each on
    /// its operation, and a new operation adds its line there.
    #[test]
    fn operation_ids_are_stable_within_an_api_version() {
        let doc: serde_json::Value = serde_json::from_str(super::DOCUMENT).expect("openapi.json is JSON");
        let version = doc["info"]["version"].as_str().expect("info.version");
        let listed = include_str!("operation_ids.txt");
        let mut lines = listed.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty());
        let listed_version = lines.next().and_then(|l| l.strip_prefix("version ")).expect("a version line");
        let listed: BTreeSet<String> = lines.map(str::to_string).collect();
        let current: BTreeSet<String> =
            operations(&doc).into_iter().map(|(id, method, path, _)| format!("{id} {method} {path}")).collect();
        if listed_version != version {
            // A new API version may rename; the list is then written afresh for it.
            panic!(
                "info.version is {version} but operation_ids.txt lists version {listed_version}: write the list \
                 afresh for {version} (one line per operation: operationId METHOD path)"
            );
        }
        let gone: Vec<&String> = listed.difference(&current).collect();
        assert!(
            gone.is_empty(),
            "operationIds of API version {version} were renamed or removed (clients generated from it would break; \
             bump info.version to change them): {gone:#?}"
        );
        let new: Vec<&String> = current.difference(&listed).collect();
        assert!(new.is_empty(), "new operations: add their lines to crates/api/src/operation_ids.txt: {new:#?}");
    }
}
