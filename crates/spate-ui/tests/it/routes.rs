//! Every page and API endpoint of a live server, after real queries.

use axum::http::StatusCode;
use serde_json::Value;

use crate::{ROWS, TestResult, get, get_json, live, server_with_queries};

#[tokio::test]
async fn the_hot_key_join_is_flagged_with_its_key_named() -> TestResult {
    let manager = server_with_queries().await?;
    let ui = live(&manager);
    let skew = get_json(&ui, "/api/v1/applications/local-1/skew").await?;
    let findings = skew.as_array().ok_or("not an array")?;
    assert_eq!(findings.len(), 1, "{skew:#}");
    let f = &findings[0];
    assert_eq!(f["queryId"], 1);
    assert!(
        f["operator"]
            .as_str()
            .unwrap_or("")
            .starts_with("HashJoinExec")
    );
    // 3 in 4 of the large side's rows carry key 0; it is the hottest key of the straggler
    let hot = &f["hotKeys"][0];
    assert_eq!(hot["key"], "0");
    let rows = hot["rows"].as_u64().ok_or("rows")? as f64;
    let expected = (ROWS - ROWS / 4) as f64;
    assert!(
        (rows - expected).abs() < 0.1 * expected,
        "{rows} vs {expected}"
    );
    // the straggler produced the hot key's matches: over 5x the median task
    assert!(f["ratio"].as_f64().ok_or("ratio")? > 5.0);
    assert!(f["advice"][0].as_str().unwrap_or("").contains("skewJoin"));

    // the Skew page and the query's page say the same
    let (status, page) = get(&ui, "/skew/").await?;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("<code class=\"hot-key\">0</code>"), "{page}");
    assert!(page.contains("1 stage(s) flagged"));
    let (_, query) = get(&ui, "/SQL/execution/?id=1").await?;
    assert!(query.contains("class=\"skew\""));
    assert!(query.contains("<svg id=\"plan-graph\""));
    assert!(query.contains("class=\"node hot\""));
    Ok(())
}

#[tokio::test]
async fn the_sql_api_gives_the_plan_as_nodes_and_edges_with_metrics() -> TestResult {
    let manager = server_with_queries().await?;
    let ui = live(&manager);
    let all = get_json(&ui, "/api/v1/applications/local-1/sql").await?;
    let all = all.as_array().ok_or("not an array")?;
    assert_eq!(all.len(), 3);
    let statuses: Vec<&str> = all.iter().filter_map(|e| e["status"].as_str()).collect();
    assert_eq!(statuses, vec!["COMPLETED", "COMPLETED", "FAILED"]);
    assert_eq!(all[0]["successJobIds"], serde_json::json!([1]));
    assert_eq!(all[2]["failedJobIds"], serde_json::json!([3]));
    assert!(all[0].get("nodes").is_none());

    let join = get_json(&ui, "/api/v1/applications/local-1/sql/1").await?;
    let nodes = join["nodes"].as_array().ok_or("nodes")?;
    let edges = join["edges"].as_array().ok_or("edges")?;
    // a tree: one edge per node but the root, each from a child to its parent
    assert_eq!(edges.len(), nodes.len() - 1);
    for e in edges {
        assert!(e["fromId"].as_u64() > e["toId"].as_u64());
    }
    let names: Vec<&str> = nodes
        .iter()
        .filter_map(|n| n["nodeName"].as_str())
        .collect();
    assert!(names.contains(&"HashJoinExec"), "{names:?}");
    assert!(!names.contains(&"StageExec") && !names.contains(&"KeySampleExec"));
    // the join's output_rows metric is the number of matches: one per large-side row
    let join_node = nodes
        .iter()
        .find(|n| n["nodeName"] == "HashJoinExec")
        .ok_or("no join")?;
    let out = join_node["metrics"]
        .as_array()
        .ok_or("metrics")?
        .iter()
        .find(|m| m["name"] == "output_rows")
        .ok_or("no output_rows")?;
    assert_eq!(out["value"], ROWS.to_string());
    Ok(())
}

#[tokio::test]
async fn jobs_stages_and_task_summaries_follow_sparks_api() -> TestResult {
    let manager = server_with_queries().await?;
    let ui = live(&manager);
    let apps = get_json(&ui, "/api/v1/applications").await?;
    assert_eq!(apps[0]["id"], "local-1");
    assert_eq!(apps[0]["attempts"][0]["completed"], false);

    let jobs = get_json(&ui, "/api/v1/applications/local-1/jobs").await?;
    let jobs = jobs.as_array().ok_or("jobs")?;
    // newest first, as Spark lists them
    let ids: Vec<u64> = jobs.iter().filter_map(|j| j["jobId"].as_u64()).collect();
    assert_eq!(ids, vec![3, 2, 1]);
    assert_eq!(jobs[0]["status"], "FAILED");
    assert_eq!(jobs[2]["status"], "SUCCEEDED");
    let job = get_json(&ui, "/api/v1/applications/local-1/jobs/1").await?;
    let stage_ids: Vec<u64> = job["stageIds"]
        .as_array()
        .ok_or("stageIds")?
        .iter()
        .filter_map(Value::as_u64)
        .collect();
    assert!(stage_ids.len() >= 3, "{stage_ids:?}");
    assert_eq!(job["numCompletedTasks"], job["numTasks"]);

    // the join's stage: 8 tasks whose rows add up to the join's output
    let stages = get_json(&ui, "/api/v1/applications/local-1/stages").await?;
    let skewed: Vec<&Value> = stages
        .as_array()
        .ok_or("stages")?
        .iter()
        .filter(|s| s["skewed"] == true)
        .collect();
    assert_eq!(skewed.len(), 1);
    let id = skewed[0]["stageId"].as_u64().ok_or("stageId")?;
    assert_eq!(skewed[0]["numTasks"], 8);
    assert_eq!(skewed[0]["status"], "COMPLETE");
    let detail = get_json(&ui, &format!("/api/v1/applications/local-1/stages/{id}")).await?;
    let tasks = detail[0]["tasks"].as_object().ok_or("tasks")?;
    assert_eq!(tasks.len(), 8);
    let task_rows: u64 = tasks
        .values()
        .filter_map(|t| t["taskMetrics"]["outputMetrics"]["recordsWritten"].as_u64())
        .sum();
    assert_eq!(detail[0]["outputRecords"].as_u64(), Some(task_rows));
    let mut per_task: Vec<u64> = tasks
        .values()
        .filter_map(|t| t["taskMetrics"]["outputMetrics"]["recordsWritten"].as_u64())
        .collect();
    per_task.sort_unstable();
    let summary = get_json(
        &ui,
        &format!("/api/v1/applications/local-1/stages/{id}/0/taskSummary?quantiles=0,0.5,1"),
    )
    .await?;
    // Spark's quantile index min(q * n, n - 1) over the sorted task values
    let records = &summary["outputMetrics"]["recordsWritten"];
    assert_eq!(records[0].as_f64(), Some(per_task[0] as f64));
    assert_eq!(records[1].as_f64(), Some(per_task[4] as f64));
    assert_eq!(records[2].as_f64(), Some(per_task[7] as f64));
    let (status, _) = get(
        &ui,
        &format!("/api/v1/applications/local-1/stages/{id}/0/taskSummary?quantiles=2"),
    )
    .await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    Ok(())
}

#[tokio::test]
async fn every_page_renders_and_bad_ids_are_refused() -> TestResult {
    let manager = server_with_queries().await?;
    let ui = live(&manager);
    for (uri, needle) in [
        ("/jobs/", "Spark Jobs"),
        ("/SQL/", "SQL / DataFrame"),
        ("/SQL/execution/?id=3", "FAILED"),
        ("/stages/", "Stages for All Jobs"),
        ("/stages/stage/?id=0", "Summary Metrics for"),
        ("/skew/", "Skew"),
        ("/storage/", "Storage Level"),
        ("/environment/", "spark.ui.port"),
        ("/connect/", "00000000-0000-4000-8000-000000000001"),
        ("/StreamingQuery/", "Streaming Query"),
        ("/static/spate.css", "nav"),
    ] {
        let (status, body) = get(&ui, uri).await?;
        assert_eq!(status, StatusCode::OK, "{uri}");
        assert!(body.contains(needle), "{uri} lacks {needle}");
    }
    let (status, _) = get(&ui, "/").await?;
    assert_eq!(status, StatusCode::SEE_OTHER);
    for (uri, expected) in [
        ("/SQL/execution/?id=99", StatusCode::NOT_FOUND),
        ("/SQL/execution/?id=x", StatusCode::BAD_REQUEST),
        ("/stages/stage/?id=999", StatusCode::NOT_FOUND),
        ("/jobs/?app=other", StatusCode::NOT_FOUND),
        ("/api/v1/applications/other/jobs", StatusCode::NOT_FOUND),
        (
            "/api/v1/applications/local-1/nothing",
            StatusCode::NOT_FOUND,
        ),
        ("/api/v1/applications/local-1/sql/99", StatusCode::NOT_FOUND),
        ("/StreamingQuery/statistics/?id=nope", StatusCode::NOT_FOUND),
    ] {
        let (status, _) = get(&ui, uri).await?;
        assert_eq!(status, expected, "{uri}");
    }
    // the failed query's error class is shown
    let sql = get_json(&ui, "/api/v1/applications/local-1/sql/3").await?;
    assert_eq!(sql["status"], "FAILED");
    let (_, page) = get(&ui, "/SQL/").await?;
    assert!(page.contains(sql["errorClass"].as_str().unwrap_or("none")));

    let env = get_json(&ui, "/api/v1/applications/local-1/environment").await?;
    let props = env["sparkProperties"].as_array().ok_or("props")?;
    assert!(props.contains(&serde_json::json!(["spark.ui.port", "4040"])));
    assert!(props.contains(&serde_json::json!(["spark.app.id", "local-1"])));
    let executors = get_json(&ui, "/api/v1/applications/local-1/executors").await?;
    assert_eq!(executors[0]["id"], "driver");
    let storage = get_json(&ui, "/api/v1/applications/local-1/storage/rdd").await?;
    assert_eq!(storage, serde_json::json!([]));
    Ok(())
}

#[tokio::test]
async fn a_busy_port_moves_the_ui_to_the_next_one() -> TestResult {
    let manager = server_with_queries().await?;
    let taken = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = taken.local_addr()?.port();
    match spate_ui::start(live(&manager), "127.0.0.1", port, 16).await {
        Ok(ui) => assert!(ui.addr.port() > port && ui.addr.port() <= port + 16),
        // the next ports may be taken by others on a busy machine; then it says so
        Err(e) => assert!(e.to_string().contains("spark.ui.port"), "{e}"),
    }
    let e = spate_ui::start(live(&manager), "127.0.0.1", port, 0)
        .await
        .err()
        .ok_or("bound a busy port")?;
    assert!(
        e.to_string().contains(&format!("ports {port} to {port}")),
        "{e}"
    );
    Ok(())
}
