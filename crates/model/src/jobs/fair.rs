//! Fair selection: which due jobs a scheduler starts, round-robin across spaces and, inside a
//! space, across concurrency keys.

use std::cmp::Reverse;
use std::collections::{BTreeMap, VecDeque};

/// A due job the scheduler read, as fair selection sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate<'a, Id> {
    /// The job's id, handed back in [`Selection::start`].
    pub id: Id,
    /// The space (tenant) the job belongs to.
    pub space: &'a str,
    /// The job's fairness lane inside its space; jobs without a key share one lane.
    pub concurrency_key: Option<&'a str>,
    /// Higher runs first within a lane.
    pub priority: i32,
    /// When the job became due (ms since the Unix epoch); earlier runs first among equal
    /// priorities.
    pub run_at_ms: i64,
}

/// How many jobs of one space may run at once, across every worker: a default and per-space
/// overrides. A limit of 0 pauses a space.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpaceLimits {
    /// The limit of a space without an override.
    pub default: u32,
    /// Limits of particular spaces, by space name.
    pub overrides: BTreeMap<String, u32>,
}

impl SpaceLimits {
    /// Limits with the same `default` for every space and no overrides.
    pub fn new(default: u32) -> Self {
        SpaceLimits { default, overrides: BTreeMap::new() }
    }

    /// The limit of `space`.
    pub fn limit(&self, space: &str) -> u32 {
        self.overrides.get(space).copied().unwrap_or(self.default)
    }
}

/// Where the previous round stopped: the last space served and, per space, the last lane
/// served. The caller keeps it between rounds (in memory; a fresh one after a restart is fine)
/// and passes it back unchanged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FairCursor {
    space: Option<String>,
    /// Space → last concurrency key served there (`None` is the lane of jobs without a key).
    lanes: BTreeMap<String, Option<String>>,
}

impl FairCursor {
    /// The last space a job was started for, if any.
    pub fn last_space(&self) -> Option<&str> {
        self.space.as_deref()
    }

    /// The last lane served in `space` (`Some(None)`: the lane of jobs without a key), if the
    /// cursor remembers one.
    pub fn last_lane(&self, space: &str) -> Option<Option<&str>> {
        self.lanes.get(space).map(Option::as_deref)
    }
}

/// What [`select_fair`] picked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection<Id> {
    /// The jobs to start, in the order they were picked.
    pub start: Vec<Id>,
    /// The cursor to pass to the next round.
    pub cursor: FairCursor,
}

/// One space's queue during a round.
struct SpaceQueue<'a> {
    name: &'a str,
    room: usize,
    /// Lanes in serving order, each its candidates (indices) best first; the front is next.
    lanes: VecDeque<(Option<&'a str>, VecDeque<usize>)>,
}

/// Picks the candidates to start this round.
///
/// - Spaces take turns, one job per space per turn, in name order starting with the first
///   space after `cursor`'s last space (wrapping around).
/// - Inside a space, its lanes (concurrency keys, sorted, with the no-key lane first) take
///   turns the same way, starting after the lane the cursor says it served last there. A key
///   is a fairness lane, not a mutex: several jobs of one key may run at once.
/// - Within a lane, the highest `priority` first, then the earliest `run_at_ms`, then the
///   earlier position in `candidates`.
/// - A space never gets more than `limit − running` (`running` missing means 0), and the round
///   never more than `free_slots`. Short of those bounds, nothing is left unpicked.
///
/// So with at least as many free slots as spaces that have both a candidate and room, every
/// such space gets a job this round, however many candidates the others have. Fairness is only
/// as good as the candidates read, though: they should be read per space (a few per space and
/// lane), not as the globally earliest N, which one busy space can fill alone.
///
/// Runs in O(n log n) for n candidates; pure and deterministic.
pub fn select_fair<Id: Clone>(
    candidates: &[Candidate<'_, Id>],
    running: &BTreeMap<String, u32>,
    limits: &SpaceLimits,
    free_slots: usize,
    cursor: &FairCursor,
) -> Selection<Id> {
    // Space → lane → candidate indices.
    let mut grouped: BTreeMap<&str, BTreeMap<Option<&str>, Vec<usize>>> = BTreeMap::new();
    for (i, c) in candidates.iter().enumerate() {
        grouped.entry(c.space).or_default().entry(c.concurrency_key).or_default().push(i);
    }

    let mut next_cursor = FairCursor { space: cursor.space.clone(), lanes: BTreeMap::new() };
    let mut queues = Vec::with_capacity(grouped.len());
    for (name, lanes) in grouped {
        // The cursor keeps lanes of spaces that still have candidates only, so it stays small.
        if let Some(lane) = cursor.lanes.get(name) {
            next_cursor.lanes.insert(name.to_owned(), lane.clone());
        }
        let limit = limits.limit(name);
        let room = limit.saturating_sub(running.get(name).copied().unwrap_or(0)) as usize;
        if room == 0 {
            continue;
        }
        let last_lane = cursor.lanes.get(name).map(Option::as_deref);
        let mut ordered: VecDeque<(Option<&str>, VecDeque<usize>)> = lanes
            .into_iter()
            .map(|(key, mut members)| {
                members.sort_by_key(|&i| (Reverse(candidates[i].priority), candidates[i].run_at_ms, i));
                (key, VecDeque::from(members))
            })
            .collect();
        // Start with the first lane after the one served last (lanes are in key order).
        if let Some(last) = last_lane {
            let after = ordered.iter().position(|(key, _)| *key > last).unwrap_or(0);
            ordered.rotate_left(after);
        }
        queues.push(SpaceQueue { name, room, lanes: ordered });
    }
    // Start with the first space after the one served last (queues are in name order).
    let mut turns = VecDeque::from(queues);
    if let Some(last) = cursor.space.as_deref() {
        let after = turns.iter().position(|q| q.name > last).unwrap_or(0);
        turns.rotate_left(after);
    }

    let mut start = Vec::with_capacity(free_slots.min(candidates.len()));
    while start.len() < free_slots {
        let Some(mut queue) = turns.pop_front() else { break };
        let Some((key, mut members)) = queue.lanes.pop_front() else { continue };
        let Some(i) = members.pop_front() else { continue };
        start.push(candidates[i].id.clone());
        next_cursor.space = Some(queue.name.to_owned());
        next_cursor.lanes.insert(queue.name.to_owned(), key.map(str::to_owned));
        if !members.is_empty() {
            queue.lanes.push_back((key, members));
        }
        queue.room -= 1;
        if queue.room > 0 && !queue.lanes.is_empty() {
            turns.push_back(queue);
        }
    }
    Selection { start, cursor: next_cursor }
}
