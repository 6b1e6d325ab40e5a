//! Read: named tables and data sources. The resolver turns the message into a
//! [`ReadRequest`] (format, paths, a parsed user schema, options with lower-cased keys as
//! Spark matches them) and hands it to the session's [`Sources`], which the lake crate
//! implements; this keeps file formats and the catalog out of the planner.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::{DataType, Schema, SchemaRef};
use datafusion::common::TableReference;
use datafusion::execution::SessionState;
use datafusion::logical_expr::LogicalPlan;
use spark_connect_proto::spark::connect::read::ReadType;
use spark_connect_proto::spark::connect::{self as sc};
use spate_common::names::split_name;
use spate_common::{Error, Result};

use super::Resolver;
use crate::json_schema;

/// A request to read a data source.
#[derive(Debug, Clone)]
pub struct ReadRequest {
    /// Format name, lower case (`parquet`, `csv`, `json`, `text`, ...).
    pub format: String,
    /// Paths (files, directories or globs).
    pub paths: Vec<String>,
    /// The schema the user gave, if any.
    pub schema: Option<SchemaRef>,
    /// Options, keys lower-cased.
    pub options: HashMap<String, String>,
}

/// How `CREATE TABLE` stores a table.
#[derive(Debug, Clone)]
pub struct TableSpec {
    /// Data source format.
    pub format: String,
    /// Partition columns.
    pub partition_by: Vec<String>,
    /// `CREATE OR REPLACE`.
    pub replace: bool,
    /// `IF NOT EXISTS`.
    pub if_not_exists: bool,
    /// `LOCATION 'path'`: the data lives there rather than in the warehouse.
    pub location: Option<String>,
    /// `TBLPROPERTIES (k = v, ..)`.
    pub properties: Vec<(String, String)>,
}

/// Where relations read from: data sources and the catalog of one session.
#[async_trait]
pub trait Sources: Send + Sync {
    /// Plans a read of a data source.
    async fn read(&self, state: &SessionState, req: ReadRequest) -> Result<LogicalPlan>;
    /// Plans a read of a named table or view (`db.table` parts).
    async fn table(&self, state: &SessionState, name: &[String]) -> Result<LogicalPlan>;
    /// Where the Delta table `name` keeps its data, for a streaming read of it; `None` when
    /// `name` is no Delta table.
    fn delta_table_path(&self, _name: &[String]) -> Result<Option<String>> {
        Ok(None)
    }
    /// The schema of a streaming source that is not made of files (Kafka), after its own
    /// checks of `options` (keys lower-cased); `None` for formats it does not know.
    fn stream_schema(
        &self,
        _format: &str,
        _options: &std::collections::BTreeMap<String, String>,
    ) -> Result<Option<SchemaRef>> {
        Ok(None)
    }
    /// Makes the tables a SQL statement names visible to DataFusion's SQL planner.
    async fn prepare_sql(&self, state: &SessionState, names: &[TableReference]) -> Result<()>;
    /// Registers a temporary view.
    fn create_temp_view(&self, name: &[String], plan: LogicalPlan, replace: bool) -> Result<()>;
    /// Drops a view or table (`kind` is `VIEW` or `TABLE`).
    async fn drop_object(&self, kind: &str, name: &[String], if_exists: bool) -> Result<()>;
    /// `CREATE TABLE ... USING fmt [PARTITIONED BY] [AS SELECT]`: stores `plan`'s rows (or
    /// none) as a warehouse table.
    async fn create_table(
        &self,
        state: &SessionState,
        name: &[String],
        plan: LogicalPlan,
        spec: TableSpec,
    ) -> Result<()>;
    /// `INSERT INTO` / `INSERT OVERWRITE`.
    async fn insert_into(
        &self,
        state: &SessionState,
        name: &[String],
        plan: LogicalPlan,
        overwrite: bool,
    ) -> Result<()>;
    /// `CREATE DATABASE`.
    fn create_database(&self, name: &str, if_not_exists: bool) -> Result<()>;
    /// `USE db`.
    fn use_database(&self, name: &str) -> Result<()>;
    /// `SHOW TABLES` as a relation.
    async fn show_tables(&self, resolver: &Resolver<'_>) -> Result<LogicalPlan>;
    /// Runs the statement of a table format's own SQL that `text` is (Delta's `DESCRIBE
    /// HISTORY`, `OPTIMIZE`, `VACUUM`, `DELETE`, `UPDATE`, `MERGE`...), planning its expressions
    /// with `resolver`; its result rows as a plan, or `None` when `text` is no such statement.
    async fn format_statement(
        &self,
        resolver: &Resolver<'_>,
        text: &str,
    ) -> Result<Option<LogicalPlan>> {
        let _ = (resolver, text);
        Ok(None)
    }
    /// A relation a client library defines (`Relation.extension`), as delta-spark's
    /// `DeltaTable` sends, resolved with `resolver` (for the relations and expressions inside
    /// it); `Unsupported` for one no source knows.
    async fn extension(
        &self,
        resolver: &Resolver<'_>,
        relation: &prost_types::Any,
    ) -> Result<LogicalPlan> {
        let _ = resolver;
        Err(Error::unsupported(format!(
            "the relation extension {}",
            relation.type_url
        )))
    }
    /// Runs a command a client library defines (`Command.extension`), as delta-spark's
    /// `DeltaTable.vacuum()` sends; `Unsupported` for one no source knows.
    async fn command_extension(
        &self,
        resolver: &Resolver<'_>,
        command: &prost_types::Any,
    ) -> Result<()> {
        let _ = resolver;
        Err(Error::unsupported(format!(
            "the command extension {}",
            command.type_url
        )))
    }
}

impl Resolver<'_> {
    /// The reader option the session's settings give a read of `format` that does not set
    /// it (`set`): Parquet's `mergeSchema` from `spark.sql.parquet.mergeSchema`.
    fn merge_schema_default(&self, format: &str, set: bool) -> Option<(String, String)> {
        if format != "parquet" || set {
            return None;
        }
        let merge = self.config.get("spark.sql.parquet.mergeSchema")?;
        Some(("mergeschema".to_string(), merge.trim().to_lowercase()))
    }

    /// The schema of a file stream over `path`, as Spark's file sources build it: the user's
    /// (or, with `spark.sql.streaming.schemaInference`, one inferred from the files there
    /// now), its partition columns (`key=value` directories, typed as the user's schema says
    /// or as their values parse) last. A directory that does not exist yet has no partitions.
    async fn file_stream_schema(
        &self,
        format: &str,
        path: &str,
        options: &std::collections::BTreeMap<String, String>,
        schema: Option<SchemaRef>,
    ) -> Result<Option<SchemaRef>> {
        let local = std::path::Path::new(path.strip_prefix("file://").unwrap_or(path));
        let infer = self
            .config
            .get("spark.sql.streaming.schemaInference")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
        if !local.is_dir() || (schema.is_none() && !infer && format != "text") {
            return Ok(schema);
        }
        let table = self
            .sources
            .read(
                self.state,
                ReadRequest {
                    format: format.to_string(),
                    paths: vec![path.to_string()],
                    schema: schema.clone(),
                    options: options.clone().into_iter().collect(),
                },
            )
            .await?;
        let found = table.schema().as_arrow().clone();
        let Some(user) = schema else {
            return Ok(Some(Arc::new(found)));
        };
        // partition columns the user typed keep the user's type
        let fields: Vec<datafusion::arrow::datatypes::Field> = found
            .fields()
            .iter()
            .map(|f| match user.field_with_name(f.name()) {
                Ok(u) => u.clone(),
                Err(_) => f.as_ref().clone(),
            })
            .collect();
        Ok(Some(Arc::new(Schema::new(fields))))
    }

    pub(super) async fn read(&self, r: &sc::Read) -> Result<LogicalPlan> {
        let sc::Read {
            read_type,
            is_streaming,
        } = r;
        if *is_streaming {
            return match read_type {
                Some(ReadType::DataSource(d)) => {
                    let format = d
                        .format
                        .clone()
                        .or_else(|| self.config.get("spark.sql.sources.default"))
                        .unwrap_or_else(|| "parquet".into())
                        .to_lowercase();
                    let mut options: std::collections::BTreeMap<String, String> = d
                        .options
                        .iter()
                        .map(|(k, v)| (k.to_lowercase(), v.clone()))
                        .collect();
                    if let Some((k, v)) =
                        self.merge_schema_default(&format, options.contains_key("mergeschema"))
                    {
                        options.insert(k, v);
                    }
                    let path = d
                        .paths
                        .first()
                        .cloned()
                        .or_else(|| options.get("path").cloned());
                    let schema = match d.schema.as_deref().filter(|s| !s.trim().is_empty()) {
                        Some(s) => Some(match json_schema::parse_schema_string(s, &self.tz)? {
                            DataType::Struct(fields) => Arc::new(Schema::new(fields)),
                            other => Arc::new(Schema::new(vec![
                                datafusion::arrow::datatypes::Field::new("value", other, true),
                            ])),
                        }),
                        None => None,
                    };
                    // a Delta table streams with the table's own schema
                    let schema = match (&format[..], &path) {
                        ("delta", Some(p)) => {
                            let table = self
                                .sources
                                .read(
                                    self.state,
                                    ReadRequest {
                                        format: "delta".into(),
                                        paths: vec![p.clone()],
                                        schema: None,
                                        options: Default::default(),
                                    },
                                )
                                .await?;
                            Some(Arc::new(table.schema().as_arrow().clone()))
                        }
                        ("json" | "csv" | "parquet" | "text", Some(p)) => {
                            self.file_stream_schema(&format, p, &options, schema)
                                .await?
                        }
                        ("kafka", _) => self.sources.stream_schema(&format, &options)?,
                        _ => schema,
                    };
                    crate::streaming::StreamingScanNode::plan(&format, options, path, schema)
                }
                Some(ReadType::NamedTable(t)) => {
                    let sc::read::NamedTable {
                        unparsed_identifier,
                        options,
                    } = t;
                    let name = split_name(unparsed_identifier);
                    let Some(path) = self.sources.delta_table_path(&name)? else {
                        // Spark's error for a table whose source cannot stream, once it exists
                        let _ = self.sources.table(self.state, &name).await?;
                        return Err(Error::unsupported(format!(
                            "readStream.table('{unparsed_identifier}'): streaming reads of tables are supported for Delta tables"
                        )));
                    };
                    let schema = self
                        .sources
                        .table(self.state, &name)
                        .await?
                        .schema()
                        .as_arrow()
                        .clone();
                    let options = options
                        .iter()
                        .map(|(k, v)| (k.to_lowercase(), v.clone()))
                        .collect();
                    crate::streaming::StreamingScanNode::plan(
                        "delta",
                        options,
                        Some(path),
                        Some(Arc::new(schema)),
                    )
                }
                _ => Err(Error::unsupported("this streaming read")),
            };
        }
        match read_type
            .as_ref()
            .ok_or_else(|| Error::internal("read without a type"))?
        {
            ReadType::NamedTable(t) => {
                let sc::read::NamedTable {
                    unparsed_identifier,
                    options: _,
                } = t;
                self.sources
                    .table(self.state, &split_name(unparsed_identifier))
                    .await
            }
            ReadType::DataSource(d) => {
                let sc::read::DataSource {
                    format,
                    schema,
                    options,
                    paths,
                    predicates,
                    source_name: _,
                } = d;
                if !predicates.is_empty() {
                    return Err(Error::unsupported("JDBC predicates"));
                }
                let schema =
                    match schema.as_deref().filter(|s| !s.trim().is_empty()) {
                        Some(s) => Some(match json_schema::parse_schema_string(s, &self.tz)? {
                            DataType::Struct(fields) => Arc::new(Schema::new(fields)),
                            other => Arc::new(Schema::new(vec![
                                datafusion::arrow::datatypes::Field::new("value", other, true),
                            ])),
                        }),
                        None => None,
                    };
                let format = format
                    .clone()
                    .or_else(|| self.config.get("spark.sql.sources.default"))
                    .unwrap_or_else(|| "parquet".into())
                    .to_lowercase();
                let mut options: HashMap<String, String> = options
                    .iter()
                    .map(|(k, v)| (k.to_lowercase(), v.clone()))
                    .collect();
                if let Some((k, v)) =
                    self.merge_schema_default(&format, options.contains_key("mergeschema"))
                {
                    options.insert(k, v);
                }
                let null_text = (format == "csv")
                    .then(|| options.get("nullvalue").cloned())
                    .flatten()
                    .filter(|v| !v.is_empty());
                let req = ReadRequest {
                    format,
                    paths: paths.clone(),
                    schema,
                    options,
                };
                let plan = self.sources.read(self.state, req).await?;
                match null_text {
                    Some(text) => csv_nulls(plan, &text),
                    None => Ok(plan),
                }
            }
        }
    }
}

/// A CSV read's text columns with `nullValue` as null: DataFusion's CSV source uses its null
/// regex only while inferring the schema, not while reading the rows.
fn csv_nulls(plan: LogicalPlan, text: &str) -> Result<LogicalPlan> {
    use datafusion::logical_expr::{Expr, lit};
    let items: Vec<Expr> = plan
        .schema()
        .columns()
        .into_iter()
        .zip(plan.schema().fields())
        .map(|(c, f)| match f.data_type() {
            DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 => {
                datafusion::functions::expr_fn::nullif(Expr::Column(c), lit(text))
                    .alias(f.name().as_str())
            }
            _ => Expr::Column(c),
        })
        .collect();
    super::project(plan, items)
}
