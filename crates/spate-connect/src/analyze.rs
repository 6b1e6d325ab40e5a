//! AnalyzePlan: schema, explain (every mode), tree string (`printSchema`), is_local,
//! is_streaming, input_files, spark_version, ddl_parse, same_semantics, semantic_hash,
//! persist/unpersist/get_storage_level and json_to_ddl.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::datasource::physical_plan::FileScanConfig;
use datafusion::datasource::source::DataSourceExec;
use datafusion::datasource::{MemTable, source_as_provider};
use datafusion::logical_expr::LogicalPlan;
use spark_connect_proto::spark::connect::analyze_plan_request::{self as q, Analyze};
use spark_connect_proto::spark::connect::analyze_plan_response::{self as r, Result as R};
use spark_connect_proto::spark::connect::{
    AnalyzePlanRequest, AnalyzePlanResponse, Plan, StorageLevel, plan::OpType,
};
use spate_common::{Error, Result};
use spate_plan::types;

use crate::execution::resolve;
use spate_exec::QueryScope;
use spate_session::Session;

/// The Spark version Spate answers as.
pub const SPARK_VERSION: &str = "4.1.0";

/// Handles one AnalyzePlan request.
pub async fn handle(session: &Session, req: AnalyzePlanRequest) -> Result<AnalyzePlanResponse> {
    let analyze = req
        .analyze
        .ok_or_else(|| Error::internal("analyze request without a question"))?;
    let tz = session.config().time_zone();
    let result = match analyze {
        Analyze::Schema(q::Schema { plan }) => {
            let p = logical(session, plan).await?;
            R::Schema(r::Schema {
                schema: Some(schema_proto(&p)?),
            })
        }
        Analyze::Explain(q::Explain { plan, explain_mode }) => {
            let p = logical(session, plan).await?;
            R::Explain(r::Explain {
                explain_string: crate::explain::explain(session, &p, explain_mode).await?,
            })
        }
        Analyze::TreeString(q::TreeString { plan, level }) => {
            let p = logical(session, plan).await?;
            R::TreeString(r::TreeString {
                tree_string: tree_string(&p, level),
            })
        }
        Analyze::IsLocal(q::IsLocal { plan }) => {
            let p = logical(session, plan).await?;
            R::IsLocal(r::IsLocal {
                is_local: is_local(&p)?,
            })
        }
        Analyze::IsStreaming(q::IsStreaming { plan }) => {
            let p = logical(session, plan).await?;
            R::IsStreaming(r::IsStreaming {
                is_streaming: spate_plan::streaming::is_streaming(&p),
            })
        }
        Analyze::InputFiles(q::InputFiles { plan }) => {
            let p = logical(session, plan).await?;
            R::InputFiles(r::InputFiles {
                files: input_files(session, &p).await?,
            })
        }
        Analyze::SparkVersion(_) => R::SparkVersion(r::SparkVersion {
            version: SPARK_VERSION.into(),
        }),
        Analyze::DdlParse(q::DdlParse { ddl_string }) => {
            let t = spate_plan::type_parser::parse_data_type(&ddl_string, &tz)?;
            R::DdlParse(r::DdlParse {
                parsed: Some(types::to_proto(&t)?),
            })
        }
        Analyze::SameSemantics(q::SameSemantics {
            target_plan,
            other_plan,
        }) => {
            let a = logical(session, target_plan).await?;
            let b = logical(session, other_plan).await?;
            R::SameSemantics(r::SameSemantics {
                result: canonical(&a) == canonical(&b),
            })
        }
        Analyze::SemanticHash(q::SemanticHash { plan }) => {
            let p = logical(session, plan).await?;
            let mut h = std::collections::hash_map::DefaultHasher::new();
            canonical(&p).hash(&mut h);
            R::SemanticHash(r::SemanticHash {
                result: h.finish() as i32,
            })
        }
        Analyze::Persist(q::Persist {
            relation,
            storage_level,
        }) => {
            let rel = relation.ok_or_else(|| Error::internal("persist without a relation"))?;
            // fail now on a relation that cannot be planned, as Spark's analysis would
            resolve(session, &session.state(QueryScope::default())?, &rel, false).await?;
            let level = storage_level.unwrap_or(StorageLevel {
                use_disk: true,
                use_memory: true,
                use_off_heap: false,
                deserialized: true,
                replication: 1,
            });
            session.cache.persist(&rel, level);
            R::Persist(r::Persist {})
        }
        Analyze::Unpersist(q::Unpersist {
            relation,
            blocking: _,
        }) => {
            if let Some(rel) = relation {
                session.cache.unpersist(&rel);
            }
            R::Unpersist(r::Unpersist {})
        }
        Analyze::GetStorageLevel(q::GetStorageLevel { relation }) => {
            let level = relation
                .and_then(|rel| session.cache.lookup(&rel))
                .map(|e| e.level)
                .unwrap_or_else(spate_plan::cache::level_none);
            R::GetStorageLevel(r::GetStorageLevel {
                storage_level: Some(level),
            })
        }
        Analyze::JsonToDdl(q::JsonToDdl { json_string }) => {
            let t = spate_plan::json_schema::parse(&json_string, &tz)?;
            R::JsonToDdl(r::JsonToDdl {
                ddl_string: ddl(&t),
            })
        }
    };
    Ok(AnalyzePlanResponse {
        session_id: session.id.clone(),
        server_side_session_id: session.server_side_id.clone(),
        result: Some(result),
    })
}

async fn logical(session: &Session, plan: Option<Plan>) -> Result<LogicalPlan> {
    match plan.and_then(|p| p.op_type) {
        Some(OpType::Root(rel)) => {
            let state = session.state(QueryScope::default())?;
            resolve(session, &state, &rel, false).await
        }
        Some(OpType::Command(_)) => Err(Error::unsupported("analyzing a command")),
        Some(OpType::CompressedOperation(_)) => Err(Error::unsupported("compressed plans")),
        None => Err(Error::internal("analyze request without a plan")),
    }
}

fn schema_proto(p: &LogicalPlan) -> Result<spark_connect_proto::spark::connect::DataType> {
    let schema = crate::arrow::plain_schema(p.schema().as_arrow());
    types::to_proto(&DataType::Struct(schema.fields().clone()))
}

/// Spark's `printSchema()` text.
pub fn tree_string(p: &LogicalPlan, level: Option<i32>) -> String {
    let max = level.filter(|l| *l > 0).map_or(usize::MAX, |l| l as usize);
    let mut out = String::from("root\n");
    for f in p.schema().fields() {
        field_tree(&mut out, f, 1, max);
    }
    out
}

fn type_name(t: &DataType) -> String {
    match t {
        DataType::Struct(_) => "struct".into(),
        DataType::List(_) | DataType::LargeList(_) => "array".into(),
        DataType::Map(..) => "map".into(),
        DataType::Int8 => "byte".into(),
        DataType::Int16 => "short".into(),
        DataType::Int32 => "integer".into(),
        DataType::Int64 => "long".into(),
        other => types::simple_string(other),
    }
}

fn field_tree(out: &mut String, f: &Field, depth: usize, max: usize) {
    let indent = " |   ".repeat(depth - 1);
    out.push_str(&format!(
        "{indent} |-- {}: {} (nullable = {})\n",
        f.name(),
        field_type_name(f),
        f.is_nullable()
    ));
    if depth >= max {
        return;
    }
    nested_tree(out, f.data_type(), depth + 1, max);
}

/// A field's type name: a year-month interval's fields come from its metadata.
fn field_type_name(f: &Field) -> String {
    use spate_plan::functions::ym_interval;
    if f.metadata().contains_key(ym_interval::FIELDS_KEY) {
        return format!("interval {}", ym_interval::fields_of(f).to_lowercase());
    }
    type_name(f.data_type())
}

fn nested_tree(out: &mut String, t: &DataType, depth: usize, max: usize) {
    let indent = " |   ".repeat(depth - 1);
    match t {
        DataType::Struct(fields) => {
            for f in fields {
                field_tree(out, f, depth, max);
            }
        }
        DataType::List(e) | DataType::LargeList(e) => {
            out.push_str(&format!(
                "{indent} |-- element: {} (containsNull = {})\n",
                type_name(e.data_type()),
                e.is_nullable()
            ));
            if depth < max {
                nested_tree(out, e.data_type(), depth + 1, max);
            }
        }
        DataType::Map(entries, _) => {
            if let DataType::Struct(kv) = entries.data_type()
                && kv.len() == 2
            {
                {
                    out.push_str(&format!(
                        "{indent} |-- key: {}\n",
                        type_name(kv[0].data_type())
                    ));
                    if depth < max {
                        nested_tree(out, kv[0].data_type(), depth + 1, max);
                    }
                    out.push_str(&format!(
                        "{indent} |-- value: {} (valueContainsNull = {})\n",
                        type_name(kv[1].data_type()),
                        kv[1].is_nullable()
                    ));
                    if depth < max {
                        nested_tree(out, kv[1].data_type(), depth + 1, max);
                    }
                }
            }
        }
        _ => {}
    }
}

/// Spark's `isLocal`: every scan reads rows held in memory (local data, views of it), none
/// reads files or generates data.
fn is_local(p: &LogicalPlan) -> Result<bool> {
    let mut local = true;
    p.apply(|node| {
        if let LogicalPlan::TableScan(scan) = node {
            let in_memory = source_as_provider(&scan.source)
                .map(|t| t.is::<MemTable>())
                .unwrap_or(false);
            local &= in_memory;
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    Ok(local)
}

/// A plan's text with what Spark's canonical form ignores taken out: the names of the
/// output columns (Spark erases alias names; `df.withColumn("a", e)` and
/// `df.withColumn("b", e)` are the same query) and the numbers of generated relation names;
/// a generated table's scan (`range(n)`) keeps its arguments.
fn canonical(p: &LogicalPlan) -> String {
    let unnamed = match p {
        LogicalPlan::Projection(proj) => {
            let exprs = proj.expr.iter().map(|e| e.clone().unalias()).collect();
            datafusion::logical_expr::Projection::try_new(exprs, Arc::clone(&proj.input))
                .map(LogicalPlan::Projection)
                .unwrap_or_else(|_| p.clone())
        }
        _ => p.clone(),
    };
    let mut text = format!("{}", unnamed.display_indent());
    let _ = p.apply(|node| {
        if let LogicalPlan::TableScan(scan) = node
            && let Ok(provider) = source_as_provider(&scan.source)
            && !provider.is::<MemTable>()
        {
            text.push_str(&format!("\n{provider:?}"));
        }
        Ok(TreeNodeRecursion::Continue)
    });
    without_generated_aliases(&text)
}

/// Removes generated relation aliases so equal plans compare equal.
fn without_generated_aliases(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("__spate_") {
        out.push_str(&rest[..i]);
        out.push_str("__spate_");
        rest = rest[i + 8..].trim_start_matches(|c: char| c.is_ascii_digit());
    }
    out.push_str(rest);
    out
}

/// The files the physical plan's file scans read.
async fn input_files(session: &Session, p: &LogicalPlan) -> Result<Vec<String>> {
    let state = session.state(QueryScope::default())?;
    let physical = spate_exec::physical_plan(&state, p).await?;
    let mut files = Vec::new();
    physical.apply(|node| {
        let config = node
            .downcast_ref::<DataSourceExec>()
            .and_then(|d| d.data_source().downcast_ref::<FileScanConfig>());
        for group in config.map(|c| c.file_groups.as_slice()).unwrap_or_default() {
            for f in group.files() {
                let url = format!("file:///{}", f.object_meta.location);
                if !files.contains(&url) {
                    files.push(url);
                }
            }
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    Ok(files)
}

/// A struct type as a DDL string (`a INT, b STRING`).
fn ddl(t: &DataType) -> String {
    match t {
        DataType::Struct(fields) => fields
            .iter()
            .map(|f| {
                let not_null = if f.is_nullable() { "" } else { " NOT NULL" };
                format!(
                    "{} {}{not_null}",
                    f.name(),
                    types::sql_string(f.data_type())
                )
            })
            .collect::<Vec<_>>()
            .join(","),
        other => types::sql_string(other),
    }
}
