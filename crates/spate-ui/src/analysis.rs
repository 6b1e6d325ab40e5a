//! What the pages compute from the query records: each stage's status, times and task
//! distributions (Spark's min / 25th / median / 75th / max), operator metric totals, and the
//! skew finder.
//!
//! A stage is flagged as skewed when its slowest task took more than [`SKEW_FACTOR`] times the
//! other tasks' median time, or its largest task read (from the exchanges feeding the stage;
//! for a stage that reads no exchange, produced) more than [`SKEW_FACTOR`] times the other
//! tasks' median rows — Spark's own factor for a skewed partition
//! (`spark.sql.adaptive.skewJoin.skewedPartitionFactor`) — and the straggler is large enough to
//! matter ([`MIN_SKEWED_ROWS`] rows or [`MIN_SKEWED_MS`] milliseconds). A finding names the
//! operator that did the work in the stage (a join, an aggregation, a window), the straggling
//! task's partition, the hottest key values the exchanges feeding that task sampled, and what to
//! do about it.

use spate_exec::{HotKey, OperatorRecord, QueryRecord, QueryStatus, StageRecord, TaskRecord};

/// Spark's skewed-partition factor: a task this many times the median is a straggler.
pub const SKEW_FACTOR: f64 = 5.0;
/// A straggler by rows must have at least this many rows.
pub const MIN_SKEWED_ROWS: u64 = 10_000;
/// A straggler by time must have run at least this long.
pub const MIN_SKEWED_MS: i64 = 100;

/// The quantiles the UI shows for task distributions (min, 25th, median, 75th, max).
pub const UI_QUANTILES: [f64; 5] = [0.0, 0.25, 0.5, 0.75, 1.0];

/// Spark's quantile of sorted values: the value at index `min(q * n, n - 1)`.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let n = sorted.len();
    let i = ((q * n as f64) as usize).min(n - 1);
    sorted[i]
}

/// The quantiles `qs` of `values`.
pub fn distribution(values: impl IntoIterator<Item = f64>, qs: &[f64]) -> Vec<f64> {
    let mut v: Vec<f64> = values.into_iter().collect();
    v.sort_by(f64::total_cmp);
    qs.iter().map(|q| quantile(&v, *q)).collect()
}

/// A task's duration in milliseconds, once it ended.
pub fn task_ms(t: &TaskRecord) -> Option<i64> {
    Some(t.ended_ms? - t.started_ms?)
}

/// Spark's stage status for a stage of `query`.
pub fn stage_status(query: &QueryRecord, stage: &StageRecord) -> &'static str {
    let started = stage
        .tasks
        .iter()
        .filter(|t| t.started_ms.is_some())
        .count();
    let ended = stage.tasks.iter().filter(|t| t.ended_ms.is_some()).count();
    match query.status {
        QueryStatus::Running if started == 0 => "PENDING",
        QueryStatus::Running if ended < stage.tasks.len() => "ACTIVE",
        _ if started == 0 && !stage.tasks.is_empty() => "SKIPPED",
        QueryStatus::Failed if ended < stage.tasks.len() => "FAILED",
        _ => "COMPLETE",
    }
}

/// Spark's job status for a query (`SUCCEEDED`, `FAILED`, `RUNNING`; a canceled query's job
/// failed, as Spark reports a cancelled job).
pub fn job_status(query: &QueryRecord) -> &'static str {
    match query.status {
        QueryStatus::Running => "RUNNING",
        QueryStatus::Succeeded => "SUCCEEDED",
        QueryStatus::Failed | QueryStatus::Canceled => "FAILED",
    }
}

/// The operators that ran in a stage (pre-order), by the stage's id within its query.
pub fn stage_operators(query: &QueryRecord, stage: usize) -> Vec<&OperatorRecord> {
    query
        .operators
        .iter()
        .filter(|o| o.stage == Some(stage))
        .collect()
}

/// An operator's metric summed over its partitions (or its whole-operator value).
pub fn metric_total(op: &OperatorRecord, name: &str) -> Option<u64> {
    let mut seen = false;
    let mut total = 0u64;
    for m in op.metrics.iter().filter(|m| m.name == name) {
        seen = true;
        total = if name == "peak_mem_used" {
            total.max(m.value)
        } else {
            total.saturating_add(m.value)
        };
    }
    seen.then_some(total)
}

/// An operator's metrics, each summed over partitions, in the order first seen.
pub fn metric_totals(op: &OperatorRecord) -> Vec<(String, u64)> {
    let mut names: Vec<&str> = Vec::new();
    for m in &op.metrics {
        if !names.contains(&m.name.as_str()) {
            names.push(&m.name);
        }
    }
    names
        .into_iter()
        .filter_map(|n| metric_total(op, n).map(|v| (n.to_string(), v)))
        .collect()
}

/// A metric value as people read it: times (nanoseconds) in ms/s, bytes in KiB/MiB, counts.
pub fn format_metric(name: &str, value: u64) -> String {
    if name.contains("time") || name.contains("elapsed") {
        format_ms(value as f64 / 1e6)
    } else if name.contains("bytes") || name.contains("mem") {
        format_bytes(value)
    } else {
        value.to_string()
    }
}

/// Milliseconds as Spark's UI writes them (`12 ms`, `3.4 s`, `2.1 min`, `1.5 h`).
pub fn format_ms(ms: f64) -> String {
    if ms < 1000.0 {
        format!("{} ms", ms.round() as i64)
    } else if ms < 60_000.0 {
        format!("{:.1} s", ms / 1000.0)
    } else if ms < 3_600_000.0 {
        format!("{:.1} min", ms / 60_000.0)
    } else {
        format!("{:.1} h", ms / 3_600_000.0)
    }
}

/// Bytes as Spark's UI writes them (`0.0 B`, `12.5 KiB`, `3.0 MiB`).
pub fn format_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

/// What kind of work a skewed stage did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkKind {
    /// A join on keys.
    Join,
    /// A grouped aggregation.
    Aggregate,
    /// A window function over partitions.
    Window,
    /// Anything else fed by a hash exchange (`repartition(n, col)`).
    Other,
}

/// A stage whose one task did far more than the others.
#[derive(Debug, Clone)]
pub struct SkewFinding {
    /// The query.
    pub query_id: u64,
    /// The stage's server-wide id.
    pub stage_id: u64,
    /// The straggling task's partition.
    pub partition: usize,
    /// `rows` or `time`: which measure exceeded the factor (time wins when both do).
    pub measure: &'static str,
    /// The straggler's value (rows, or milliseconds).
    pub max: f64,
    /// The median task's value.
    pub median: f64,
    /// The operator that did the work.
    pub operator: String,
    /// What kind of work.
    pub kind: WorkKind,
    /// The key expressions of the exchanges feeding the stage.
    pub keys: Vec<String>,
    /// The hottest keys the straggler read, heaviest first.
    pub hot_keys: Vec<HotKey>,
}

impl SkewFinding {
    /// max / median (the median counted as at least 1).
    pub fn ratio(&self) -> f64 {
        self.max / self.median.max(1.0)
    }

    /// What to do about it, in Spark's terms.
    pub fn advice(&self) -> Vec<String> {
        let salt = "salt the key: add a random salt (0..N-1) to the hot side's key so its rows \
                    spread over N tasks";
        match self.kind {
            WorkKind::Join => vec![
                "turn on spark.sql.adaptive.skewJoin.enabled (Spate then spreads the hot key's \
                 rows over all tasks and copies the other side's matching rows to each, where \
                 its partition is over spark.sql.adaptive.skewJoin.skewedPartitionFactor times \
                 the median and skewedPartitionThresholdInBytes; lower these to split sooner)"
                    .into(),
                "broadcast the smaller side (F.broadcast(df), or raise \
                 spark.sql.autoBroadcastJoinThreshold) so the join needs no shuffle"
                    .into(),
                format!("{salt}, and explode the other side over the N salts"),
            ],
            WorkKind::Aggregate => vec![
                format!("{salt}, aggregate on (key, salt) first and then on the key"),
                "for distinct counts keep spark.spate.aggregate.splitDistinct on (two-level \
                 aggregation)"
                    .into(),
            ],
            WorkKind::Window => vec![
                "partition the window by more columns, or pre-aggregate the hot key before the \
                 window"
                    .into(),
            ],
            WorkKind::Other => vec![
                "repartition by a column with more distinct values, or repartition(n) without \
                 columns (round robin)"
                    .into(),
            ],
        }
    }
}

/// The rows each task of a stage read from the hash exchanges feeding it (Spark's shuffle read
/// records), by partition; `None` when no hash exchange feeds the stage.
pub fn shuffle_read_rows(query: &QueryRecord, stage: &StageRecord) -> Option<Vec<u64>> {
    let exchanges: Vec<&OperatorRecord> = stage_operators(query, stage.id)
        .into_iter()
        .filter(|o| !o.partition_rows.is_empty())
        .collect();
    if exchanges.is_empty() {
        return None;
    }
    Some(
        stage
            .tasks
            .iter()
            .map(|t| {
                exchanges
                    .iter()
                    .filter_map(|e| e.partition_rows.get(t.partition))
                    .sum()
            })
            .collect(),
    )
}

/// The largest value with its position, and the median of the others (Spark's quantile rule),
/// if the largest exceeds [`SKEW_FACTOR`] times that median and `min`.
fn straggler(values: &[f64], min: f64) -> Option<(usize, f64, f64)> {
    if values.len() < 2 {
        return None;
    }
    let (at, max) = values
        .iter()
        .copied()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(&b.1))?;
    let others = values
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != at)
        .map(|(_, v)| *v);
    let median = distribution(others, &[0.5])[0];
    (max >= min && max > SKEW_FACTOR * median.max(1.0)).then_some((at, max, median))
}

/// The skew finding of a stage of `query`, if it is skewed. The median a straggler is compared
/// with is the other tasks' median, so that two tasks (two cores) can show skew too.
pub fn skew(query: &QueryRecord, stage: &StageRecord) -> Option<SkewFinding> {
    if stage.tasks.len() < 2 {
        return None;
    }
    let ended = stage.tasks.iter().all(|t| t.ended_ms.is_some());
    let times: Vec<f64> = stage
        .tasks
        .iter()
        .map(|t| task_ms(t).unwrap_or(0) as f64)
        .collect();
    let rows: Vec<f64> = match shuffle_read_rows(query, stage) {
        Some(read) => read.into_iter().map(|r| r as f64).collect(),
        None => stage.tasks.iter().map(|t| t.rows as f64).collect(),
    };
    let by_time = if ended {
        straggler(&times, MIN_SKEWED_MS as f64)
    } else {
        None
    };
    let by_rows = straggler(&rows, MIN_SKEWED_ROWS as f64);
    let (measure, (at, max, median)) = match (by_time, by_rows) {
        (Some(t), _) => ("time", t),
        (None, Some(r)) => ("rows", r),
        (None, None) => return None,
    };
    let partition = stage.tasks.get(at).map(|t| t.partition).unwrap_or(at);
    let ops = stage_operators(query, stage.id);
    let worker = ops
        .iter()
        .find(|o| o.name.contains("Join"))
        .map(|o| (o, WorkKind::Join))
        .or_else(|| {
            ops.iter()
                .find(|o| o.name.contains("Aggregate"))
                .map(|o| (o, WorkKind::Aggregate))
        })
        .or_else(|| {
            ops.iter()
                .find(|o| o.name.contains("Window"))
                .map(|o| (o, WorkKind::Window))
        });
    let (operator, kind) = match worker {
        Some((o, k)) => (o.display.clone(), k),
        None => (
            ops.first().map(|o| o.display.clone()).unwrap_or_default(),
            WorkKind::Other,
        ),
    };
    let mut keys = Vec::new();
    let mut hot: Vec<HotKey> = Vec::new();
    for exchange in ops.iter().filter(|o| !o.keys.is_empty()) {
        for k in &exchange.keys {
            if !keys.contains(k) {
                keys.push(k.clone());
            }
        }
        for h in exchange
            .hot_keys
            .iter()
            .filter(|h| h.partition == partition)
        {
            match hot.iter_mut().find(|x| x.key == h.key) {
                Some(x) if x.rows < h.rows => *x = h.clone(),
                Some(_) => {}
                None => hot.push(h.clone()),
            }
        }
    }
    // a key counts as hot when it holds at least 1% of what the task read
    let read: u64 = ops
        .iter()
        .filter_map(|o| o.partition_rows.get(partition))
        .sum();
    hot.retain(|h| h.rows.saturating_mul(100) >= read);
    hot.sort_by(|a, b| b.rows.cmp(&a.rows).then_with(|| a.key.cmp(&b.key)));
    Some(SkewFinding {
        query_id: query.id,
        stage_id: stage.global_id,
        partition,
        measure,
        max,
        median,
        operator,
        kind,
        keys,
        hot_keys: hot,
    })
}

/// Every skew finding of the queries, newest query first.
pub fn findings(queries: &[QueryRecord]) -> Vec<SkewFinding> {
    queries
        .iter()
        .rev()
        .flat_map(|q| q.stages.iter().filter_map(move |s| skew(q, s)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_follow_sparks_index_rule() {
        let v: Vec<f64> = (1..=10).map(f64::from).collect();
        // index min(q * n, n - 1): 0, 2, 5, 7, 9
        assert_eq!(
            distribution(v.iter().copied(), &UI_QUANTILES),
            vec![1.0, 3.0, 6.0, 8.0, 10.0]
        );
        assert_eq!(quantile(&[], 0.5), 0.0);
    }

    #[test]
    fn sizes_and_times_read_as_in_sparks_ui() {
        assert_eq!(format_bytes(0), "0.0 B");
        assert_eq!(format_bytes(1536), "1.5 KiB");
        assert_eq!(format_bytes(3 << 20), "3.0 MiB");
        assert_eq!(format_ms(12.4), "12 ms");
        assert_eq!(format_ms(3400.0), "3.4 s");
        assert_eq!(format_ms(126_000.0), "2.1 min");
        assert_eq!(format_metric("elapsed_compute", 2_000_000), "2 ms");
        assert_eq!(format_metric("output_rows", 42), "42");
    }
}
