//! The REST API under `/api/v1`, with Spark's paths and field names so tools written for
//! Spark's monitoring API read it: `applications`, `applications/{id}/jobs[/{job}]`,
//! `stages[/{stage}[/{attempt}/taskSummary]]`, `sql[/{id}]` (nodes, edges and metrics),
//! `executors`, `environment` and `storage/rdd`. A query is one job and one SQL execution with
//! the same id; a stage has one attempt (0); the one executor is the `driver`. Times are
//! Spark's `2026-12-07T08:45:00.123GMT`. `applications/{id}/skew` is Spate's own: the skew
//! findings the Skew page shows.

use serde_json::{Value, json};
use spate_exec::{QueryRecord, StageRecord, now_ms};

use crate::analysis::{
    distribution, findings, format_metric, job_status, metric_totals, shuffle_read_rows, skew,
    stage_operators, stage_status, task_ms,
};
use crate::model::{App, AppSummary};

/// A time as Spark's REST API writes it.
pub fn date(ms: i64) -> Value {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| Value::String(t.format("%Y-%m-%dT%H:%M:%S%.3fGMT").to_string()))
        .unwrap_or(Value::Null)
}

/// `applications`: Spark's ApplicationInfo.
pub fn application(a: &AppSummary) -> Value {
    let end = a.ended_ms;
    json!({
        "id": a.id,
        "name": a.name,
        "attempts": [{
            "startTime": date(a.started_ms),
            "endTime": end.map(date).unwrap_or_else(|| date(-1)),
            "lastUpdated": date(end.unwrap_or_else(now_ms)),
            "duration": end.unwrap_or_else(now_ms) - a.started_ms,
            "sparkUser": a.user,
            "completed": end.is_some(),
            "appSparkVersion": crate::SPARK_VERSION,
            "startTimeEpoch": a.started_ms,
            "endTimeEpoch": end.unwrap_or(-1),
            "lastUpdatedEpoch": end.unwrap_or_else(now_ms),
        }],
    })
}

fn count_tasks(stages: &[StageRecord], f: impl Fn(&spate_exec::TaskRecord) -> bool) -> usize {
    stages
        .iter()
        .flat_map(|s| s.tasks.iter())
        .filter(|t| f(t))
        .count()
}

/// `jobs`: Spark's JobData for a query.
pub fn job(q: &QueryRecord) -> Value {
    let total: usize = q.stages.iter().map(|s| s.tasks.len()).sum();
    let completed = count_tasks(&q.stages, |t| t.ended_ms.is_some());
    let active = count_tasks(&q.stages, |t| {
        t.started_ms.is_some() && t.ended_ms.is_none()
    });
    let statuses: Vec<&str> = q.stages.iter().map(|s| stage_status(q, s)).collect();
    let n = |s: &str| statuses.iter().filter(|x| **x == s).count();
    json!({
        "jobId": q.id,
        "name": q.kind,
        "description": q.description,
        "submissionTime": date(q.started_ms),
        "completionTime": q.ended_ms.map(date),
        "stageIds": q.stages.iter().map(|s| s.global_id).collect::<Vec<_>>(),
        "jobTags": q.tags,
        "status": job_status(q),
        "numTasks": total,
        "numActiveTasks": active,
        "numCompletedTasks": completed,
        "numSkippedTasks": 0,
        "numFailedTasks": if q.error_class.is_some() { total - completed } else { 0 },
        "numKilledTasks": 0,
        "numCompletedIndices": completed,
        "numActiveStages": n("ACTIVE"),
        "numCompletedStages": n("COMPLETE"),
        "numSkippedStages": n("SKIPPED"),
        "numFailedStages": n("FAILED"),
        "killedTasksSummary": {},
    })
}

fn task(q: &QueryRecord, s: &StageRecord, t: &spate_exec::TaskRecord, read: Option<u64>) -> Value {
    let status = match (t.started_ms, t.ended_ms) {
        (_, Some(_)) => "SUCCESS",
        (Some(_), None) => "RUNNING",
        (None, None) => "PENDING",
    };
    json!({
        "taskId": s.global_id * 100_000 + t.partition as u64,
        "index": t.partition,
        "attempt": 0,
        "partitionId": t.partition,
        "launchTime": t.started_ms.map(date),
        "duration": task_ms(t),
        "executorId": "driver",
        "host": "localhost",
        "status": status,
        "taskLocality": "PROCESS_LOCAL",
        "speculative": false,
        "accumulatorUpdates": [],
        "taskMetrics": {
            "executorRunTime": task_ms(t).unwrap_or(0),
            "outputMetrics": { "bytesWritten": t.bytes, "recordsWritten": t.rows },
            "shuffleReadMetrics": { "recordsRead": read.unwrap_or(0) },
        },
        "queryId": q.id,
    })
}

/// `stages`: Spark's StageData; `details` adds the tasks.
pub fn stage(q: &QueryRecord, s: &StageRecord, details: bool) -> Value {
    let start = s.tasks.iter().filter_map(|t| t.started_ms).min();
    let end = s.tasks.iter().filter_map(|t| t.ended_ms).max();
    let status = stage_status(q, s);
    let ops = stage_operators(q, s.id);
    let sum = |name: &str| -> u64 {
        ops.iter()
            .filter_map(|o| crate::analysis::metric_total(o, name))
            .sum()
    };
    let peak = ops
        .iter()
        .filter_map(|o| crate::analysis::metric_total(o, "peak_mem_used"))
        .max()
        .unwrap_or(0);
    let completed = s.tasks.iter().filter(|t| t.ended_ms.is_some()).count();
    let mut v = json!({
        "status": status,
        "stageId": s.global_id,
        "attemptId": 0,
        "numTasks": s.tasks.len(),
        "numActiveTasks": s.tasks.iter().filter(|t| t.started_ms.is_some() && t.ended_ms.is_none()).count(),
        "numCompleteTasks": completed,
        "numFailedTasks": 0,
        "numKilledTasks": 0,
        "numCompletedIndices": completed,
        "submissionTime": start.map(date),
        "firstTaskLaunchedTime": start.map(date),
        "completionTime": if status == "COMPLETE" { end.map(date) } else { None },
        "executorRunTime": s.tasks.iter().filter_map(task_ms).sum::<i64>(),
        "memoryBytesSpilled": sum("spilled_bytes"),
        "diskBytesSpilled": sum("spilled_bytes"),
        "peakExecutionMemory": peak,
        "inputBytes": sum("bytes_scanned"),
        "outputBytes": s.tasks.iter().map(|t| t.bytes).sum::<u64>(),
        "outputRecords": s.tasks.iter().map(|t| t.rows).sum::<u64>(),
        "shuffleReadRecords": shuffle_read_rows(q, s).map(|r| r.iter().sum::<u64>()).unwrap_or(0),
        "name": ops.first().map(|o| o.name.clone()).unwrap_or_default(),
        "description": q.description,
        "details": ops.iter().map(|o| o.display.clone()).collect::<Vec<_>>().join("\n"),
        "schedulingPool": "default",
        "rddIds": [],
        "accumulatorUpdates": [],
        "killedTasksSummary": {},
        "resourceProfileId": 0,
        "parentStageIds": s.parents.iter().map(|p| q.first_stage_id + *p as u64).collect::<Vec<_>>(),
        "queryId": q.id,
        "skewed": skew(q, s).is_some(),
    });
    if details && let Some(obj) = v.as_object_mut() {
        let read = shuffle_read_rows(q, s);
        let tasks: serde_json::Map<String, Value> = s
            .tasks
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let value = task(q, s, t, read.as_ref().and_then(|r| r.get(i).copied()));
                (value["taskId"].to_string(), value)
            })
            .collect();
        obj.insert("tasks".into(), Value::Object(tasks));
    }
    v
}

/// `stages/{id}/{attempt}/taskSummary`: Spark's TaskMetricDistributions at `quantiles`.
pub fn task_summary(s: &StageRecord, quantiles: &[f64]) -> Value {
    let ended: Vec<&spate_exec::TaskRecord> =
        s.tasks.iter().filter(|t| t.ended_ms.is_some()).collect();
    let durations = distribution(
        ended.iter().filter_map(|t| task_ms(t)).map(|d| d as f64),
        quantiles,
    );
    json!({
        "quantiles": quantiles,
        "duration": durations,
        "executorRunTime": durations,
        "outputMetrics": {
            "bytesWritten": distribution(ended.iter().map(|t| t.bytes as f64), quantiles),
            "recordsWritten": distribution(ended.iter().map(|t| t.rows as f64), quantiles),
        },
    })
}

/// `sql`: Spark's ExecutionData; `details` adds nodes and edges with metrics.
pub fn sql(q: &QueryRecord, details: bool) -> Value {
    let job = [q.id];
    let empty: [u64; 0] = [];
    let (running, success, failed): (&[u64], &[u64], &[u64]) = match job_status(q) {
        "RUNNING" => (&job, &empty, &empty),
        "SUCCEEDED" => (&empty, &job, &empty),
        _ => (&empty, &empty, &job),
    };
    let mut v = json!({
        "id": q.id,
        "status": q.status.as_str(),
        "description": q.description,
        "planDescription": q.physical_plan,
        "submissionTime": date(q.started_ms),
        "duration": q.duration_ms(now_ms()),
        "runningJobIds": running,
        "successJobIds": success,
        "failedJobIds": failed,
        "errorMessage": q.error_message,
        "errorClass": q.error_class,
        "rows": q.rows_out,
    });
    if details && let Some(obj) = v.as_object_mut() {
        let nodes: Vec<Value> = q
            .operators
            .iter()
            .map(|o| {
                let metrics: Vec<Value> = metric_totals(o)
                    .into_iter()
                    .map(
                        |(name, value)| json!({"name": name, "value": format_metric(&name, value)}),
                    )
                    .collect();
                json!({
                    "nodeId": o.id,
                    "nodeName": o.name,
                    "wholeStageCodegenId": o.stage.map(|s| q.first_stage_id + s as u64),
                    "metrics": metrics,
                })
            })
            .collect();
        let edges: Vec<Value> = q
            .operators
            .iter()
            .filter_map(|o| o.parent.map(|p| json!({"fromId": o.id, "toId": p})))
            .collect();
        obj.insert("nodes".into(), Value::Array(nodes));
        obj.insert("edges".into(), Value::Array(edges));
    }
    v
}

/// `executors`: the one executor, the driver, with the tasks of every query.
pub fn executors(app: &App) -> Value {
    let all = || app.queries.iter().flat_map(|q| q.stages.iter());
    let completed: usize = all()
        .map(|s| s.tasks.iter().filter(|t| t.ended_ms.is_some()).count())
        .sum();
    let active: usize = all()
        .map(|s| {
            s.tasks
                .iter()
                .filter(|t| t.started_ms.is_some() && t.ended_ms.is_none())
                .count()
        })
        .sum();
    let duration: i64 = all().flat_map(|s| s.tasks.iter()).filter_map(task_ms).sum();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    json!([{
        "id": "driver",
        "hostPort": "localhost",
        "isActive": !app.history,
        "rddBlocks": app.storage.iter().map(|c| c.partitions).sum::<usize>(),
        "memoryUsed": app.storage.iter().map(|c| c.memory_bytes).sum::<u64>(),
        "diskUsed": app.storage.iter().map(|c| c.disk_bytes).sum::<u64>(),
        "totalCores": cores,
        "maxTasks": cores,
        "activeTasks": active,
        "failedTasks": 0,
        "completedTasks": completed,
        "totalTasks": active + completed,
        "totalDuration": duration,
        "totalGCTime": 0,
        "totalInputBytes": 0,
        "totalShuffleRead": 0,
        "totalShuffleWrite": 0,
        "isBlacklisted": false,
        "isExcluded": false,
        "addTime": date(app.summary.started_ms),
        "executorLogs": {},
    }])
}

/// `environment`: Spark's ApplicationEnvironmentInfo.
pub fn environment(app: &App) -> Value {
    json!({
        "runtime": { "javaVersion": "", "javaHome": "", "scalaVersion": "" },
        "sparkProperties": app.environment.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>(),
        "hadoopProperties": [],
        "systemProperties": [],
        "metricsProperties": [],
        "classpathEntries": [],
        "resourceProfiles": [],
    })
}

/// `storage/rdd`: Spark's RDDStorageInfo per cached DataFrame.
pub fn storage(app: &App) -> Value {
    Value::Array(
        app.storage
            .iter()
            .map(|c| {
                json!({
                    "id": c.id,
                    "name": format!("cached relation {} of session {}", c.id, c.session_id),
                    "numPartitions": c.partitions,
                    "numCachedPartitions": if c.computed { c.partitions } else { 0 },
                    "storageLevel": c.level,
                    "memoryUsed": c.memory_bytes,
                    "diskUsed": c.disk_bytes,
                })
            })
            .collect(),
    )
}

/// `skew` (Spate's): the skew findings.
pub fn skew_findings(app: &App) -> Value {
    Value::Array(
        findings(&app.queries)
            .iter()
            .map(|f| {
                json!({
                    "queryId": f.query_id,
                    "stageId": f.stage_id,
                    "partition": f.partition,
                    "measure": f.measure,
                    "max": f.max,
                    "median": f.median,
                    "ratio": f.ratio(),
                    "operator": f.operator,
                    "keys": f.keys,
                    "hotKeys": f.hot_keys.iter().map(|h| json!({
                        "key": h.key, "rows": h.rows, "partitionRows": h.partition_rows,
                    })).collect::<Vec<_>>(),
                    "advice": f.advice(),
                })
            })
            .collect(),
    )
}
