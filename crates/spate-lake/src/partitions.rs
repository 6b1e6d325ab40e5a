//! Hive-style partition discovery, as Spark does it when reading a directory: every
//! `key=value` directory level below the root becomes a column, typed by what its values parse
//! as (int, bigint, double, else string); `__HIVE_DEFAULT_PARTITION__` is null.

use std::path::Path;

use datafusion::arrow::datatypes::DataType;

/// The value Spark writes for a null partition value.
pub const NULL_PARTITION: &str = "__HIVE_DEFAULT_PARTITION__";

/// A partition column found in directory names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionColumn {
    /// The key of its `key=value` directories.
    pub name: String,
    /// The type its values parse as.
    pub data_type: DataType,
    /// Whether some directory holds a null (`__HIVE_DEFAULT_PARTITION__`): such a column is
    /// scanned as strings and typed above the scan.
    pub has_nulls: bool,
}

/// Discovers partition columns below `root`, in directory order, with inferred types.
pub fn discover(root: &Path) -> Vec<PartitionColumn> {
    let mut names: Vec<String> = Vec::new();
    let mut values: Vec<Vec<String>> = Vec::new();
    walk(root, 0, &mut names, &mut values);
    names
        .into_iter()
        .zip(values)
        .map(|(name, vs)| PartitionColumn {
            name,
            data_type: infer(&vs),
            has_nulls: vs.iter().any(|v| v == NULL_PARTITION),
        })
        .collect()
}

fn walk(dir: &Path, depth: usize, names: &mut Vec<String>, values: &mut Vec<Vec<String>>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        let file = entry.file_name().to_string_lossy().to_string();
        if file.starts_with('.') || file.starts_with('_') {
            continue;
        }
        let Some((k, v)) = file.split_once('=') else {
            continue;
        };
        if names.len() <= depth {
            names.push(k.to_string());
            values.push(Vec::new());
        }
        if names[depth] == k {
            values[depth].push(v.to_string());
            walk(&path, depth + 1, names, values);
        }
    }
}

/// The type partition discovery gives a partition column with `values` (Spark's inference:
/// int, bigint, double, date, else string; the null partition does not count).
pub(crate) fn infer(values: &[String]) -> DataType {
    let present: Vec<&String> = values
        .iter()
        .filter(|v| v.as_str() != NULL_PARTITION)
        .collect();
    if present.is_empty() {
        return DataType::Utf8;
    }
    if present.iter().all(|v| v.parse::<i32>().is_ok()) {
        DataType::Int32
    } else if present.iter().all(|v| v.parse::<i64>().is_ok()) {
        DataType::Int64
    } else if present.iter().all(|v| v.parse::<f64>().is_ok()) {
        DataType::Float64
    } else if present.iter().all(|v| is_date(v)) {
        DataType::Date32
    } else {
        DataType::Utf8
    }
}

fn is_date(v: &str) -> bool {
    let parts: Vec<&str> = v.split('-').collect();
    parts.len() == 3 && parts[0].len() == 4 && parts.iter().all(|p| p.parse::<u32>().is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn infers_partition_types() {
        assert_eq!(infer(&["1".into(), "2".into()]), DataType::Int32);
        assert_eq!(infer(&["2024-01-01".into()]), DataType::Date32);
        assert_eq!(infer(&["a".into(), NULL_PARTITION.into()]), DataType::Utf8);
    }
}
