//! A machine's state diagram as data (states and labelled edges) and its two text renderings,
//! Mermaid and Graphviz DOT, for docs, the CLI and the console.
//!
//! Invariant: the diagram shows every way the machine can move — events (with their guards),
//! an action's `on_done`/`on_error` branches, timers and the machine-wide timeout — and nothing
//! else; the renderings quote every name, so any valid state name or guard renders.

use std::fmt::Write as _;

use super::machine::{CompiledMachine, MACHINE_TIMEOUT};

/// What moves an instance along an edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgeKind {
    /// An outside event.
    Event,
    /// An action's result (`on_done`).
    Done,
    /// An action's error (`on_error`).
    Error,
    /// A timer of the state, a wait's timeout, or the machine's timeout.
    Timer,
}

/// One edge of the diagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphEdge {
    /// The state left.
    pub from: String,
    /// The state entered.
    pub to: String,
    /// What is shown on the edge: the event (and guard), `done`/`error` (and `when`), the timer.
    pub label: String,
    /// What moves the instance.
    pub kind: EdgeKind,
}

impl CompiledMachine {
    /// The diagram's edges: per state in name order, its events' transitions in definition
    /// order, then its action's outcomes, then its timers; the machine's timeout last, from every
    /// state that is not final.
    pub fn graph_edges(&self) -> Vec<GraphEdge> {
        let mut edges = Vec::new();
        for name in &self.state_names {
            let Some(entry) = self.states.get(name) else { continue };
            let mut events: Vec<(&String, &Box<[usize]>)> = entry.events.iter().collect();
            events.sort_by_key(|(_, indices)| indices.first().copied());
            for (event, indices) in events {
                for transition in indices.iter().filter_map(|&i| self.transitions.get(i)) {
                    let label = match &transition.guard {
                        Some(guard) => format!("{event} [{}]", guard.source()),
                        None => event.clone(),
                    };
                    edges.push(GraphEdge {
                        from: name.clone(),
                        to: transition.to.clone(),
                        label,
                        kind: EdgeKind::Event,
                    });
                }
            }
            let Some(work) = entry.work.as_deref() else { continue };
            if let Some(action) = &work.action {
                for (outcomes, word, kind) in
                    [(&action.on_done, "done", EdgeKind::Done), (&action.on_error, "error", EdgeKind::Error)]
                {
                    for outcome in outcomes {
                        let label = match &outcome.when {
                            Some(when) => format!("{word} [{}]", when.source()),
                            None => word.to_owned(),
                        };
                        edges.push(GraphEdge { from: name.clone(), to: outcome.to.clone(), label, kind });
                    }
                }
            }
            for timer in &work.timers {
                edges.push(GraphEdge {
                    from: name.clone(),
                    to: timer.to.clone(),
                    label: timer.name.clone(),
                    kind: EdgeKind::Timer,
                });
            }
        }
        if let Some((_, to)) = &self.timeout {
            for name in self.state_names.iter().filter(|s| !self.is_final(s)) {
                let label = MACHINE_TIMEOUT.to_owned();
                edges.push(GraphEdge { from: name.clone(), to: to.clone(), label, kind: EdgeKind::Timer });
            }
        }
        edges
    }

    /// The diagram in Mermaid's `stateDiagram-v2` syntax.
    pub fn to_mermaid(&self) -> String {
        let id = |name: &str| format!("s{}", self.state_names.iter().position(|s| s == name).unwrap_or(0));
        let mut out = String::from("stateDiagram-v2\n");
        for name in &self.state_names {
            let _ = writeln!(out, "    state \"{}\" as {}", mermaid_text(name), id(name));
        }
        let _ = writeln!(out, "    [*] --> {}", id(&self.initial));
        for edge in self.graph_edges() {
            let _ = writeln!(out, "    {} --> {}: {}", id(&edge.from), id(&edge.to), mermaid_text(&edge.label));
        }
        for name in self.state_names.iter().filter(|s| self.is_final(s)) {
            let _ = writeln!(out, "    {} --> [*]", id(name));
        }
        out
    }

    /// The diagram in Graphviz DOT.
    pub fn to_dot(&self) -> String {
        let mut out = format!("digraph {} {{\n", dot_quote(self.name().unwrap_or("machine")));
        out.push_str("    rankdir=LR;\n    node [shape=box, style=rounded];\n");
        out.push_str("    \"[*]\" [shape=point, label=\"\"];\n");
        for name in &self.state_names {
            let mut attributes = Vec::new();
            if self.is_final(name) {
                attributes.push("peripheries=2".to_owned());
            }
            if self.states.get(name).is_some_and(|s| s.failure) {
                attributes.push("color=red".to_owned());
            }
            match attributes.is_empty() {
                true => {
                    let _ = writeln!(out, "    {};", dot_quote(name));
                }
                false => {
                    let _ = writeln!(out, "    {} [{}];", dot_quote(name), attributes.join(", "));
                }
            }
        }
        let _ = writeln!(out, "    \"[*]\" -> {};", dot_quote(&self.initial));
        for edge in self.graph_edges() {
            let style = match edge.kind {
                EdgeKind::Event => "",
                EdgeKind::Done => ", color=darkgreen",
                EdgeKind::Error => ", color=red",
                EdgeKind::Timer => ", style=dashed",
            };
            let _ = writeln!(
                out,
                "    {} -> {} [label={}{style}];",
                dot_quote(&edge.from),
                dot_quote(&edge.to),
                dot_quote(&edge.label)
            );
        }
        out.push_str("}\n");
        out
    }
}

/// Text Mermaid shows as written: on one line, without the characters its grammar reads.
fn mermaid_text(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\n' | '\r' => ' ',
            '"' => '\'',
            ';' => ',',
            other => other,
        })
        .collect()
}

/// A DOT quoted string.
fn dot_quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            other => out.push(other),
        }
    }
    out.push('"');
    out
}
