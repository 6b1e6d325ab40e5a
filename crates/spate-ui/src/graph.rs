//! The physical plan of a query drawn as a graph (an SVG rendered on the server), as the SQL
//! tab of Spark's UI draws it: data flows down from the scans to the root, each operator is a
//! box with its metrics (rows, bytes, time, spill, peak memory, bytes scanned), and the operators of one
//! stage sit in one dashed cluster labelled with the stage's id. Operators of a skewed stage are
//! drawn in orange.
//!
//! Layout: leaves take columns left to right in plan order, a parent sits over the middle of its
//! children, rows are depths (the root at the bottom).

use std::collections::HashMap;
use std::fmt::Write;

use spate_exec::{OperatorRecord, QueryRecord};

use crate::analysis::{format_metric, metric_total};
use crate::html::esc;

const BOX_W: f64 = 250.0;
const GAP_X: f64 = 24.0;
const LINE_H: f64 = 15.0;
const ROW_H: f64 = 130.0;
const PAD: f64 = 16.0;

/// The metric lines a node shows: (label, metric name).
const SHOWN: [(&str, &str); 7] = [
    ("rows", "output_rows"),
    ("bytes", "output_bytes"),
    ("time", "elapsed_compute"),
    ("bytes scanned", "bytes_scanned"),
    ("spill", "spilled_bytes"),
    ("spill count", "spill_count"),
    ("peak memory", "peak_mem_used"),
];

/// The metric lines of an operator: `label: value`.
pub fn node_lines(op: &OperatorRecord) -> Vec<String> {
    SHOWN
        .iter()
        .filter_map(|(label, name)| {
            let v = metric_total(op, name)?;
            // spill lines only when it spilled
            if (name.contains("spill")) && v == 0 {
                return None;
            }
            Some(format!("{label}: {}", format_metric(name, v)))
        })
        .collect()
}

/// The SVG of `query`'s plan; operators of the stages in `hot_stages` (ids within the query)
/// are marked.
pub fn plan_svg(query: &QueryRecord, hot_stages: &[usize]) -> String {
    let ops = &query.operators;
    if ops.is_empty() {
        return "<p>The plan's operators are recorded when the query ends.</p>".into();
    }
    // ids are pre-order positions and parents come first (an event log could say otherwise)
    let well_formed = ops
        .iter()
        .enumerate()
        .all(|(i, o)| o.id == i && o.parent.is_none_or(|p| p < i));
    if !well_formed {
        return "<p>The plan's operators are not in order; the graph cannot be drawn.</p>".into();
    }
    let mut children: HashMap<usize, Vec<usize>> = HashMap::new();
    for op in ops {
        if let Some(p) = op.parent {
            children.entry(p).or_default().push(op.id);
        }
    }
    let mut depth = vec![0usize; ops.len()];
    for op in ops {
        if let Some(p) = op.parent {
            depth[op.id] = depth[p] + 1;
        }
    }
    let max_depth = depth.iter().copied().max().unwrap_or(0);
    let mut x = vec![0.0f64; ops.len()];
    let mut next_leaf = 0.0;
    let roots: Vec<usize> = ops
        .iter()
        .filter(|o| o.parent.is_none())
        .map(|o| o.id)
        .collect();
    for r in roots {
        place(r, &children, &mut x, &mut next_leaf);
    }
    let heights: Vec<f64> = ops
        .iter()
        .map(|o| LINE_H * (2.0 + node_lines(o).len() as f64) + 8.0)
        .collect();
    let pos = |id: usize| -> (f64, f64) {
        (
            PAD + 20.0 + x[id] * (BOX_W + GAP_X),
            PAD + 30.0 + (max_depth - depth[id]) as f64 * ROW_H,
        )
    };
    let width = PAD * 2.0 + 40.0 + next_leaf.max(1.0) * (BOX_W + GAP_X);
    let height = PAD * 2.0 + 60.0 + (max_depth + 1) as f64 * ROW_H;
    let mut svg = format!(
        "<svg id=\"plan-graph\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" \
         height=\"{height:.0}\" viewBox=\"0 0 {width:.0} {height:.0}\">\
         <defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" \
         markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\"><path d=\"M0,0L10,5L0,10z\" \
         fill=\"#555\"/></marker></defs>"
    );
    // clusters: one per stage
    let mut stages: Vec<usize> = ops.iter().filter_map(|o| o.stage).collect();
    stages.sort_unstable();
    stages.dedup();
    for s in stages {
        let members: Vec<&OperatorRecord> = ops.iter().filter(|o| o.stage == Some(s)).collect();
        let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
        for m in &members {
            let (mx, my) = pos(m.id);
            x0 = x0.min(mx);
            y0 = y0.min(my);
            x1 = x1.max(mx + BOX_W);
            y1 = y1.max(my + heights[m.id]);
        }
        let global = query
            .stages
            .iter()
            .find(|st| st.id == s)
            .map(|st| st.global_id)
            .unwrap_or(s as u64);
        let _ = write!(
            svg,
            "<g class=\"cluster\" data-stage=\"{global}\"><rect x=\"{:.0}\" y=\"{:.0}\" \
             width=\"{:.0}\" height=\"{:.0}\" rx=\"6\"/><text x=\"{:.0}\" y=\"{:.0}\" \
             font-size=\"11\" fill=\"#577\">Stage {global}</text></g>",
            x0 - 10.0,
            y0 - 22.0,
            x1 - x0 + 20.0,
            y1 - y0 + 32.0,
            x0 - 4.0,
            y0 - 9.0,
        );
    }
    for op in ops {
        if let Some(p) = op.parent {
            let (cx, cy) = pos(op.id);
            let (px, py) = pos(p);
            let _ = write!(
                svg,
                "<path class=\"edge\" data-from=\"{}\" data-to=\"{p}\" d=\"M{:.0},{:.0} L{:.0},{:.0}\"/>",
                op.id,
                cx + BOX_W / 2.0,
                cy + heights[op.id],
                px + BOX_W / 2.0,
                py
            );
        }
    }
    for op in ops {
        let (nx, ny) = pos(op.id);
        let hot = op.stage.is_some_and(|s| hot_stages.contains(&s));
        let _ = write!(
            svg,
            "<g class=\"node{}\" data-node-id=\"{}\"><title>{}</title>\
             <rect x=\"{nx:.0}\" y=\"{ny:.0}\" width=\"{BOX_W}\" height=\"{:.0}\" rx=\"4\"/>\
             <text x=\"{:.0}\" y=\"{:.0}\" font-size=\"12\" font-weight=\"bold\">{}</text>",
            if hot { " hot" } else { "" },
            op.id,
            esc(&op.display),
            heights[op.id],
            nx + 8.0,
            ny + LINE_H + 2.0,
            esc(&op.name)
        );
        for (i, line) in node_lines(op).iter().enumerate() {
            let _ = write!(
                svg,
                "<text class=\"metric\" x=\"{:.0}\" y=\"{:.0}\" font-size=\"11\">{}</text>",
                nx + 8.0,
                ny + LINE_H * (i as f64 + 2.0) + 4.0,
                esc(line)
            );
        }
        svg.push_str("</g>");
    }
    svg.push_str("</svg>");
    svg
}

fn place(id: usize, children: &HashMap<usize, Vec<usize>>, x: &mut [f64], next: &mut f64) {
    match children.get(&id) {
        Some(kids) if !kids.is_empty() => {
            for k in kids {
                place(*k, children, x, next);
            }
            let sum: f64 = kids.iter().map(|k| x[*k]).sum();
            x[id] = sum / kids.len() as f64;
        }
        _ => {
            x[id] = *next;
            *next += 1.0;
        }
    }
}
