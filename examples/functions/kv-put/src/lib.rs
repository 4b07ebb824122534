//! Writes one JSON value to a KV bucket. Input: `{"key": "…", "value": …}`. The bucket is the
//! config value `bucket` (default `items`); deploy with `--kv items`.

use switchyard_guest::{Error, Function, Request, Response, config, kv};

struct Put;

impl Function for Put {
    fn handle(request: Request) -> Result<Response, Error> {
        let input: serde_json::Value = request.json()?;
        let Some(key) = input.get("key").and_then(|k| k.as_str()) else {
            return Err(Error::new("bad_input", "the input needs a string `key`"));
        };
        let value = input.get("value").cloned().unwrap_or(serde_json::Value::Null);
        let bucket = config::get("bucket").unwrap_or_else(|| "items".to_owned());
        let bytes = serde_json::to_vec(&value).map_err(|e| Error::new("bad_input", e.to_string()))?;
        let revision = kv::set(&bucket, key, &bytes, "application/json")?;
        Response::json(&serde_json::json!({ "bucket": bucket, "key": key, "revision": revision }))
    }
}

switchyard_guest::export!(Put);
