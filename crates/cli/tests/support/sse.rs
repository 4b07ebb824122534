//! Reads server-sent events from a streaming response.

use std::time::Duration;

use serde_json::Value;

/// One server-sent event.
#[derive(Debug)]
pub struct Sse {
    /// `id:`.
    pub id: Option<u64>,
    /// `event:`.
    pub event: Option<String>,
    /// `data:`, parsed.
    pub data: Value,
}

/// Reads server-sent events from a streaming response.
pub struct SseReader {
    response: reqwest::Response,
    buffer: String,
}

impl SseReader {
    /// Opens `url` with `token`, resuming after `last_event_id`.
    pub async fn open(url: &str, token: &str, last_event_id: Option<u64>) -> SseReader {
        let mut req = reqwest::Client::new().get(url).bearer_auth(token);
        if let Some(id) = last_event_id {
            req = req.header("Last-Event-ID", id.to_string());
        }
        let response = req.send().await.expect("watch request");
        assert_eq!(response.status().as_u16(), 200, "watch refused: {}", response.text().await.unwrap_or_default());
        SseReader { response, buffer: String::new() }
    }

    /// The next event, skipping keep-alive comments; `None` after `timeout` without one.
    pub async fn next(&mut self, timeout: Duration) -> Option<Sse> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut event = Sse { id: None, event: None, data: Value::Null };
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        event.id = v.trim().parse().ok();
                    } else if let Some(v) = line.strip_prefix("event:") {
                        event.event = Some(v.trim().to_string());
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim_start());
                    }
                }
                if data.is_empty() {
                    continue; // a keep-alive comment
                }
                event.data = serde_json::from_str(&data).expect("data is JSON");
                return Some(event);
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk()).await.ok()?.expect("stream")?;
            self.buffer.push_str(std::str::from_utf8(&chunk).expect("utf-8"));
        }
    }

    /// Reads (and drops) events until the stream ends; whether it ended within `timeout`.
    /// A stream cut without its last chunk fails the test: that is not an end.
    pub async fn ends_within(&mut self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match tokio::time::timeout_at(deadline, self.response.chunk()).await {
                Err(_) => return false,
                Ok(Ok(None)) => return true,
                Ok(Ok(Some(_))) => {}
                Ok(Err(e)) => panic!("the event stream was cut, not ended: {e}"),
            }
        }
    }
}
