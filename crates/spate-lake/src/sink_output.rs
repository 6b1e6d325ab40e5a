//! Reading what a streaming file sink wrote, as Spark's `MetadataLogFileIndex` does: only the
//! files its `_spark_metadata` log lists (so a batch that failed half-way is not seen). The
//! files of a sink with `partitionBy` sit in `key=value` directories: each directory's files
//! are read together and given its partition values as columns (typed as partition discovery
//! types them), and the directories' rows are put together.

use std::collections::BTreeMap;
use std::path::Path;

use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::execution::SessionState;
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder, cast, col, lit};
use datafusion::scalar::ScalarValue;
use spate_common::{Error, Result};
use spate_plan::ReadRequest;

use crate::partitions;

/// The `key=value` levels of `file`'s directory below `dir`.
fn partition_values(dir: &Path, file: &str) -> Vec<(String, String)> {
    Path::new(file)
        .strip_prefix(dir)
        .ok()
        .and_then(Path::parent)
        .into_iter()
        .flat_map(|p| p.components())
        .filter_map(|c| {
            let (k, v) = c.as_os_str().to_str()?.split_once('=')?;
            Some((k.to_string(), v.to_string()))
        })
        .collect()
}

/// The committed `files` of the sink directory `dir`, read with `req`'s format and options;
/// `read` reads a request (the batch reader).
pub async fn read_partitioned<'a, F, Fut>(
    state: &'a SessionState,
    dir: &Path,
    files: Vec<String>,
    req: &ReadRequest,
    alias: &str,
    read: F,
) -> Result<LogicalPlan>
where
    F: Fn(&'a SessionState, ReadRequest) -> Fut,
    Fut: std::future::Future<Output = Result<LogicalPlan>>,
{
    let mut groups: BTreeMap<Vec<(String, String)>, Vec<String>> = BTreeMap::new();
    for f in files {
        groups.entry(partition_values(dir, &f)).or_default().push(f);
    }
    let names: Vec<String> = groups
        .keys()
        .next()
        .map(|k| k.iter().map(|(n, _)| n.clone()).collect())
        .unwrap_or_default();
    let types: Vec<_> = names
        .iter()
        .enumerate()
        .map(|(i, _)| {
            let values: Vec<String> = groups
                .keys()
                .filter_map(|k| k.get(i).map(|(_, v)| v.clone()))
                .collect();
            partitions::infer(&values)
        })
        .collect();
    // the user's schema holds the partition columns too: the files do not
    let data_schema = req.schema.as_ref().map(|s| -> SchemaRef {
        std::sync::Arc::new(Schema::new(
            s.fields()
                .iter()
                .filter(|f| !names.contains(f.name()))
                .map(|f| f.as_ref().clone())
                .collect::<Vec<_>>(),
        ))
    });
    let mut plan: Option<LogicalPlanBuilder> = None;
    for (values, paths) in groups {
        let scan = read(
            state,
            ReadRequest {
                paths,
                schema: data_schema.clone(),
                ..req.clone()
            },
        )
        .await?;
        let mut columns: Vec<Expr> = scan.schema().columns().into_iter().map(col).collect();
        for (i, name) in names.iter().enumerate() {
            let value = values
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
                .filter(|v| *v != partitions::NULL_PARTITION);
            let text = lit(ScalarValue::Utf8(value.map(str::to_string)));
            columns.push(cast(text, types[i].clone()).alias(name));
        }
        let group = LogicalPlanBuilder::from(scan).project(columns)?;
        plan = Some(match plan {
            None => group,
            Some(p) => p.union(group.build()?)?,
        });
    }
    let plan = plan.ok_or_else(|| Error::internal("a sink directory without committed files"))?;
    Ok(plan.alias(alias)?.build()?)
}
