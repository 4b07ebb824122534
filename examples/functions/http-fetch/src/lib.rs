//! Fetches a URL and returns its status and body. Input: `{"url": "http://…"}`. The host must
//! be allow-listed: deploy with `--allow-host HOST[:PORT]`.

use switchyard_guest::{Error, Function, Request, Response, http};

struct Fetch;

#[derive(serde::Deserialize)]
struct Input {
    url: String,
}

impl Function for Fetch {
    fn handle(request: Request) -> Result<Response, Error> {
        let input: Input = request.json()?;
        let response = http::get(&input.url)?;
        Response::json(&serde_json::json!({ "status": response.status, "body": response.text() }))
    }
}

switchyard_guest::export!(Fetch);
