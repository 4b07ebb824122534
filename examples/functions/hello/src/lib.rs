//! Greets its input: a name as text or a JSON string, or `{"name": "…"}`.

use switchyard_guest::{Error, Function, Request, Response};

struct Hello;

impl Function for Hello {
    fn handle(request: Request) -> Result<Response, Error> {
        let name = match request.json::<serde_json::Value>() {
            Ok(serde_json::Value::Object(o)) => o.get("name").and_then(|n| n.as_str()).unwrap_or("world").to_owned(),
            _ => request.text()?,
        };
        Response::json(&serde_json::json!({ "greeting": format!("Hello, {name}!") }))
    }
}

switchyard_guest::export!(Hello);
