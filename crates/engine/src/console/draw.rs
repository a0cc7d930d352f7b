//! A read-only drawing of a workflow as inline SVG: each node a box at its canvas position,
//! each connection a curve from the source's output to the target's input. Names are text
//! (maud escapes them); nothing is fetched.

use std::collections::HashMap;

use maud::{html, Markup};
use workflow::Workflow;

const NODE_W: f64 = 180.0;
const NODE_H: f64 = 56.0;
const MARGIN: f64 = 40.0;
/// Names longer than this are cut in the box (the full name is the box's title).
const NAME_CHARS: usize = 22;

/// The drawing of `workflow`.
pub fn svg(workflow: &Workflow) -> Markup {
    if workflow.nodes.is_empty() {
        return html! { p.empty { "No nodes." } };
    }
    // Nodes without a position are laid out in a row below the others.
    let mut at: HashMap<&str, (f64, f64)> = HashMap::new();
    let mut unplaced = 0.0;
    for node in &workflow.nodes {
        let pos = node.position.as_ref().and_then(|p| {
            let p = p.as_array()?;
            Some((p.first()?.as_f64()?, p.get(1)?.as_f64()?))
        });
        let pos = pos.unwrap_or_else(|| {
            unplaced += 1.0;
            (unplaced * (NODE_W + 40.0), -200.0)
        });
        at.insert(node.name.as_str(), pos);
    }
    let min_x = at.values().map(|p| p.0).fold(f64::INFINITY, f64::min) - MARGIN;
    let min_y = at.values().map(|p| p.1).fold(f64::INFINITY, f64::min) - MARGIN;
    let max_x = at.values().map(|p| p.0).fold(f64::NEG_INFINITY, f64::max) + NODE_W + MARGIN;
    let max_y = at.values().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max) + NODE_H + MARGIN;
    let (width, height) = (max_x - min_x, max_y - min_y);
    let mut edges = Vec::new();
    for (source, kinds) in &workflow.connections {
        let Some(&(sx, sy)) = at.get(source.as_str()) else {
            continue;
        };
        for outputs in kinds.values() {
            let count = outputs.len().max(1) as f64;
            for (index, targets) in outputs.iter().enumerate() {
                for target in targets.iter().flatten() {
                    let Some(&(tx, ty)) = at.get(target.node.as_str()) else {
                        continue;
                    };
                    let x1 = sx + NODE_W - min_x;
                    let y1 = sy - min_y + NODE_H * (index as f64 + 1.0) / (count + 1.0);
                    let x2 = tx - min_x;
                    let y2 = ty - min_y + NODE_H / 2.0;
                    let bend = ((x2 - x1).abs() / 2.0).max(40.0);
                    edges.push(format!(
                        "M{x1:.0},{y1:.0} C{:.0},{y1:.0} {:.0},{y2:.0} {x2:.0},{y2:.0}",
                        x1 + bend,
                        x2 - bend
                    ));
                }
            }
        }
    }
    html! {
        svg xmlns="http://www.w3.org/2000/svg" viewBox=(format!("0 0 {width:.0} {height:.0}"))
            width=(format!("{width:.0}")) role="img" aria-label=(format!("Drawing of {}", workflow.name)) {
            defs {
                marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto" {
                    path d="M0,0 L10,5 L0,10 z" class="arrowhead" {}
                }
            }
            @for d in &edges {
                path class="edge" d=(d) marker-end="url(#arrow)" {}
            }
            @for node in &workflow.nodes {
                @let (x, y) = at[node.name.as_str()];
                @let short = node.node_type.rsplit('.').next().unwrap_or(&node.node_type);
                g class=(if node.is_disabled() { "node disabled" } else { "node" }) {
                    title { (node.name) " (" (node.node_type) ")" }
                    rect x=(format!("{:.0}", x - min_x)) y=(format!("{:.0}", y - min_y)) width=(NODE_W) height=(NODE_H) rx="8" {}
                    text x=(format!("{:.0}", x - min_x + 10.0)) y=(format!("{:.0}", y - min_y + 24.0)) class="name" { (cut(&node.name)) }
                    text x=(format!("{:.0}", x - min_x + 10.0)) y=(format!("{:.0}", y - min_y + 44.0)) class="type" { (cut(short)) }
                }
            }
        }
    }
}

fn cut(text: &str) -> String {
    if text.chars().count() <= NAME_CHARS {
        text.to_owned()
    } else {
        let mut s: String = text.chars().take(NAME_CHARS - 1).collect();
        s.push('…');
        s
    }
}
