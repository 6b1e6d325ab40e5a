//! Event logs written by a real server's runner, read back by the history server.

use std::io::Write;
use std::sync::Arc;

use axum::http::StatusCode;
use spate_ui::{AppSummary, EventLog, HistorySource, Source};

use crate::{TestResult, get, get_json, live, server_with_queries, uuid};

#[tokio::test]
async fn a_finished_application_is_served_from_its_event_log() -> TestResult {
    let dir = std::env::temp_dir().join(format!("spate-ui-events-{}", uuid()));
    let manager = server_with_queries().await?;
    let app = AppSummary {
        id: "local-42".into(),
        name: "nightly".into(),
        user: "alice".into(),
        started_ms: 1_000,
        ended_ms: None,
    };
    let log = Arc::new(EventLog::start(
        &dir,
        &app,
        vec![("spark.app.name".into(), "nightly".into())],
    )?);
    // the queries already ran; the log hears the ends of later ones, so replay them
    for record in manager.runner().store().records() {
        spate_exec::QueryListener::on_end(log.as_ref(), &record);
    }
    log.finish();
    assert!(dir.join("local-42").is_file());
    assert!(!dir.join("local-42.inprogress").exists());

    let history: Arc<dyn Source> = Arc::new(HistorySource::new(dir.clone()));
    let apps = get_json(&history, "/api/v1/applications").await?;
    assert_eq!(apps[0]["id"], "local-42");
    assert_eq!(apps[0]["name"], "nightly");
    assert_eq!(apps[0]["attempts"][0]["completed"], true);
    // the same answers as the live server gave
    let running = live(&manager);
    for path in ["sql/1", "jobs", "skew"] {
        let then = get_json(&history, &format!("/api/v1/applications/local-42/{path}")).await?;
        let now = get_json(&running, &format!("/api/v1/applications/local-1/{path}")).await?;
        let strip = |mut v: serde_json::Value| {
            // durations of finished queries are fixed; only running ones move
            if let Some(o) = v.as_object_mut() {
                o.remove("duration");
            }
            v
        };
        assert_eq!(strip(then), strip(now), "{path}");
    }
    let (status, root) = get(&history, "/").await?;
    assert_eq!(status, StatusCode::OK);
    assert!(root.contains("/jobs/?app=local-42"));
    let (status, page) = get(&history, "/skew/?app=local-42").await?;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("<code class=\"hot-key\">0</code>"), "{page}");
    assert!(page.contains("/stages/stage/?id="), "links keep the app");
    assert!(page.contains("app=local-42"));
    Ok(())
}

#[tokio::test]
async fn a_log_cut_off_by_a_crash_shows_what_finished() -> TestResult {
    let dir = std::env::temp_dir().join(format!("spate-ui-crash-{}", uuid()));
    let manager = server_with_queries().await?;
    let app = AppSummary {
        id: "local-7".into(),
        name: "crashed".into(),
        user: "bob".into(),
        started_ms: 5,
        ended_ms: None,
    };
    let log = EventLog::start(&dir, &app, Vec::new())?;
    let records = manager.runner().store().records();
    spate_exec::QueryListener::on_end(&log, &records[0]);
    // the process dies here: simulate with a half-written line after what was flushed
    let path = dir.join("local-7.inprogress");
    for _ in 0..100 {
        if std::fs::read_to_string(&path)?.lines().count() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    std::fs::OpenOptions::new()
        .append(true)
        .open(&path)?
        .write_all(b"{\"Event\":\"QueryEnd\",\"record\":{\"id\":")?;
    std::mem::forget(log);
    // a stray file is not an application
    std::fs::write(dir.join("notes.txt"), "hello")?;

    let history: Arc<dyn Source> = Arc::new(HistorySource::new(dir));
    let apps = history.apps();
    assert_eq!(apps.len(), 1);
    assert_eq!(apps[0].ended_ms, None);
    let only = history.app(None).ok_or("no app")?;
    assert_eq!(only.queries.len(), 1);
    assert_eq!(only.queries[0].id, records[0].id);
    let (status, page) = get(&history, "/").await?;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("running"));
    Ok(())
}
