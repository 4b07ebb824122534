//! The console's stylesheet and script, compiled into the binary and served with a version
//! (a hash of their content) in their URL, so a browser may keep them until they change.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// Every asset: (file name, media type, content).
const ASSETS: &[(&str, &str, &str)] = &[
    ("console.css", "text/css; charset=utf-8", include_str!("../assets/console.css")),
    ("console.js", "text/javascript; charset=utf-8", include_str!("../assets/console.js")),
];

/// The bytes the console's assets add to the binary.
pub const ASSETS_BYTES: usize =
    include_str!("../assets/console.css").len() + include_str!("../assets/console.js").len();

static VERSIONS: LazyLock<Vec<String>> = LazyLock::new(|| {
    ASSETS.iter().map(|(_, _, content)| hex::encode(&Sha256::digest(content.as_bytes())[..6])).collect()
});

/// The URL of an asset, with its version.
pub fn url(file: &str) -> String {
    let version = ASSETS.iter().position(|(name, _, _)| *name == file).and_then(|i| VERSIONS.get(i));
    match version {
        Some(v) => format!("/console/assets/{file}?v={v}"),
        None => format!("/console/assets/{file}"),
    }
}

/// Serves an asset.
pub async fn serve(Path(file): Path<String>) -> Response {
    let Some((_, media_type, content)) = ASSETS.iter().find(|(name, _, _)| *name == file) else {
        return (StatusCode::NOT_FOUND, "no such asset").into_response();
    };
    let mut response = (*content).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(media_type));
    // The URL changes with the content: a day is safe, and a new binary's pages name new URLs.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=86400"));
    response
}
