//! The pages' common frame: HTML escaping, the tab bar (Spark's tab names), tables and the one
//! stylesheet. Pages are rendered on the server as plain HTML and SVG; the UI needs no
//! JavaScript, so there is nothing to vendor or pin and nothing fetched from a CDN.

use std::fmt::Write;

/// Escapes text for HTML element content and attribute values.
pub fn esc(text: &str) -> String {
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

/// Escapes text for a URL query value.
pub fn url_value(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The tabs, as Spark names them: (title, path).
pub const TABS: [(&str, &str); 8] = [
    ("Jobs", "/jobs/"),
    ("Stages", "/stages/"),
    ("Skew", "/skew/"),
    ("Storage", "/storage/"),
    ("Environment", "/environment/"),
    ("SQL / DataFrame", "/SQL/"),
    ("Structured Streaming", "/StreamingQuery/"),
    ("Connect", "/connect/"),
];

/// Links within one application carry its id on the history server.
#[derive(Debug, Clone, Default)]
pub struct Links {
    app: Option<String>,
}

impl Links {
    /// Links for `app` (`None` on a live UI).
    pub fn new(app: Option<&str>) -> Self {
        Self {
            app: app.map(str::to_string),
        }
    }

    /// `path` with the query `params` and the app.
    pub fn to(&self, path: &str, params: &[(&str, String)]) -> String {
        let mut all: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        if let Some(app) = &self.app {
            all.push(("app".into(), app.clone()));
        }
        if all.is_empty() {
            return path.to_string();
        }
        let query: Vec<String> = all
            .iter()
            .map(|(k, v)| format!("{k}={}", url_value(v)))
            .collect();
        format!("{path}?{}", query.join("&"))
    }
}

/// A whole page: title, tab bar with `active` marked, the application's name, and `body`.
pub fn page(title: &str, active: &str, app_name: &str, links: &Links, body: &str) -> String {
    let mut tabs = String::new();
    for (name, path) in TABS {
        let class = if name == active {
            " class=\"active\""
        } else {
            ""
        };
        let _ = write!(
            tabs,
            "<li{class}><a href=\"{}\">{name}</a></li>",
            esc(&links.to(path, &[]))
        );
    }
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>{title} - {app}</title>\
         <link rel=\"stylesheet\" href=\"/static/spate.css\"></head>\
         <body><nav><span class=\"brand\">Spate {version}</span><ul class=\"tabs\">{tabs}</ul>\
         <span class=\"app\">{app} application UI</span></nav>\
         <main><h1>{title}</h1>{body}</main></body></html>",
        title = esc(title),
        app = esc(app_name),
        version = env!("CARGO_PKG_VERSION"),
    )
}

/// A table with `headers` and already-rendered cells.
pub fn table(id: &str, headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = format!("<table id=\"{id}\" class=\"table\"><thead><tr>");
    for h in headers {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr></thead><tbody>");
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            let _ = write!(out, "<td>{cell}</td>");
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    out
}

/// A progress bar of `done` (and `running`) out of `total` tasks, as Spark's job tables draw it.
pub fn progress_bar(done: usize, running: usize, total: usize) -> String {
    let pct = |n: usize| {
        if total == 0 {
            0.0
        } else {
            100.0 * n as f64 / total as f64
        }
    };
    format!(
        "<div class=\"progress\"><span class=\"done\" style=\"width:{:.1}%\"></span>\
         <span class=\"running\" style=\"width:{:.1}%\"></span>\
         <span class=\"label\">{done}/{total}{}</span></div>",
        pct(done),
        pct(running),
        if running > 0 {
            format!(" ({running} running)")
        } else {
            String::new()
        }
    )
}

/// A timestamp (ms since the epoch) as Spark's UI shows it, in UTC.
pub fn time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y/%m/%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

/// The stylesheet.
pub const CSS: &str = r#"
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 0; color: #222; font-size: 14px; }
nav { background: #f1f1f1; border-bottom: 1px solid #ccc; display: flex; align-items: center; padding: 0 12px; }
nav .brand { font-weight: bold; color: #e25a1c; margin-right: 18px; }
nav .app { margin-left: auto; color: #555; }
ul.tabs { list-style: none; margin: 0; padding: 0; display: flex; }
ul.tabs li a { display: block; padding: 12px 14px; color: #333; text-decoration: none; }
ul.tabs li.active a { background: #fff; border-bottom: 2px solid #e25a1c; }
main { padding: 8px 20px 40px; }
h1 { font-size: 22px; font-weight: normal; }
h2 { font-size: 17px; margin-top: 26px; }
table.table { border-collapse: collapse; margin: 8px 0; }
table.table th, table.table td { border: 1px solid #ddd; padding: 4px 8px; text-align: left; vertical-align: top; }
table.table th { background: #f6f6f6; }
table.table tr:nth-child(even) td { background: #fbfbfb; }
td.num { text-align: right; }
.progress { position: relative; width: 200px; height: 16px; background: #eee; border-radius: 3px; overflow: hidden; }
.progress span.done { float: left; height: 100%; background: #3ec03e; }
.progress span.running { float: left; height: 100%; background: #a6d8f0; }
.progress span.label { position: absolute; left: 0; right: 0; text-align: center; font-size: 11px; line-height: 16px; }
.status-FAILED, .status-CANCELED { color: #b00; }
.status-RUNNING, .status-ACTIVE { color: #06c; }
.skew { border: 1px solid #e2a01c; background: #fff8e6; padding: 8px 14px; margin: 10px 0; border-radius: 4px; }
.skew h3 { margin: 4px 0 8px; font-size: 15px; color: #a35b00; }
.flag { color: #a35b00; font-weight: bold; }
.error { color: #b00; white-space: pre-wrap; }
pre.plan { background: #f7f7f7; border: 1px solid #ddd; padding: 8px; overflow-x: auto; font-size: 12px; }
svg text { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; }
svg .node rect { fill: #c3ebff; stroke: #3f8fbf; }
svg .node.hot rect { fill: #ffe2b8; stroke: #e27a1c; }
svg .cluster rect { fill: #f5f9fc; stroke: #8aa; stroke-dasharray: 4 3; }
svg .edge { stroke: #555; stroke-width: 1.2; fill: none; marker-end: url(#arrow); }
"#;
