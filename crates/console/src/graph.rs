//! Graphs drawn on the server: nodes laid out in layers (Sugiyama's method, by the
//! `rust-sugiyama` crate) and written as SVG whose parts carry classes, so the stylesheet colours
//! them (status, theme) and the script finds them (`data-node`).
//!
//! Invariants: any graph renders — cycles, self-loops, repeated edges, isolated nodes, names of
//! any text (escaped) — and nothing here panics: should the layout crate fail on a graph, its
//! nodes are put on a grid instead.

use std::collections::HashSet;
use std::fmt::Write as _;

use maud::{Markup, PreEscaped};

/// A node to draw.
#[derive(Debug, Clone, Default)]
pub struct Node {
    /// Its id (unique in the graph; put in `data-node`).
    pub id: String,
    /// The text shown.
    pub label: String,
    /// A second, smaller line (a node's kind).
    pub note: Option<String>,
    /// Classes added to the node's group (`s-failed`, `current`, `final`).
    pub classes: Vec<String>,
    /// Where the node links to.
    pub href: Option<String>,
}

/// An edge to draw.
#[derive(Debug, Clone, Default)]
pub struct Edge {
    /// The index of the node it leaves.
    pub from: usize,
    /// The index of the node it enters.
    pub to: usize,
    /// Its label.
    pub label: Option<String>,
    /// A class (`e-error`, `e-timer`, `e-done`).
    pub class: Option<String>,
}

/// A graph.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    /// The nodes.
    pub nodes: Vec<Node>,
    /// The edges (indices into `nodes`; edges naming no node are skipped).
    pub edges: Vec<Edge>,
}

const NODE_HEIGHT: f64 = 44.0;
const CHAR_WIDTH: f64 = 7.4;
const MARGIN: f64 = 24.0;
const LAYER_GAP: f64 = 90.0;

fn node_width(node: &Node) -> f64 {
    let chars = node.label.chars().count().max(node.note.as_ref().map_or(0, |n| n.chars().count()));
    (chars.min(40) as f64 * CHAR_WIDTH + 28.0).max(80.0)
}

/// The most nodes laid out in layers (a flow's limit; 500 take about 15 ms): a larger graph (a
/// machine of more states) is put on a grid, so no page waits long on its drawing.
const MAX_LAID_OUT: usize = 500;

/// Node centres, laid out top to bottom.
fn layout(graph: &Graph) -> Vec<(f64, f64)> {
    let n = graph.nodes.len();
    if n > MAX_LAID_OUT {
        return grid(graph);
    }
    let mut seen = HashSet::new();
    let edges: Vec<(u32, u32)> = graph
        .edges
        .iter()
        .filter(|e| e.from != e.to && e.from < n && e.to < n)
        .map(|e| (e.from as u32, e.to as u32))
        .filter(|e| seen.insert(*e))
        .collect();
    let vertices: Vec<(u32, (f64, f64))> =
        graph.nodes.iter().enumerate().map(|(i, node)| (i as u32, (node_width(node), NODE_HEIGHT))).collect();
    let config = rust_sugiyama::configure::Config {
        vertex_spacing: 36.0,
        // Crossing reduction by swapping grows fast with the graph; flows have at most 500 nodes.
        transpose: n <= 60,
        ..Default::default()
    };
    let laid = std::panic::catch_unwind(|| rust_sugiyama::from_vertices_and_edges(&vertices, &edges, &config));
    let mut centres = vec![(f64::NAN, f64::NAN); n];
    let Ok(components) = laid else { return grid(graph) };
    // Components side by side, each from the top; the crate answers each from its own origin.
    let mut offset_x = 0.0;
    for (positions, _, _) in components {
        let real: Vec<&(usize, (f64, f64))> = positions.iter().filter(|(id, _)| *id < n).collect();
        if real.is_empty() {
            continue;
        }
        let min_x = real.iter().map(|(id, (x, _))| x - node_width(&graph.nodes[*id]) / 2.0).fold(f64::MAX, f64::min);
        let max_x = real.iter().map(|(id, (x, _))| x + node_width(&graph.nodes[*id]) / 2.0).fold(f64::MIN, f64::max);
        let min_y = real.iter().map(|(_, (_, y))| *y).fold(f64::MAX, f64::min);
        let mut ys: Vec<f64> = real.iter().map(|(_, (_, y))| *y).collect();
        ys.sort_by(f64::total_cmp);
        ys.dedup();
        for (id, (x, y)) in real {
            // Layers evenly spaced, whatever spacing the crate chose.
            let layer = ys.iter().position(|v| v == y).unwrap_or(0) as f64;
            let _ = min_y;
            centres[*id] = (offset_x + (x - min_x), layer * LAYER_GAP);
        }
        offset_x += (max_x - min_x) + 48.0;
    }
    if centres.iter().any(|(x, y)| !x.is_finite() || !y.is_finite()) {
        return grid(graph);
    }
    centres
}

fn grid(graph: &Graph) -> Vec<(f64, f64)> {
    let columns = (graph.nodes.len() as f64).sqrt().ceil().max(1.0) as usize;
    let widest = graph.nodes.iter().map(node_width).fold(80.0, f64::max);
    (0..graph.nodes.len())
        .map(|i| ((i % columns) as f64 * (widest + 36.0) + widest / 2.0, (i / columns) as f64 * LAYER_GAP))
        .collect()
}

/// Escapes text for SVG.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn cut(text: &str, max: usize) -> String {
    if text.chars().count() > max {
        format!("{}…", text.chars().take(max - 1).collect::<String>())
    } else {
        text.to_owned()
    }
}

/// The graph as an SVG element (`class="graph"`), `title` naming it for screen readers.
pub fn render(graph: &Graph, title: &str) -> Markup {
    if graph.nodes.is_empty() {
        return PreEscaped(String::from("<p class=\"empty\">Nothing to draw.</p>"));
    }
    let centres = layout(graph);
    let half = |i: usize| node_width(&graph.nodes[i]) / 2.0;
    let width = (0..graph.nodes.len()).map(|i| centres[i].0 + half(i)).fold(0.0, f64::max) + 2.0 * MARGIN + 80.0;
    let height = centres.iter().map(|c| c.1).fold(0.0, f64::max) + NODE_HEIGHT + 2.0 * MARGIN;
    let place = |i: usize| (centres[i].0 + MARGIN + 40.0, centres[i].1 + MARGIN + NODE_HEIGHT / 2.0);
    let mut svg = String::with_capacity(1024 + graph.nodes.len() * 300);
    let _ = write!(
        svg,
        "<svg class=\"graph\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {width:.0} {height:.0}\" width=\"{width:.0}\" height=\"{height:.0}\" role=\"img\" aria-label=\"{}\">",
        esc(title)
    );
    svg.push_str("<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0L10,5L0,10z\" class=\"arrowhead\"/></marker></defs>");
    // Edges first, so nodes cover their ends. Edges between the same two nodes fan out.
    let mut drawn: Vec<(usize, usize)> = Vec::new();
    for edge in &graph.edges {
        if edge.from >= graph.nodes.len() || edge.to >= graph.nodes.len() {
            continue;
        }
        let repeat =
            drawn.iter().filter(|&&(a, b)| (a, b) == (edge.from, edge.to) || (a, b) == (edge.to, edge.from)).count();
        drawn.push((edge.from, edge.to));
        let bend = repeat as f64 * 26.0;
        let (fx, fy) = place(edge.from);
        let (tx, ty) = place(edge.to);
        let class = edge.class.as_deref().map_or(String::from("edge"), |c| format!("edge {}", esc(c)));
        let (path, lx, ly) = if edge.from == edge.to {
            let x = fx + half(edge.from);
            (
                format!(
                    "M{:.1},{:.1} C{:.1},{:.1} {:.1},{:.1} {:.1},{:.1}",
                    x,
                    fy - 8.0,
                    x + 44.0 + bend,
                    fy - 30.0,
                    x + 44.0 + bend,
                    fy + 30.0,
                    x,
                    fy + 8.0
                ),
                x + 48.0 + bend,
                fy,
            )
        } else if ty > fy {
            let (sy, ey) = (fy + NODE_HEIGHT / 2.0, ty - NODE_HEIGHT / 2.0);
            let mid = (sy + ey) / 2.0;
            (
                format!(
                    "M{:.1},{:.1} C{:.1},{:.1} {:.1},{:.1} {:.1},{:.1}",
                    fx + bend,
                    sy,
                    fx + bend,
                    mid,
                    tx + bend,
                    mid,
                    tx,
                    ey
                ),
                (fx + tx) / 2.0 + bend,
                mid,
            )
        } else {
            // Back or sideways edge: around the right of both nodes.
            let side = fx.max(tx) + half(edge.from).max(half(edge.to)) + 30.0 + bend;
            (
                format!(
                    "M{:.1},{:.1} C{:.1},{:.1} {:.1},{:.1} {:.1},{:.1}",
                    fx + half(edge.from),
                    fy,
                    side,
                    fy,
                    side,
                    ty,
                    tx + half(edge.to),
                    ty
                ),
                side,
                (fy + ty) / 2.0,
            )
        };
        let _ = write!(svg, "<g class=\"{class}\"><path d=\"{path}\" marker-end=\"url(#arrow)\"/>");
        if let Some(label) = &edge.label {
            let _ =
                write!(svg, "<text x=\"{lx:.1}\" y=\"{ly:.1}\" class=\"edge-label\">{}</text>", esc(&cut(label, 36)));
        }
        svg.push_str("</g>");
    }
    for (i, node) in graph.nodes.iter().enumerate() {
        let (cx, cy) = place(i);
        let w = node_width(node);
        let mut classes = String::from("node");
        for class in &node.classes {
            classes.push(' ');
            classes.push_str(&esc(class));
        }
        if let Some(href) = &node.href {
            let _ = write!(svg, "<a href=\"{}\">", esc(href));
        }
        // A linked node is reached through its link; one without is a button of its own.
        let focus = if node.href.is_some() { "" } else { " tabindex=\"0\" role=\"button\"" };
        let _ = write!(
            svg,
            "<g class=\"{classes}\" data-node=\"{}\"{focus} aria-label=\"{}\"><title>{}</title><rect x=\"{:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{NODE_HEIGHT}\" rx=\"8\"/>",
            esc(&node.id),
            esc(&node.label),
            esc(&node.label),
            cx - w / 2.0,
            cy - NODE_HEIGHT / 2.0,
        );
        match &node.note {
            Some(note) => {
                let _ = write!(
                    svg,
                    "<text x=\"{cx:.1}\" y=\"{:.1}\" class=\"label\">{}</text><text x=\"{cx:.1}\" y=\"{:.1}\" class=\"note\">{}</text>",
                    cy - 3.0,
                    esc(&cut(&node.label, 40)),
                    cy + 13.0,
                    esc(&cut(note, 40))
                );
            }
            None => {
                let _ = write!(
                    svg,
                    "<text x=\"{cx:.1}\" y=\"{:.1}\" class=\"label\">{}</text>",
                    cy + 5.0,
                    esc(&cut(&node.label, 40))
                );
            }
        }
        svg.push_str("</g>");
        if node.href.is_some() {
            svg.push_str("</a>");
        }
    }
    svg.push_str("</svg>");
    PreEscaped(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str) -> Node {
        Node { id: id.to_owned(), label: id.to_owned(), ..Default::default() }
    }

    #[test]
    fn any_graph_renders_with_every_node_once() {
        let graph = Graph {
            nodes: vec![node("a"), node("b"), node("c<&>"), node("lonely")],
            edges: vec![
                Edge { from: 0, to: 1, label: Some("go".into()), class: None },
                Edge { from: 1, to: 0, label: None, class: Some("e-error".into()) },
                Edge { from: 1, to: 1, label: Some("self".into()), class: None },
                Edge { from: 1, to: 2, ..Default::default() },
                Edge { from: 1, to: 2, ..Default::default() },
                Edge { from: 7, to: 1, ..Default::default() },
            ],
        };
        let svg = render(&graph, "test").into_string();
        for id in ["a", "b", "c&lt;&amp;&gt;", "lonely"] {
            assert_eq!(svg.matches(&format!("data-node=\"{id}\"")).count(), 1, "{id} in {svg}");
        }
        assert!(!svg.contains("NaN"), "{svg}");
        assert_eq!(svg.matches("<g class=\"edge").count(), 5, "the edge to a missing node is skipped");
    }

    #[test]
    fn layers_go_down_the_edges() {
        let graph = Graph {
            nodes: vec![node("a"), node("b"), node("c")],
            edges: vec![Edge { from: 0, to: 1, ..Default::default() }, Edge { from: 1, to: 2, ..Default::default() }],
        };
        let centres = layout(&graph);
        assert!(centres[0].1 < centres[1].1 && centres[1].1 < centres[2].1, "{centres:?}");
    }

    #[test]
    fn the_largest_flow_lays_out() {
        // 500 nodes (a flow's limit): a chain with a branch off every fifth node and loops back.
        let nodes: Vec<Node> = (0..500).map(|i| node(&format!("n{i}"))).collect();
        let mut edges: Vec<Edge> = (1..500).map(|i| Edge { from: i - 1, to: i, ..Default::default() }).collect();
        edges.extend((5..500).step_by(5).map(|i| Edge { from: i - 5, to: i, ..Default::default() }));
        edges.extend((50..500).step_by(50).map(|i| Edge { from: i, to: i - 40, ..Default::default() }));
        let started = std::time::Instant::now();
        let svg = render(&Graph { nodes, edges }, "big").into_string();
        eprintln!("500 nodes laid out in {:?}", started.elapsed());
        assert_eq!(svg.matches("data-node=").count(), 500);
    }

    #[test]
    fn an_empty_graph_says_so() {
        assert!(render(&Graph::default(), "x").into_string().contains("Nothing to draw"));
    }
}
