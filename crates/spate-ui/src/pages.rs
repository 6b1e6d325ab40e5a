//! The HTML pages, each a function from an [`App`] snapshot to a page: Jobs (one job per query),
//! SQL / DataFrame (queries, and a query's plan graph, stages, timeline and skew), Stages (a
//! stage's task distribution and task table), Skew (every flagged stage, its hot keys and what
//! to do), Storage, Environment and Connect (sessions and their operations), and the history
//! server's list of applications.

use std::fmt::Write;

use spate_exec::{QueryRecord, StageRecord, now_ms};

use crate::analysis::{
    SkewFinding, UI_QUANTILES, distribution, findings, format_bytes, format_ms, job_status,
    shuffle_read_rows, skew, stage_operators, stage_status, task_ms,
};
use crate::graph::plan_svg;
use crate::html::{Links, esc, page, progress_bar, table, time};
use crate::model::{App, AppSummary};

fn num(v: impl std::fmt::Display) -> String {
    format!("<span class=\"num\">{v}</span>")
}

fn status(s: &str) -> String {
    format!("<span class=\"status-{s}\">{s}</span>")
}

/// The first line of a description, shortened for tables.
fn short(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default();
    if line.chars().count() > 100 {
        format!("{}…", line.chars().take(100).collect::<String>())
    } else {
        line.to_string()
    }
}

fn tasks_done(stages: &[StageRecord]) -> (usize, usize, usize) {
    let mut done = 0;
    let mut running = 0;
    let mut total = 0;
    for s in stages {
        total += s.tasks.len();
        done += s.tasks.iter().filter(|t| t.ended_ms.is_some()).count();
        running += s
            .tasks
            .iter()
            .filter(|t| t.started_ms.is_some() && t.ended_ms.is_none())
            .count();
    }
    (done, running, total)
}

/// Jobs: one job per query.
pub fn jobs(app: &App, links: &Links) -> String {
    let now = now_ms();
    let rows: Vec<Vec<String>> = app
        .queries
        .iter()
        .rev()
        .map(|q| {
            let (done, running, total) = tasks_done(&q.stages);
            let stages_done = q
                .stages
                .iter()
                .filter(|s| stage_status(q, s) == "COMPLETE")
                .count();
            vec![
                num(q.id),
                format!(
                    "<a href=\"{}\">{}</a><br><small>{}</small>",
                    esc(&links.to("/SQL/execution/", &[("id", q.id.to_string())])),
                    esc(&short(&q.description)),
                    esc(&q.kind)
                ),
                time(q.started_ms),
                format_ms(q.duration_ms(now) as f64),
                format!("{stages_done}/{}", q.stages.len()),
                progress_bar(done, running, total),
                status(job_status(q)),
            ]
        })
        .collect();
    let body = format!(
        "<p>{} jobs; a job is one query (a Spark SQL execution).</p>{}",
        app.queries.len(),
        table(
            "jobs",
            &[
                "Job Id",
                "Description",
                "Submitted",
                "Duration",
                "Stages: Succeeded/Total",
                "Tasks: Succeeded/Total",
                "Status",
            ],
            &rows
        )
    );
    page("Spark Jobs", "Jobs", &app.summary.name, links, &body)
}

/// SQL / DataFrame: the queries.
pub fn queries(app: &App, links: &Links) -> String {
    let now = now_ms();
    let rows: Vec<Vec<String>> = app
        .queries
        .iter()
        .rev()
        .map(|q| {
            let flagged = q.stages.iter().any(|s| skew(q, s).is_some());
            vec![
                num(q.id),
                format!(
                    "<a href=\"{}\">{}</a>{}",
                    esc(&links.to("/SQL/execution/", &[("id", q.id.to_string())])),
                    esc(&short(&q.description)),
                    if flagged {
                        " <span class=\"flag\">skewed</span>"
                    } else {
                        ""
                    }
                ),
                time(q.started_ms),
                format_ms(q.duration_ms(now) as f64),
                num(q.rows_out),
                status(q.status.as_str()),
                esc(q.error_class.as_deref().unwrap_or("")),
            ]
        })
        .collect();
    let body = table(
        "queries",
        &[
            "ID",
            "Description",
            "Submitted",
            "Duration",
            "Rows",
            "Status",
            "Error class",
        ],
        &rows,
    );
    page(
        "SQL / DataFrame",
        "SQL / DataFrame",
        &app.summary.name,
        links,
        &body,
    )
}

fn finding_box(f: &SkewFinding, links: &Links) -> String {
    let what = if f.measure == "time" {
        format!(
            "task {} ran {} against the other tasks' median of {} ({:.0}x)",
            f.partition,
            format_ms(f.max),
            format_ms(f.median),
            f.ratio()
        )
    } else {
        format!(
            "task {} read {} rows against the other tasks' median of {} ({:.0}x)",
            f.partition,
            f.max as u64,
            f.median as u64,
            f.ratio()
        )
    };
    let mut out = format!(
        "<div class=\"skew\" data-stage=\"{stage}\" data-query=\"{query}\">\
         <h3>Skew in <a href=\"{link}\">stage {stage}</a> of query {query}: {what}</h3>\
         <p>Operator: <code>{op}</code></p>",
        stage = f.stage_id,
        query = f.query_id,
        link = esc(&links.to("/stages/stage/", &[("id", f.stage_id.to_string())])),
        what = esc(&what),
        op = esc(&f.operator),
    );
    if !f.hot_keys.is_empty() {
        let _ = write!(
            out,
            "<p>Hottest keys in that task (key: <code>{}</code>, sampled):</p><ul class=\"hot-keys\">",
            esc(&f.keys.join(", "))
        );
        for h in f.hot_keys.iter().take(3) {
            let share = (100.0 * h.rows as f64 / h.partition_rows.max(1) as f64).min(100.0);
            let _ = write!(
                out,
                "<li><code class=\"hot-key\">{}</code>: about {} rows ({share:.0}% of the task's rows)</li>",
                esc(&h.key),
                h.rows
            );
        }
        out.push_str("</ul>");
    }
    out.push_str("<p>What to do:</p><ul>");
    for a in f.advice() {
        let _ = write!(out, "<li>{}</li>", esc(&a));
    }
    out.push_str("</ul></div>");
    out
}

/// One stage's row in a stage table.
fn stage_row(q: &QueryRecord, s: &StageRecord, links: &Links) -> Vec<String> {
    let (done, running, total) = tasks_done(std::slice::from_ref(s));
    let start = s.tasks.iter().filter_map(|t| t.started_ms).min();
    let end = s.tasks.iter().filter_map(|t| t.ended_ms).max();
    let duration = match (start, end) {
        (Some(a), Some(b)) => format_ms((b - a) as f64),
        _ => String::new(),
    };
    let ops: Vec<String> = stage_operators(q, s.id)
        .iter()
        .map(|o| o.name.clone())
        .collect();
    let flag = if skew(q, s).is_some() {
        "<span class=\"flag\">skewed</span>"
    } else {
        ""
    };
    vec![
        format!(
            "<a href=\"{}\">{}</a>",
            esc(&links.to("/stages/stage/", &[("id", s.global_id.to_string())])),
            s.global_id
        ),
        format!(
            "<a href=\"{}\">{}</a>",
            esc(&links.to("/SQL/execution/", &[("id", q.id.to_string())])),
            q.id
        ),
        esc(&ops.join(" ← ")),
        start.map(time).unwrap_or_default(),
        duration,
        progress_bar(done, running, total),
        num(s.tasks.iter().map(|t| t.rows).sum::<u64>()),
        format_bytes(s.tasks.iter().map(|t| t.bytes).sum()),
        status(stage_status(q, s)),
        flag.to_string(),
    ]
}

const STAGE_HEADERS: [&str; 10] = [
    "Stage Id",
    "Query",
    "Operators",
    "Submitted",
    "Duration",
    "Tasks: Succeeded/Total",
    "Output rows",
    "Output size",
    "Status",
    "Skew",
];

/// A query's stages drawn on a time line.
fn timeline(q: &QueryRecord) -> String {
    let spans: Vec<(u64, i64, i64)> = q
        .stages
        .iter()
        .filter_map(|s| {
            let a = s.tasks.iter().filter_map(|t| t.started_ms).min()?;
            let b = s.tasks.iter().filter_map(|t| t.ended_ms).max().unwrap_or(a);
            Some((s.global_id, a, b))
        })
        .collect();
    if spans.is_empty() {
        return String::new();
    }
    let t0 = spans.iter().map(|s| s.1).min().unwrap_or(0);
    let t1 = spans.iter().map(|s| s.2).max().unwrap_or(t0).max(t0 + 1);
    let w = 800.0;
    let scale = w / (t1 - t0) as f64;
    let mut svg = format!(
        "<svg id=\"timeline\" width=\"{:.0}\" height=\"{}\">",
        w + 120.0,
        22 * spans.len() + 24
    );
    for (i, (id, a, b)) in spans.iter().enumerate() {
        let y = 4 + 22 * i;
        let _ = write!(
            svg,
            "<text x=\"0\" y=\"{}\" font-size=\"12\">Stage {id}</text>\
             <rect x=\"{:.1}\" y=\"{y}\" width=\"{:.1}\" height=\"16\" fill=\"#5fa8d3\">\
             <title>stage {id}: {}</title></rect>",
            y + 12,
            80.0 + (a - t0) as f64 * scale,
            ((b - a) as f64 * scale).max(2.0),
            format_ms((b - a) as f64)
        );
    }
    let _ = write!(
        svg,
        "<text x=\"80\" y=\"{}\" font-size=\"11\" fill=\"#666\">0 ms</text>\
         <text x=\"{:.0}\" y=\"{}\" font-size=\"11\" fill=\"#666\">{}</text></svg>",
        22 * spans.len() + 18,
        w + 40.0,
        22 * spans.len() + 18,
        format_ms((t1 - t0) as f64)
    );
    svg
}

/// One query: summary, skew, plan graph, stages, timeline and the plan's text.
pub fn query(app: &App, links: &Links, id: u64) -> Option<String> {
    let q = app.query(id)?;
    let now = now_ms();
    let found: Vec<SkewFinding> = q.stages.iter().filter_map(|s| skew(q, s)).collect();
    let hot: Vec<usize> = q
        .stages
        .iter()
        .filter(|s| found.iter().any(|f| f.stage_id == s.global_id))
        .map(|s| s.id)
        .collect();
    let mut body = format!(
        "<ul class=\"summary\"><li><strong>Status:</strong> {}</li>\
         <li><strong>Submitted:</strong> {}</li><li><strong>Duration:</strong> {}</li>\
         <li><strong>Rows:</strong> <span id=\"rows-out\">{}</span></li>\
         <li><strong>Kind:</strong> {}</li><li><strong>Session:</strong> {}</li>\
         <li><strong>Description:</strong> <code>{}</code></li></ul>",
        status(q.status.as_str()),
        time(q.started_ms),
        format_ms(q.duration_ms(now) as f64),
        q.rows_out,
        esc(&q.kind),
        esc(&q.session_id),
        esc(&q.description),
    );
    if let Some(class) = &q.error_class {
        let _ = write!(
            body,
            "<p class=\"error\"><strong>{}</strong>: {}</p>",
            esc(class),
            esc(q.error_message.as_deref().unwrap_or(""))
        );
    }
    for f in &found {
        body.push_str(&finding_box(f, links));
    }
    let _ = write!(
        body,
        "<h2>Plan</h2><div class=\"graph\">{}</div><h2>Stages</h2>{}<h2>Timeline</h2>{}\
         <h2>Physical plan</h2><pre class=\"plan\">{}</pre>",
        plan_svg(q, &hot),
        table(
            "stages",
            &STAGE_HEADERS,
            &q.stages
                .iter()
                .rev()
                .map(|s| stage_row(q, s, links))
                .collect::<Vec<_>>()
        ),
        timeline(q),
        esc(&q.physical_plan)
    );
    Some(page(
        &format!("Details for Query {id}"),
        "SQL / DataFrame",
        &app.summary.name,
        links,
        &body,
    ))
}

/// Every stage, newest first.
pub fn stages(app: &App, links: &Links) -> String {
    let rows: Vec<Vec<String>> = app
        .queries
        .iter()
        .rev()
        .flat_map(|q| q.stages.iter().rev().map(move |s| (q, s)))
        .map(|(q, s)| stage_row(q, s, links))
        .collect();
    let body = table("stages", &STAGE_HEADERS, &rows);
    page(
        "Stages for All Jobs",
        "Stages",
        &app.summary.name,
        links,
        &body,
    )
}

/// One stage: task distribution, skew, task table.
pub fn stage(app: &App, links: &Links, id: u64) -> Option<String> {
    let (q, i) = app.stage(id)?;
    let s = q.stages.get(i)?;
    let quantile_row = |name: &str, values: Vec<f64>, fmt: &dyn Fn(f64) -> String| {
        let mut row = vec![esc(name)];
        row.extend(
            distribution(values, &UI_QUANTILES)
                .into_iter()
                .map(|v| num(fmt(v))),
        );
        row
    };
    let ended: Vec<&spate_exec::TaskRecord> =
        s.tasks.iter().filter(|t| t.ended_ms.is_some()).collect();
    let read = shuffle_read_rows(q, s);
    let mut summary_rows = vec![
        quantile_row(
            "Duration",
            ended
                .iter()
                .filter_map(|t| task_ms(t))
                .map(|v| v as f64)
                .collect(),
            &format_ms,
        ),
        quantile_row(
            "Output rows",
            ended.iter().map(|t| t.rows as f64).collect(),
            &|v| (v as u64).to_string(),
        ),
        quantile_row(
            "Output size",
            ended.iter().map(|t| t.bytes as f64).collect(),
            &|v| format_bytes(v as u64),
        ),
    ];
    if let Some(read) = &read {
        summary_rows.push(quantile_row(
            "Shuffle read rows",
            read.iter().map(|r| *r as f64).collect(),
            &|v| (v as u64).to_string(),
        ));
    }
    let summary = table(
        "task-summary",
        &[
            "Metric",
            "Min",
            "25th percentile",
            "Median",
            "75th percentile",
            "Max",
        ],
        &summary_rows,
    );
    let tasks: Vec<Vec<String>> = s
        .tasks
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let state = match (t.started_ms, t.ended_ms) {
                (_, Some(_)) => "SUCCESS",
                (Some(_), None) => "RUNNING",
                (None, None) => "PENDING",
            };
            vec![
                num(t.partition),
                state.to_string(),
                t.started_ms.map(time).unwrap_or_default(),
                task_ms(t).map(|d| format_ms(d as f64)).unwrap_or_default(),
                read.as_ref()
                    .and_then(|r| r.get(i))
                    .map(num)
                    .unwrap_or_default(),
                num(t.rows),
                format_bytes(t.bytes),
            ]
        })
        .collect();
    let mut body = format!(
        "<p>Query <a href=\"{}\">{}</a>, {} tasks, status {}.</p>",
        esc(&links.to("/SQL/execution/", &[("id", q.id.to_string())])),
        q.id,
        s.tasks.len(),
        status(stage_status(q, s)),
    );
    if let Some(f) = skew(q, s) {
        body.push_str(&finding_box(&f, links));
    }
    let _ = write!(
        body,
        "<h2>Summary Metrics for {} Completed Tasks</h2>{summary}<h2>Tasks ({})</h2>{}",
        ended.len(),
        s.tasks.len(),
        table(
            "tasks",
            &[
                "Partition",
                "Status",
                "Launch Time",
                "Duration",
                "Shuffle read rows",
                "Output rows",
                "Output size"
            ],
            &tasks
        )
    );
    Some(page(
        &format!("Details for Stage {id} (Attempt 0)"),
        "Stages",
        &app.summary.name,
        links,
        &body,
    ))
}

/// Every skewed stage.
pub fn skew_page(app: &App, links: &Links) -> String {
    let all = findings(&app.queries);
    let mut body = format!(
        "<p>A stage is flagged when its slowest task took more than {}x the median task's time, \
         or its largest task read more than {}x the median task's rows (Spark's \
         skewedPartitionFactor; the median of the other tasks). {} stage(s) flagged.</p>",
        crate::analysis::SKEW_FACTOR,
        crate::analysis::SKEW_FACTOR,
        all.len()
    );
    for f in &all {
        body.push_str(&finding_box(f, links));
    }
    page("Skew", "Skew", &app.summary.name, links, &body)
}

/// Cached DataFrames.
pub fn storage(app: &App, links: &Links) -> String {
    let rows: Vec<Vec<String>> = app
        .storage
        .iter()
        .map(|c| {
            vec![
                num(c.id),
                esc(&c.session_id),
                esc(&c.level),
                if c.computed { "yes" } else { "not yet" }.to_string(),
                num(c.partitions),
                num(c.rows),
                format_bytes(c.memory_bytes),
                format_bytes(c.disk_bytes),
            ]
        })
        .collect();
    let body = table(
        "storage",
        &[
            "ID",
            "Session",
            "Storage Level",
            "Computed",
            "Cached Partitions",
            "Rows",
            "Size in Memory",
            "Size on Disk",
        ],
        &rows,
    );
    page("Storage", "Storage", &app.summary.name, links, &body)
}

/// Settings.
pub fn environment(app: &App, links: &Links) -> String {
    let rows: Vec<Vec<String>> = app
        .environment
        .iter()
        .map(|(k, v)| vec![esc(k), esc(v)])
        .collect();
    let body = table("environment", &["Name", "Value"], &rows);
    page(
        "Environment",
        "Environment",
        &app.summary.name,
        links,
        &body,
    )
}

/// Spark Connect sessions and their operations.
pub fn connect(app: &App, links: &Links) -> String {
    let rows: Vec<Vec<String>> = app
        .sessions
        .iter()
        .map(|s| {
            let ops: Vec<String> = s
                .operations
                .iter()
                .map(|o| format!("{} {}", esc(&o.id), status(&o.state.to_uppercase())))
                .collect();
            vec![
                esc(&s.id),
                esc(&s.user_id),
                if s.closed { "closed" } else { "open" }.to_string(),
                app.queries
                    .iter()
                    .filter(|q| q.session_id == s.id)
                    .count()
                    .to_string(),
                ops.join("<br>"),
            ]
        })
        .collect();
    let body = table(
        "sessions",
        &["Session ID", "User", "State", "Queries", "Operations"],
        &rows,
    );
    page("Connect", "Connect", &app.summary.name, links, &body)
}

/// The history server's list of applications.
pub fn applications(apps: &[AppSummary]) -> String {
    let rows: Vec<Vec<String>> = apps
        .iter()
        .map(|a| {
            vec![
                format!(
                    "<a href=\"{}\">{}</a>",
                    esc(&Links::new(Some(&a.id)).to("/jobs/", &[])),
                    esc(&a.id)
                ),
                esc(&a.name),
                time(a.started_ms),
                a.ended_ms.map(time).unwrap_or_else(|| "running".into()),
                format_ms((a.ended_ms.unwrap_or_else(now_ms) - a.started_ms) as f64),
                esc(&a.user),
            ]
        })
        .collect();
    let body = table(
        "applications",
        &[
            "App ID",
            "App Name",
            "Started",
            "Completed",
            "Duration",
            "Spark User",
        ],
        &rows,
    );
    page("History Server", "", "Spate", &Links::default(), &body)
}
