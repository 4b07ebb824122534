//! The OpenAPI 3.1 document served at `/v1/openapi.json`.
//!
//! Kept as a JSON file beside this module; a test checks that its paths are exactly the
//! router's routes, so the two cannot drift apart silently.

/// The document's text.
pub const DOCUMENT: &str = include_str!("openapi.json");

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    #[test]
    fn openapi_paths_match_the_router() {
        let doc: serde_json::Value = serde_json::from_str(super::DOCUMENT).expect("openapi.json is JSON");
        let paths: BTreeSet<&str> = doc["paths"].as_object().expect("paths").keys().map(String::as_str).collect();
        // OpenAPI has no wildcard segment: the router's `{*key}` (a key may contain `/`) is
        // documented as `{key}`.
        let routes: BTreeSet<String> = crate::ROUTES.iter().map(|r| r.replace("{*key}", "{key}")).collect();
        let routes: BTreeSet<&str> = routes.iter().map(String::as_str).collect();
        assert_eq!(paths, routes);
    }
}
