//! Reading Delta tables: the latest version, or the one `versionAsOf` / `timestampAsOf` (or
//! SQL's `VERSION AS OF` / `TIMESTAMP AS OF`) names, through delta-rs's table provider, which
//! DataFusion prunes by partition and statistics. A time before the first commit is
//! delta-spark's error.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use datafusion::datasource::provider_as_source;
use datafusion::execution::SessionState;
use datafusion::logical_expr::{LogicalPlan, LogicalPlanBuilder};
use deltalake::DeltaTableBuilder;
use spate_common::{Error, Result};

use crate::delta::table::{
    delta_error, is_delta_table, local_dir, not_a_table, parse_instant, table_url,
};

/// Reads the Delta table at `path` (its latest version, or the one `versionasof` or
/// `timestampasof` in `options` names, a timestamp without a zone read in the session time
/// zone) as a scan named `alias`.
pub async fn read(
    state: &SessionState,
    path: &str,
    options: &HashMap<String, String>,
    alias: &str,
) -> Result<LogicalPlan> {
    let tz = crate::options::session_time_zone(state);
    let dir = local_dir(path);
    if !is_delta_table(&dir) {
        return Err(not_a_table(&dir));
    }
    if let Some((start, end)) = crate::delta::changes::requested(options)? {
        return crate::delta::changes::read(state, &dir, start, end, alias).await;
    }
    let mut builder =
        DeltaTableBuilder::from_url(table_url(&dir)?).map_err(|e| delta_error(&dir, e))?;
    match (options.get("versionasof"), options.get("timestampasof")) {
        (Some(_), Some(_)) => {
            return Err(Error::IllegalArgument(
                "[DELTA_TIME_TRAVEL_MULTIPLE_FORMATS] Cannot specify both versionAsOf and timestampAsOf".into(),
            ));
        }
        (Some(v), None) => {
            let v: u64 = v.trim().parse().map_err(|_| {
                Error::IllegalArgument(format!("option 'versionAsOf' must be a number, got '{v}'"))
            })?;
            builder = builder.with_version(v);
        }
        (None, Some(t)) => {
            let at = parse_instant(t, &tz)?;
            check_not_before_first_commit(&dir, at, t)?;
            builder = builder.with_timestamp(at);
        }
        (None, None) => {}
    }
    let table = builder.load().await.map_err(|e| delta_error(&dir, e))?;
    let provider = table
        .table_provider()
        .with_session(Arc::new(state.clone()))
        .await?;
    let name = datafusion::common::TableReference::bare(alias);
    Ok(LogicalPlanBuilder::scan(name, provider_as_source(provider), None)?.build()?)
}

/// delta-spark's error for a time before the table's first commit (delta-rs would give the
/// first version).
fn check_not_before_first_commit(dir: &Path, at: DateTime<Utc>, text: &str) -> Result<()> {
    match first_commit_time(dir) {
        Some(created) if at < created => Err(Error::Analysis {
            class: "DELTA_TIMESTAMP_EARLIER_THAN_COMMIT_RETENTION".into(),
            message: format!(
                "The provided timestamp ({text}) is before the earliest version available to this table ({}). Please use a timestamp after {}.",
                created.format("%Y-%m-%d %H:%M:%S%.3f"),
                created.format("%Y-%m-%d %H:%M:%S%.3f")
            ),
            params: vec![],
        }),
        _ => Ok(()),
    }
}

/// The commit time of the oldest commit the log keeps: its commit file's `commitInfo` (only
/// that one file is read, however long the history).
fn first_commit_time(dir: &Path) -> Option<DateTime<Utc>> {
    let log = dir.join("_delta_log");
    let oldest = std::fs::read_dir(&log)
        .ok()?
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            let version = name.strip_suffix(".json")?;
            (version.len() == 20)
                .then(|| version.parse::<u64>().ok())
                .flatten()
                .map(|v| (v, name))
        })
        .min()?;
    let text = std::fs::read_to_string(log.join(oldest.1)).ok()?;
    text.lines().find_map(|line| {
        let action: serde_json::Value = serde_json::from_str(line).ok()?;
        let info = action.get("commitInfo")?;
        let ms = info
            .get("inCommitTimestamp")
            .or_else(|| info.get("timestamp"))?
            .as_i64()?;
        DateTime::from_timestamp_millis(ms)
    })
}
