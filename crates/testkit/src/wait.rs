//! Waiting for a condition instead of sleeping for a guessed time.
//!
//! A test that sleeps "long enough" for the server to do something passes on an idle laptop and
//! fails on a loaded two-core CI machine (or, worse, passes without the thing having happened).
//! These helpers poll a condition until it holds, and fail the test — saying what was awaited and
//! what was last seen — only when a deadline far beyond any healthy run has passed. Deadlines
//! bound hangs; they never measure speed.
//!
//! Polling backs off from 5 ms to 100 ms, so a condition that holds at once costs almost nothing
//! and a slow one does not spin.

use std::fmt::Debug;
use std::future::Future;
use std::time::{Duration, Instant};

/// The deadline tests use when nothing more specific applies: far beyond any healthy run on a
/// loaded two-core machine, short enough that a stuck server fails the test instead of hanging it.
pub const PATIENCE: Duration = Duration::from_secs(60);

const FIRST_PAUSE: Duration = Duration::from_millis(5);
const LONGEST_PAUSE: Duration = Duration::from_millis(100);

/// Polls `check` until it returns `Some`, and returns that value; panics naming `what` after `timeout`.
pub async fn wait_until<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    let mut pause = FIRST_PAUSE;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(LONGEST_PAUSE);
    }
}

/// Polls `observe` until `done` accepts what it returned; panics after `timeout` showing the last observation.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut observe: F, done: impl Fn(&T) -> bool) -> T
where
    T: Debug,
    F: FnMut() -> Fut,
    Fut: Future<Output = T>,
{
    let deadline = Instant::now() + timeout;
    let mut pause = FIRST_PAUSE;
    loop {
        let seen = observe().await;
        if done(&seen) {
            return seen;
        }
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}; last seen: {seen:?}");
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(LONGEST_PAUSE);
    }
}

/// [`wait_until`] for code outside any async runtime.
pub fn wait_until_blocking<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    let mut pause = FIRST_PAUSE;
    loop {
        if let Some(value) = check() {
            return value;
        }
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(LONGEST_PAUSE);
    }
}

/// Awaits `future`, panicking naming `what` if it has not finished after `timeout`: every read of a
/// stream in a test goes through this, so a server that stops sending fails the test instead of hanging it.
pub async fn within<T>(what: &str, timeout: Duration, future: impl Future<Output = T>) -> T {
    match tokio::time::timeout(timeout, future).await {
        Ok(value) => value,
        Err(_) => panic!("timed out after {timeout:?} waiting for {what}"),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[tokio::test]
    async fn wait_until_returns_the_first_value_the_condition_gives() {
        let calls = Arc::new(AtomicU32::new(0));
        let value = wait_until("the third call", PATIENCE, || {
            let calls = calls.clone();
            async move {
                let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
                (n == 3).then_some(n * 10)
            }
        })
        .await;
        assert_eq!(value, 30);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    #[should_panic(expected = "timed out after 30ms waiting for a condition that never holds")]
    async fn wait_until_fails_naming_what_it_waited_for() {
        wait_until("a condition that never holds", Duration::from_millis(30), || async { None::<()> }).await;
    }

    #[tokio::test]
    #[should_panic(expected = "last seen: 7")]
    async fn wait_for_fails_showing_the_last_observation() {
        wait_for("eight", Duration::from_millis(30), || async { 7 }, |n| *n == 8).await;
    }

    #[test]
    #[should_panic(expected = "waiting for nothing")]
    fn blocking_wait_fails_after_its_timeout() {
        wait_until_blocking("nothing", Duration::from_millis(20), || None::<()>);
    }

    #[tokio::test]
    #[should_panic(expected = "timed out after 20ms waiting for a stream that never sends")]
    async fn within_fails_a_future_that_does_not_finish() {
        within("a stream that never sends", Duration::from_millis(20), std::future::pending::<()>()).await;
    }
}
