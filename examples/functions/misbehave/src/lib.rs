//! A function that misbehaves on request, used by the tests to check the sandbox's limits.
//! Input: `{"do": "…"}` with one of
//! - `echo`: returns the input;
//! - `loop`: spins forever (stopped by the wall-time limit or fuel);
//! - `spin`: spins for `{"ms"}` milliseconds, then returns;
//! - `alloc`: allocates memory until refused (stopped by the memory limit);
//! - `trap`: executes `unreachable`;
//! - `panic`: panics with a message;
//! - `kv`: reads `{"bucket", "key"}` from KV; `put`: writes `{"value"}` there as JSON;
//! - `http`: fetches `{"url"}`;
//! - `send`: sends `{"event"}` to `{"instance"}`; `publish`: publishes `{"message"}` to `{"topic"}`;
//! - `config`: returns every config value and the secret `{"secret"}`;
//! - `log`: logs `{"lines"}` lines and prints one to stdout;
//! - `fail`: returns the error `{"code"}`.

use switchyard_guest::{Error, Function, Request, Response, config, events, http, kv, log};

struct Misbehave;

impl Function for Misbehave {
    fn handle(request: Request) -> Result<Response, Error> {
        let input: serde_json::Value = request.json()?;
        let arg = |name: &str| input.get(name).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
        match arg("do").as_str() {
            "echo" => Response::json(&input),
            "loop" => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "spin" => {
                let ms = input.get("ms").and_then(|v| v.as_u64()).unwrap_or(0);
                let started = std::time::Instant::now();
                while started.elapsed() < std::time::Duration::from_millis(ms) {
                    std::hint::black_box(&started);
                }
                Response::json(&serde_json::json!({ "spun_ms": ms }))
            }
            "alloc" => {
                let mut chunks: Vec<Vec<u8>> = Vec::new();
                loop {
                    // Touch every page so the memory is really used.
                    chunks.push(vec![1u8; 1024 * 1024]);
                    std::hint::black_box(&chunks);
                }
            }
            "trap" => {
                #[cfg(target_arch = "wasm32")]
                core::arch::wasm32::unreachable();
                #[cfg(not(target_arch = "wasm32"))]
                unreachable!()
            }
            "panic" => panic!("misbehave was asked to panic"),
            "kv" => {
                let entry = kv::get(&arg("bucket"), &arg("key"))?;
                let value = entry.map(|e| String::from_utf8_lossy(&e.value).into_owned());
                Response::json(&serde_json::json!({ "value": value }))
            }
            "put" => {
                let value = serde_json::to_vec(&input.get("value"))
                    .map_err(|e| Error::new("invalid_input", format!("the value could not be encoded: {e}")))?;
                let revision = kv::set(&arg("bucket"), &arg("key"), &value, "application/json")?;
                Response::json(&serde_json::json!({ "revision": revision }))
            }
            "http" => {
                let response = http::get(&arg("url"))?;
                Response::json(&serde_json::json!({ "status": response.status, "body": response.text() }))
            }
            "send" => {
                let state = events::send_json(&arg("instance"), &arg("event"), &serde_json::json!({}))?;
                Response::json(&serde_json::json!({ "state": state }))
            }
            "publish" => {
                let seq = events::publish_json(&arg("topic"), &input.get("message"))?;
                Response::json(&serde_json::json!({ "seq": seq }))
            }
            "config" => {
                let values: serde_json::Map<String, serde_json::Value> = config::keys()
                    .into_iter()
                    .map(|k| {
                        let v = config::get(&k).unwrap_or_default();
                        (k, serde_json::Value::String(v))
                    })
                    .collect();
                Response::json(&serde_json::json!({ "config": values, "secret": config::get_secret(&arg("secret")) }))
            }
            "log" => {
                let lines = input.get("lines").and_then(|v| v.as_u64()).unwrap_or(1);
                for i in 0..lines {
                    log::log(log::Level::Info, &format!("line {i}"), &[("i".to_owned(), i.to_string())]);
                }
                println!("printed to stdout");
                Response::json(&serde_json::json!({ "logged": lines }))
            }
            "fail" => Err(Error::new(arg("code"), "failing as asked")),
            other => Err(Error::new("invalid_input", format!("unknown action {other:?}"))),
        }
    }
}

switchyard_guest::export!(Misbehave);
