//! Admission of invocations: node-wide slots, a node-wide memory budget, and per-space shares of
//! both, granted fairly across spaces.
//!
//! An invocation reserves one slot and its function's memory limit before its guest is
//! instantiated, and gives both back when it ends. Invariants:
//! - At most `slots` invocations run at once, and the memory limits of those running add up to
//!   at most `budget` bytes. A guest's linear memory never grows past its own limit (the
//!   resource limiter), so the memory guests can commit together is bounded by the budget, not
//!   by slots × the largest limit.
//! - One space runs at most `space_slots` invocations at once and reserves at most
//!   `space_budget` bytes, so at least `slots / space_slots` spaces can always run side by side
//!   however hard one of them floods.
//! - Waiters queue per space; whenever room frees up the spaces with waiters are served
//!   round-robin (the space served last goes to the back), not first-come-first-served over
//!   all, so a space with one waiter is served next even behind hundreds of another space's.
//!   Within a space, waiters are served in order. A space whose first waiter does not fit yet
//!   (memory) does not stop the others: admission is work-conserving, and a waiter is bounded
//!   by its deadline either way.
//! - A waiter that reaches its deadline (or whose future is dropped) leaves its queue; a grant
//!   that raced with that is handed back, never leaked.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::oneshot;

use crate::RuntimeStats;

/// Why an invocation was not admitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The function's memory limit is larger than the space's share of the budget, so it can
    /// never run on this node as configured.
    NeverFits { asked: u64, space_budget: u64, budget: u64 },
    /// No room came free before the invocation's deadline.
    TimedOut { asked: u64, budget: u64, reserved: u64, running: u32, space_running: u32, waiting: u64 },
}

/// The limits admission enforces.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AdmissionLimits {
    pub(crate) slots: u32,
    pub(crate) space_slots: u32,
    pub(crate) budget: u64,
    pub(crate) space_budget: u64,
}

struct Waiter {
    id: u64,
    bytes: u64,
    grant: oneshot::Sender<()>,
}

#[derive(Default)]
struct SpaceState {
    running: u32,
    reserved: u64,
    waiting: VecDeque<Waiter>,
}

#[derive(Default)]
struct State {
    running: u32,
    reserved: u64,
    spaces: HashMap<String, SpaceState>,
    /// Spaces with waiters, in the order they are served next.
    turns: VecDeque<String>,
    next_id: u64,
    waiting: u64,
}

/// Grants slots and memory to invocations.
pub(crate) struct Admission {
    limits: AdmissionLimits,
    state: Mutex<State>,
    stats: Arc<RuntimeStats>,
}

/// One admitted invocation's slot and memory; handed back on drop.
pub(crate) struct Permit {
    admission: Arc<Admission>,
    space: String,
    bytes: u64,
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.admission.release(&self.space, self.bytes);
    }
}

/// A waiter's place in its queue; leaves it (or hands a raced grant back) when dropped.
struct Place<'a> {
    admission: &'a Arc<Admission>,
    space: &'a str,
    id: u64,
    bytes: u64,
    grant: oneshot::Receiver<()>,
    /// Set once the outcome (a permit or a refusal) is settled and accounted for.
    settled: bool,
}

impl Drop for Place<'_> {
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        let mut state = self.admission.lock();
        if !self.admission.leave(&mut state, self.space, self.id) && self.grant.try_recv().is_ok() {
            // Granted while leaving: the grant was counted, so give it back.
            drop(state);
            self.admission.release(self.space, self.bytes);
        }
    }
}

impl Admission {
    pub(crate) fn new(limits: AdmissionLimits, stats: Arc<RuntimeStats>) -> Arc<Admission> {
        stats.memory_budget_bytes.store(limits.budget, Ordering::Relaxed);
        Arc::new(Admission { limits, state: Mutex::new(State::default()), stats })
    }

    pub(crate) fn limits(&self) -> AdmissionLimits {
        self.limits
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is updated in whole steps under the lock; a panic elsewhere cannot leave
        // it half-changed.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until the invocation fits, at most until `deadline`.
    pub(crate) async fn admit(self: &Arc<Self>, space: &str, bytes: u64, deadline: Instant) -> Result<Permit, Refusal> {
        if bytes > self.limits.space_budget {
            self.stats.capacity_refusals.fetch_add(1, Ordering::Relaxed);
            return Err(Refusal::NeverFits {
                asked: bytes,
                space_budget: self.limits.space_budget,
                budget: self.limits.budget,
            });
        }
        let (sender, receiver) = oneshot::channel();
        let id = {
            let mut state = self.lock();
            let id = state.next_id;
            state.next_id += 1;
            let entry = state.spaces.entry(space.to_owned()).or_default();
            let first = entry.waiting.is_empty();
            entry.waiting.push_back(Waiter { id, bytes, grant: sender });
            if first {
                state.turns.push_back(space.to_owned());
            }
            state.waiting += 1;
            self.dispatch(&mut state);
            id
        };
        let mut place = Place { admission: self, space, id, bytes, grant: receiver, settled: false };
        let granted = tokio::time::timeout_at(deadline.into(), &mut place.grant).await;
        match granted {
            Ok(Ok(())) => {
                place.settled = true;
                Ok(Permit { admission: self.clone(), space: space.to_owned(), bytes })
            }
            // The sender is only dropped after a send or when the waiter is removed, which only
            // its own `Place` does; treat it as a timeout all the same.
            Ok(Err(_)) | Err(_) => {
                let mut state = self.lock();
                let left = self.leave(&mut state, space, id);
                place.settled = true;
                if !left && place.grant.try_recv().is_ok() {
                    // Granted at the last moment: run after all.
                    return Ok(Permit { admission: self.clone(), space: space.to_owned(), bytes });
                }
                let space_running = state.spaces.get(space).map_or(0, |s| s.running);
                self.stats.capacity_refusals.fetch_add(1, Ordering::Relaxed);
                Err(Refusal::TimedOut {
                    asked: bytes,
                    budget: self.limits.budget,
                    reserved: state.reserved,
                    running: state.running,
                    space_running,
                    waiting: state.waiting,
                })
            }
        }
    }

    /// Removes a waiter from its queue; false when it is no longer there (it was granted).
    fn leave(&self, state: &mut State, space: &str, id: u64) -> bool {
        let Some(entry) = state.spaces.get_mut(space) else { return false };
        let Some(index) = entry.waiting.iter().position(|w| w.id == id) else { return false };
        entry.waiting.remove(index);
        let now_empty = entry.waiting.is_empty();
        let idle = now_empty && entry.running == 0;
        if now_empty {
            state.turns.retain(|s| s.as_str() != space);
        }
        if idle {
            state.spaces.remove(space);
        }
        state.waiting -= 1;
        self.publish(state);
        // Its leaving may let a smaller waiter behind it in the same space through.
        self.dispatch(state);
        true
    }

    fn release(&self, space: &str, bytes: u64) {
        let mut state = self.lock();
        state.running -= 1;
        state.reserved -= bytes;
        if let Some(entry) = state.spaces.get_mut(space) {
            entry.running -= 1;
            entry.reserved -= bytes;
            if entry.running == 0 && entry.waiting.is_empty() {
                state.spaces.remove(space);
            }
        }
        self.dispatch(&mut state);
    }

    /// Grants what fits, serving the spaces with waiters in turn.
    fn dispatch(&self, state: &mut State) {
        let limits = self.limits;
        let mut unserved = state.turns.len();
        while unserved > 0 && state.running < limits.slots {
            let Some(space) = state.turns.pop_front() else { break };
            let global_room = limits.budget - state.reserved;
            let Some(entry) = state.spaces.get_mut(&space) else { continue };
            let fits = entry.waiting.front().is_some_and(|w| {
                entry.running < limits.space_slots
                    && w.bytes <= global_room
                    && w.bytes <= limits.space_budget - entry.reserved
            });
            if !fits {
                state.turns.push_back(space);
                unserved -= 1;
                continue;
            }
            let Some(waiter) = entry.waiting.pop_front() else { continue };
            state.waiting -= 1;
            if waiter.grant.send(()).is_err() {
                // Its `Place` is being dropped and will find it gone: nothing was granted.
                if !entry.waiting.is_empty() {
                    state.turns.push_front(space);
                } else if entry.running == 0 {
                    state.spaces.remove(&space);
                }
                unserved = state.turns.len();
                continue;
            }
            entry.running += 1;
            entry.reserved += waiter.bytes;
            state.running += 1;
            state.reserved += waiter.bytes;
            if !entry.waiting.is_empty() {
                state.turns.push_back(space);
            }
            // A grant changes what fits: give every space another look.
            unserved = state.turns.len();
        }
        self.publish(state);
    }

    fn publish(&self, state: &State) {
        self.stats.memory_reserved_bytes.store(state.reserved, Ordering::Relaxed);
        self.stats.running_invocations.store(u64::from(state.running), Ordering::Relaxed);
        self.stats.waiting_invocations.store(state.waiting, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn admission(slots: u32, space_slots: u32, budget: u64, space_budget: u64) -> Arc<Admission> {
        Admission::new(AdmissionLimits { slots, space_slots, budget, space_budget }, Arc::default())
    }

    fn soon(ms: u64) -> Instant {
        Instant::now() + Duration::from_millis(ms)
    }

    #[tokio::test]
    async fn memory_beyond_the_budget_waits_then_is_refused() {
        let admission = admission(10, 10, 100, 100);
        let first = admission.admit("a", 60, soon(1000)).await.expect("fits");
        assert_eq!(admission.stats.memory_reserved_bytes.load(Ordering::Relaxed), 60);
        let refused = admission.admit("b", 60, soon(50)).await.err().expect("over the budget");
        assert!(matches!(refused, Refusal::TimedOut { asked: 60, budget: 100, reserved: 60, .. }), "{refused:?}");
        drop(first);
        assert_eq!(admission.stats.memory_reserved_bytes.load(Ordering::Relaxed), 0);
        let _second = admission.admit("b", 60, soon(50)).await.expect("fits once the first ended");
    }

    #[tokio::test]
    async fn a_waiter_runs_once_memory_is_given_back() {
        let admission = admission(10, 10, 100, 100);
        let first = admission.admit("a", 100, soon(1000)).await.expect("fits");
        let waiting = {
            let admission = admission.clone();
            tokio::spawn(async move { admission.admit("a", 50, soon(5000)).await.is_ok() })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(admission.stats.waiting_invocations.load(Ordering::Relaxed), 1);
        drop(first);
        assert!(waiting.await.expect("task"));
        assert_eq!(admission.stats.waiting_invocations.load(Ordering::Relaxed), 0);
    }

    #[tokio::test]
    async fn larger_than_the_space_share_is_refused_at_once() {
        let admission = admission(10, 5, 1000, 500);
        let refused = admission.admit("a", 600, soon(10_000)).await.err().expect("never fits");
        assert_eq!(refused, Refusal::NeverFits { asked: 600, space_budget: 500, budget: 1000 });
    }

    #[tokio::test]
    async fn one_space_cannot_take_every_slot() {
        let admission = admission(4, 2, 1000, 1000);
        let _a1 = admission.admit("a", 1, soon(100)).await.expect("a1");
        let _a2 = admission.admit("a", 1, soon(100)).await.expect("a2");
        assert!(admission.admit("a", 1, soon(30)).await.is_err(), "a third of space a waits past its deadline");
        let _b = admission.admit("b", 1, soon(30)).await.expect("space b still runs");
    }

    #[tokio::test]
    async fn waiters_are_served_round_robin_across_spaces() {
        let admission = admission(1, 1, 1000, 1000);
        let running = admission.admit("a", 1, soon(100)).await.expect("first");
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        // Space a queues three, then space b one: b must be served second, not fourth.
        for (space, name) in [("a", "a1"), ("a", "a2"), ("a", "a3"), ("b", "b1")] {
            let (admission, order) = (admission.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                let permit = admission.admit(space, 1, soon(5000)).await.expect("admitted");
                order.lock().unwrap().push(name);
                tokio::time::sleep(Duration::from_millis(5)).await;
                drop(permit);
            }));
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        drop(running);
        for task in tasks {
            task.await.expect("task");
        }
        assert_eq!(*order.lock().unwrap(), vec!["a1", "b1", "a2", "a3"]);
    }

    #[tokio::test]
    async fn a_dropped_waiter_leaves_nothing_behind() {
        let admission = admission(1, 1, 100, 100);
        let running = admission.admit("a", 10, soon(100)).await.expect("first");
        let waiter = {
            let admission = admission.clone();
            tokio::spawn(async move { admission.admit("b", 10, soon(60_000)).await.is_ok() })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        waiter.abort();
        let _ = waiter.await;
        assert_eq!(admission.stats.waiting_invocations.load(Ordering::Relaxed), 0);
        drop(running);
        assert_eq!(admission.stats.memory_reserved_bytes.load(Ordering::Relaxed), 0);
        assert_eq!(admission.stats.running_invocations.load(Ordering::Relaxed), 0);
        let _again = admission.admit("c", 100, soon(50)).await.expect("all room is back");
    }
}
