//! The OpenAPI 3.1 document served at `/v1/openapi.json`.
//!
//! Kept as a JSON file beside this module; a test checks that its operations (method and path)
//! are exactly the router's, so the two cannot drift apart silently.

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
}
