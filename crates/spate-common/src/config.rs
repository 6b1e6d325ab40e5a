//! Session configuration with Apache Spark's names and defaults. A session holds the values the
//! client set; reads fall back to Spark's default for the key, and a key with neither is
//! Spark's `SQL_CONF_NOT_FOUND`. Values are kept as the strings Spark shows, so
//! `spark.conf.get` returns exactly what PySpark users see on Spark (e.g. `10485760b`).

use std::collections::BTreeMap;

use crate::error::{Error, Result};

/// Spark's defaults for the keys users read and set (Spark 4.x).
const DEFAULTS: &[(&str, &str)] = &[
    ("spark.app.name", "spate"),
    ("spark.master", "local[*]"),
    ("spark.sql.shuffle.partitions", "200"),
    ("spark.sql.ansi.enabled", "true"),
    ("spark.sql.caseSensitive", "false"),
    ("spark.sql.adaptive.enabled", "true"),
    ("spark.sql.adaptive.coalescePartitions.enabled", "true"),
    (
        "spark.sql.adaptive.coalescePartitions.parallelismFirst",
        "true",
    ),
    ("spark.sql.adaptive.advisoryPartitionSizeInBytes", "64MB"),
    ("spark.sql.adaptive.skewJoin.enabled", "true"),
    // row_number() <= k keeps k rows per key before the window's sort, up to this k
    ("spark.sql.optimizer.windowGroupLimitThreshold", "1000"),
    ("spark.sql.adaptive.skewJoin.skewedPartitionFactor", "5.0"),
    (
        "spark.sql.adaptive.skewJoin.skewedPartitionThresholdInBytes",
        "256MB",
    ),
    ("spark.sql.adaptive.localShuffleReader.enabled", "true"),
    ("spark.sql.autoBroadcastJoinThreshold", "10485760b"),
    // Spate: the memory cached DataFrames may hold before they go to disk (spate_plan::cache)
    ("spark.spate.cache.maxMemory", "2g"),
    // Spate: a distinct aggregate beside counts is aggregated in two levels
    // (spate_plan::distinct_aggregates); `false` keeps DataFusion's one-level plan
    ("spark.spate.aggregate.splitDistinct", "true"),
    // Spate: sliding and running window aggregates in one pass (spate_plan::sliding_window);
    // `false` keeps DataFusion's window operators
    ("spark.spate.window.sliding", "true"),
    ("spark.sql.files.maxPartitionBytes", "128MB"),
    ("spark.sql.files.ignoreCorruptFiles", "false"),
    ("spark.sql.files.maxRecordsPerFile", "0"),
    ("spark.sql.parquet.compression.codec", "snappy"),
    ("spark.sql.sources.default", "parquet"),
    ("spark.sql.sources.partitionOverwriteMode", "STATIC"),
    ("spark.sql.execution.arrow.maxRecordsPerBatch", "10000"),
    ("spark.sql.session.localRelationCacheThreshold", "67108864"),
    ("spark.sql.repl.eagerEval.enabled", "false"),
    ("spark.sql.repl.eagerEval.maxNumRows", "20"),
    ("spark.sql.repl.eagerEval.truncate", "20"),
    ("spark.sql.pyspark.inferNestedDictAsStruct.enabled", "false"),
    (
        "spark.sql.pyspark.legacy.inferArrayTypeFromFirstElement.enabled",
        "false",
    ),
    ("spark.sql.timestampType", "TIMESTAMP_LTZ"),
    ("spark.sql.legacy.timeParserPolicy", "CORRECTED"),
    ("spark.sql.crossJoin.enabled", "true"),
    // a map built with a key twice: an error (EXCEPTION) or the last value wins (LAST_WIN)
    ("spark.sql.mapKeyDedupPolicy", "EXCEPTION"),
    ("spark.sql.join.preferSortMergeJoin", "true"),
    (
        "spark.sql.execution.pandas.convertToArrowArraySafely",
        "false",
    ),
    ("spark.sql.execution.pythonUDF.arrow.enabled", "false"),
    ("spark.sql.session.localRelationSizeLimit", "3221225472"),
    ("spark.sql.session.localRelationChunkSizeRows", "10000"),
    ("spark.sql.session.localRelationChunkSizeBytes", "16777216"),
    (
        "spark.sql.session.localRelationBatchOfChunksSizeBytes",
        "268435456",
    ),
    (
        "spark.sql.execution.arrow.pyspark.selfDestruct.enabled",
        "false",
    ),
    ("spark.sql.execution.arrow.useLargeVarTypes", "false"),
    ("spark.sql.execution.pandas.inferPandasDictAsMap", "false"),
    ("spark.sql.execution.pandas.structHandlingMode", "legacy"),
    ("spark.sql.execution.pyspark.binaryAsBytes", "true"),
    ("spark.sql.pyspark.jvmStacktrace.enabled", "false"),
    (
        "spark.sql.pyspark.legacy.inferMapTypeFromFirstPair.enabled",
        "false",
    ),
    ("spark.sql.connect.serverStacktrace.enabled", "false"),
    ("spark.sql.artifact.isolation.enabled", "false"),
    (
        "spark.sql.artifact.isolation.alwaysApplyClassloader",
        "false",
    ),
    // Plans are never compressed: Spate reads them as sent (-1 disables compression).
    ("spark.connect.session.planCompression.threshold", "-1"),
    (
        "spark.connect.session.planCompression.defaultAlgorithm",
        "NONE",
    ),
];

/// Keys whose default depends on the machine or the server's start-up options.
const SESSION_TIME_ZONE: &str = "spark.sql.session.timeZone";
/// The warehouse directory key.
pub const WAREHOUSE_DIR: &str = "spark.sql.warehouse.dir";

/// The configuration of one session.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    values: BTreeMap<String, String>,
    time_zone: String,
    warehouse: String,
}

impl SessionConfig {
    /// A configuration with Spark's defaults, the machine's time zone and the given warehouse.
    pub fn new(warehouse: impl Into<String>) -> Self {
        Self {
            values: BTreeMap::new(),
            time_zone: local_time_zone(),
            warehouse: warehouse.into(),
        }
    }

    /// The value of `key`: what was set, else Spark's default, else `None`.
    pub fn get(&self, key: &str) -> Option<String> {
        if let Some(v) = self.values.get(key) {
            return Some(v.clone());
        }
        self.default_of(key)
    }

    /// Like [`SessionConfig::get`], but a missing key is Spark's `SQL_CONF_NOT_FOUND`.
    pub fn get_required(&self, key: &str) -> Result<String> {
        self.get(key)
            .ok_or_else(|| Error::ConfNotFound(key.to_string()))
    }

    /// Spark's default for `key`.
    pub fn default_of(&self, key: &str) -> Option<String> {
        match key {
            SESSION_TIME_ZONE => Some(self.time_zone.clone()),
            WAREHOUSE_DIR => Some(self.warehouse.clone()),
            _ => DEFAULTS
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v.to_string()),
        }
    }

    /// Sets `key` to `value`, checking the values Spate interprets.
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        validate(key, value)?;
        self.values.insert(key.to_string(), value.to_string());
        Ok(())
    }

    /// Removes a value set by the client; reads go back to the default.
    pub fn unset(&mut self, key: &str) {
        self.values.remove(key);
    }

    /// Whether the client set `key` explicitly.
    pub fn is_set(&self, key: &str) -> bool {
        self.values.contains_key(key)
    }

    /// Every key set or defaulted, in key order, optionally filtered by prefix.
    pub fn all(&self, prefix: Option<&str>) -> Vec<(String, String)> {
        let mut all: BTreeMap<String, String> = DEFAULTS
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        all.insert(SESSION_TIME_ZONE.into(), self.time_zone.clone());
        all.insert(WAREHOUSE_DIR.into(), self.warehouse.clone());
        all.extend(self.values.clone());
        all.into_iter()
            .filter(|(k, _)| prefix.is_none_or(|p| k.starts_with(p)))
            .collect()
    }

    /// Whether `key` may be changed at run time (Spark forbids static and core keys).
    pub fn is_modifiable(key: &str) -> bool {
        key.starts_with("spark.sql.") && key != WAREHOUSE_DIR
    }

    /// The session time zone.
    pub fn time_zone(&self) -> String {
        self.get(SESSION_TIME_ZONE).unwrap_or_else(|| "UTC".into())
    }

    /// `spark.sql.shuffle.partitions` as a number.
    pub fn shuffle_partitions(&self) -> usize {
        self.get("spark.sql.shuffle.partitions")
            .and_then(|v| v.parse().ok())
            .unwrap_or(200)
    }

    /// Whether a map built with a key twice keeps the key's last value
    /// (`spark.sql.mapKeyDedupPolicy` is `LAST_WIN`) rather than failing.
    pub fn map_key_last_win(&self) -> bool {
        self.get("spark.sql.mapKeyDedupPolicy")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("LAST_WIN"))
    }

    /// Whether ANSI mode is on.
    pub fn ansi(&self) -> bool {
        self.get_bool("spark.sql.ansi.enabled").unwrap_or(true)
    }

    /// A boolean key.
    pub fn get_bool(&self, key: &str) -> Option<bool> {
        self.get(key)
            .and_then(|v| v.trim().to_ascii_lowercase().parse().ok())
    }

    /// The warehouse directory.
    pub fn warehouse(&self) -> String {
        self.get(WAREHOUSE_DIR)
            .unwrap_or_else(|| self.warehouse.clone())
    }

    /// `spark.sql.autoBroadcastJoinThreshold` in bytes (`-1` disables broadcasts).
    pub fn broadcast_threshold(&self) -> i64 {
        self.get("spark.sql.autoBroadcastJoinThreshold")
            .and_then(|v| parse_bytes(&v))
            .unwrap_or(10 * 1024 * 1024)
    }
}

/// Parses Spark's byte sizes: `10485760`, `10485760b`, `10m`, `200MB`, `1g`, `-1`.
pub fn parse_bytes(value: &str) -> Option<i64> {
    let v = value.trim().to_ascii_lowercase();
    let digits_end = v
        .find(|c: char| !(c.is_ascii_digit() || c == '-'))
        .unwrap_or(v.len());
    let (num, unit) = v.split_at(digits_end);
    let n: i64 = num.parse().ok()?;
    let mult: i64 = match unit.trim() {
        "" | "b" => 1,
        "k" | "kb" => 1 << 10,
        "m" | "mb" => 1 << 20,
        "g" | "gb" => 1 << 30,
        "t" | "tb" => 1 << 40,
        _ => return None,
    };
    Some(n.saturating_mul(mult))
}

/// A Spark time string (`500ms`, `30s`, `5m`, `5min`, `2h`, `1d`; a bare number is in
/// `default_unit`) as a duration.
pub fn parse_duration(
    value: &str,
    default_unit: std::time::Duration,
) -> Option<std::time::Duration> {
    let v = value.trim().to_ascii_lowercase();
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (n, unit) = v.split_at(split);
    let n: u64 = n.parse().ok()?;
    let unit = match unit.trim() {
        "" => default_unit,
        "us" => std::time::Duration::from_micros(1),
        "ms" => std::time::Duration::from_millis(1),
        "s" | "sec" | "secs" => std::time::Duration::from_secs(1),
        "m" | "min" | "mins" => std::time::Duration::from_secs(60),
        "h" | "hour" | "hours" => std::time::Duration::from_secs(3600),
        "d" | "day" | "days" => std::time::Duration::from_secs(86400),
        _ => return None,
    };
    unit.checked_mul(u32::try_from(n).ok()?)
}

fn validate(key: &str, value: &str) -> Result<()> {
    let bad = |what: &str| {
        Err(Error::IllegalArgument(format!(
            "[INVALID_CONF_VALUE] the value '{value}' of the config \"{key}\" is invalid: {what}"
        )))
    };
    match key {
        "spark.sql.shuffle.partitions" => match value.trim().parse::<i64>() {
            Ok(n) if n > 0 => Ok(()),
            _ => bad("the number of partitions must be a positive integer"),
        },
        "spark.sql.optimizer.windowGroupLimitThreshold" => match value.trim().parse::<i64>() {
            Ok(n) if n >= -1 => Ok(()),
            _ => bad("the threshold must be -1 (off) or a non-negative integer"),
        },
        "spark.sql.ansi.enabled"
        | "spark.sql.caseSensitive"
        | "spark.sql.adaptive.enabled"
        | "spark.sql.adaptive.skewJoin.enabled"
        | "spark.spate.aggregate.splitDistinct"
        | "spark.spate.window.sliding"
        | "spark.sql.files.ignoreCorruptFiles" => {
            match value.trim().to_ascii_lowercase().as_str() {
                "true" | "false" => Ok(()),
                _ => bad("it should be a boolean ('true' or 'false')"),
            }
        }
        "spark.sql.adaptive.skewJoin.skewedPartitionFactor" => match value.trim().parse::<f64>() {
            Ok(f) if f >= 0.0 => Ok(()),
            _ => bad("the skew factor must be a non-negative number"),
        },
        "spark.sql.mapKeyDedupPolicy" => match value.trim().to_ascii_uppercase().as_str() {
            "EXCEPTION" | "LAST_WIN" => Ok(()),
            _ => bad("it should be one of 'EXCEPTION', 'LAST_WIN'"),
        },
        "spark.sql.autoBroadcastJoinThreshold"
        | "spark.sql.adaptive.skewJoin.skewedPartitionThresholdInBytes" => match parse_bytes(value)
        {
            Some(_) => Ok(()),
            None => bad("it should be a size in bytes such as '10485760b' or '200m'"),
        },
        _ => Ok(()),
    }
}

/// The machine's time zone name, as the JVM would pick it: `TZ`, then `/etc/timezone`.
fn local_time_zone() -> String {
    if let Ok(tz) = std::env::var("TZ") {
        let tz = tz.trim_start_matches(':').to_string();
        if !tz.is_empty() {
            return tz;
        }
    }
    std::fs::read_to_string("/etc/timezone")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "UTC".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        let mut c = SessionConfig::new("/tmp/w");
        assert_eq!(
            c.get("spark.sql.shuffle.partitions").as_deref(),
            Some("200")
        );
        c.set("spark.sql.shuffle.partitions", "8").ok();
        assert_eq!(c.shuffle_partitions(), 8);
        c.unset("spark.sql.shuffle.partitions");
        assert_eq!(c.shuffle_partitions(), 200);
        assert!(c.get_required("spark.nope").is_err());
        assert!(c.set("spark.sql.shuffle.partitions", "zero").is_err());
    }

    #[test]
    fn parses_spark_durations() {
        use std::time::Duration;
        let ms = Duration::from_millis(1);
        assert_eq!(
            parse_duration("500ms", ms),
            Some(Duration::from_millis(500))
        );
        assert_eq!(parse_duration("5min", ms), Some(Duration::from_secs(300)));
        assert_eq!(parse_duration("2s", ms), Some(Duration::from_secs(2)));
        assert_eq!(parse_duration("60", ms), Some(Duration::from_millis(60)));
        assert_eq!(parse_duration("soon", ms), None);
    }

    #[test]
    fn parses_spark_sizes() {
        assert_eq!(parse_bytes("10485760b"), Some(10485760));
        assert_eq!(parse_bytes("200m"), Some(200 << 20));
        assert_eq!(parse_bytes("-1"), Some(-1));
        assert_eq!(parse_bytes("x"), None);
    }
}
