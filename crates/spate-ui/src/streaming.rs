//! The Structured Streaming tab, as Spark's: the streaming queries of every session
//! (`/StreamingQuery/`) and one run's statistics (`/StreamingQuery/statistics/?id=RUN_ID`) —
//! input rate, process rate, input rows, batch duration, and, where the query has them, the
//! global watermark's gap behind the batch's trigger time and the state rows — drawn as line
//! charts over the batches the query keeps in its recent progress (Spark's
//! `spark.sql.streaming.numRecentProgressUpdates`).

use std::fmt::Write;

use serde_json::Value;

use crate::analysis::format_ms;
use crate::html::{Links, esc, page, table, time};
use crate::model::{App, StreamingInfo};

fn avg(info: &StreamingInfo, field: &str) -> Option<f64> {
    let values: Vec<f64> = info
        .progress
        .iter()
        .filter_map(|p| p[field].as_f64())
        .collect();
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

fn status(info: &StreamingInfo) -> &'static str {
    match (info.active, info.failure.is_some()) {
        (true, _) => "RUNNING",
        (false, true) => "FAILED",
        (false, false) => "FINISHED",
    }
}

/// The queries.
pub fn queries(app: &App, links: &Links) -> String {
    let now = spate_exec::now_ms();
    let rows: Vec<Vec<String>> = app
        .streaming
        .iter()
        .rev()
        .map(|q| {
            let latest = q
                .progress
                .last()
                .and_then(|p| p["batchId"].as_i64())
                .map(|b| b.to_string())
                .unwrap_or_default();
            vec![
                esc(q.name.as_deref().unwrap_or("")),
                format!("<span class=\"status-{0}\">{0}</span>", status(q)),
                esc(&q.id),
                format!(
                    "<a href=\"{}\">{}</a>",
                    esc(&links.to("/StreamingQuery/statistics/", &[("id", q.run_id.clone())])),
                    esc(&q.run_id)
                ),
                time(q.started_ms),
                format_ms((now - q.started_ms) as f64),
                avg(q, "inputRowsPerSecond")
                    .map(|v| format!("{v:.2}"))
                    .unwrap_or_default(),
                avg(q, "processedRowsPerSecond")
                    .map(|v| format!("{v:.2}"))
                    .unwrap_or_default(),
                latest,
                esc(q.failure.as_deref().unwrap_or("")),
            ]
        })
        .collect();
    let body = table(
        "streaming-queries",
        &[
            "Name",
            "Status",
            "ID",
            "Run ID",
            "Start Time",
            "Duration",
            "Avg Input /sec",
            "Avg Process /sec",
            "Latest Batch",
            "Error",
        ],
        &rows,
    );
    page(
        "Streaming Query",
        "Structured Streaming",
        &app.summary.name,
        links,
        &body,
    )
}

/// A line chart of `points` (batch id, value).
pub fn chart(id: &str, title: &str, unit: &str, points: &[(f64, f64)]) -> String {
    let (w, h, left, bottom) = (600.0, 160.0, 100.0, 24.0);
    let mut svg = format!(
        "<div class=\"chart\"><h3>{}</h3><svg id=\"{id}\" width=\"{w}\" height=\"{h}\">",
        esc(title)
    );
    if points.is_empty() {
        svg.push_str("<text x=\"10\" y=\"20\" font-size=\"12\">no batches yet</text></svg></div>");
        return svg;
    }
    let (x0, x1) = points
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let y1 = points.iter().map(|p| p.1).fold(0.0, f64::max).max(1e-9);
    let sx = |x: f64| left + (x - x0) / (x1 - x0).max(1.0) * (w - left - 10.0);
    let sy = |y: f64| (h - bottom) - y / y1 * (h - bottom - 10.0);
    let line: Vec<String> = points
        .iter()
        .map(|(x, y)| format!("{:.1},{:.1}", sx(*x), sy(*y)))
        .collect();
    let _ = write!(
        svg,
        "<line x1=\"{left}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\" stroke=\"#999\"/>\
         <line x1=\"{left}\" y1=\"10\" x2=\"{left}\" y2=\"{b}\" stroke=\"#999\"/>\
         <text x=\"{lx}\" y=\"16\" font-size=\"11\" text-anchor=\"end\">{top:.1} {unit}</text>\
         <text x=\"{lx}\" y=\"{b}\" font-size=\"11\" text-anchor=\"end\">0</text>\
         <text x=\"{left}\" y=\"{bt}\" font-size=\"11\">batch {x0}</text>\
         <text x=\"{r}\" y=\"{bt}\" font-size=\"11\" text-anchor=\"end\">batch {x1}</text>\
         <polyline fill=\"none\" stroke=\"#2b7bb9\" stroke-width=\"1.5\" points=\"{pts}\"/>",
        b = h - bottom,
        r = w - 10.0,
        lx = left - 4.0,
        bt = h - 6.0,
        top = y1,
        unit = esc(unit),
        pts = line.join(" "),
    );
    for (x, y) in points {
        let _ = write!(
            svg,
            "<circle class=\"point\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.5\" fill=\"#2b7bb9\" \
             data-batch=\"{x}\" data-value=\"{y}\"><title>batch {x}: {y}</title></circle>",
            sx(*x),
            sy(*y)
        );
    }
    svg.push_str("</svg></div>");
    svg
}

fn series(info: &StreamingInfo, value: impl Fn(&Value) -> Option<f64>) -> Vec<(f64, f64)> {
    info.progress
        .iter()
        .filter_map(|p| Some((p["batchId"].as_f64()?, value(p)?)))
        .collect()
}

fn epoch_ms(v: &Value) -> Option<f64> {
    let t = chrono::DateTime::parse_from_rfc3339(v.as_str()?).ok()?;
    Some(t.timestamp_millis() as f64)
}

/// One run's statistics.
pub fn statistics(app: &App, links: &Links, run_id: &str) -> Option<String> {
    let q = app.streaming.iter().find(|q| q.run_id == run_id)?;
    let total_rows: f64 = series(q, |p| p["numInputRows"].as_f64())
        .iter()
        .map(|p| p.1)
        .sum();
    let mut body = format!(
        "<ul class=\"summary\"><li><strong>Name:</strong> {}</li><li><strong>Id:</strong> {}</li>\
         <li><strong>RunId:</strong> {}</li><li><strong>Status:</strong> {}</li>\
         <li><strong>Started:</strong> {}</li><li><strong>Completed batches:</strong> \
         <span id=\"batches\">{}</span></li><li><strong>Input rows in these batches:</strong> \
         <span id=\"total-input-rows\">{}</span></li></ul>",
        esc(q.name.as_deref().unwrap_or("")),
        esc(&q.id),
        esc(&q.run_id),
        status(q),
        time(q.started_ms),
        q.progress.len(),
        total_rows as u64,
    );
    body.push_str(&chart(
        "input-rate",
        "Input Rate",
        "rows/s",
        &series(q, |p| p["inputRowsPerSecond"].as_f64()),
    ));
    body.push_str(&chart(
        "process-rate",
        "Process Rate",
        "rows/s",
        &series(q, |p| p["processedRowsPerSecond"].as_f64()),
    ));
    body.push_str(&chart(
        "input-rows",
        "Input Rows",
        "rows",
        &series(q, |p| p["numInputRows"].as_f64()),
    ));
    body.push_str(&chart(
        "batch-duration",
        "Batch Duration",
        "ms",
        &series(q, |p| p["durationMs"]["triggerExecution"].as_f64()),
    ));
    let watermark = series(q, |p| {
        // how far the watermark trails the batch's trigger time (Spark's, never below zero)
        Some((epoch_ms(&p["timestamp"])? - epoch_ms(&p["eventTime"]["watermark"])?).max(0.0))
    });
    if !watermark.is_empty() {
        body.push_str(&chart(
            "watermark-gap",
            "Global Watermark Gap",
            "ms",
            &watermark,
        ));
    }
    let state = series(q, |p| {
        let ops = p["stateOperators"].as_array()?;
        (!ops.is_empty()).then(|| ops.iter().filter_map(|o| o["numRowsTotal"].as_f64()).sum())
    });
    if !state.is_empty() {
        body.push_str(&chart(
            "state-rows",
            "Aggregated Number Of Total State Rows",
            "rows",
            &state,
        ));
    }
    if let Some(f) = &q.failure {
        let _ = write!(body, "<p class=\"error\">{}</p>", esc(f));
    }
    Some(page(
        &format!(
            "Streaming Query Statistics ({})",
            q.name.as_deref().unwrap_or(&q.run_id)
        ),
        "Structured Streaming",
        &app.summary.name,
        links,
        &body,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_has_a_point_per_batch_scaled_to_its_largest_value() {
        let svg = chart(
            "c",
            "Input Rows",
            "rows",
            &[(0.0, 10.0), (1.0, 20.0), (2.0, 5.0)],
        );
        assert_eq!(svg.matches("<circle class=\"point\"").count(), 3);
        assert!(svg.contains("data-batch=\"1\" data-value=\"20\""));
        // the largest value sits at the top of the plot area, zero at its bottom
        assert!(svg.contains("20.0 rows"));
        assert!(chart("e", "Empty", "rows", &[]).contains("no batches yet"));
    }
}
