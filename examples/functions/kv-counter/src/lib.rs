//! Counts calls in a KV bucket with compare-and-set, so concurrent calls never lose a count.
//! Input: `{"key": "…"}` (default `hits`). The bucket is the config value `bucket` (default
//! `counters`); deploy with `--kv counters`.

use switchyard_guest::{Error, Function, Request, Response, config, kv, log};

struct Counter;

impl Function for Counter {
    fn handle(request: Request) -> Result<Response, Error> {
        let input: serde_json::Value = request.json().unwrap_or(serde_json::Value::Null);
        let key = input.get("key").and_then(|k| k.as_str()).unwrap_or("hits").to_owned();
        let bucket = config::get("bucket").unwrap_or_else(|| "counters".to_owned());
        for _ in 0..100 {
            let current = kv::get(&bucket, &key)?;
            let (count, expected) = match &current {
                Some(entry) => {
                    let n: u64 = std::str::from_utf8(&entry.value).ok().and_then(|s| s.parse().ok()).unwrap_or(0);
                    (n + 1, Some(entry.revision))
                }
                None => (1, None),
            };
            match kv::compare_and_set(&bucket, &key, expected, count.to_string().as_bytes(), "text/plain") {
                Ok(revision) => {
                    log::info(&format!("{key} is now {count}"));
                    return Response::json(&serde_json::json!({ "key": key, "count": count, "revision": revision }));
                }
                Err(kv::KvError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::retryable("contended", "the counter changed 100 times in a row; try again"))
    }
}

switchyard_guest::export!(Counter);
