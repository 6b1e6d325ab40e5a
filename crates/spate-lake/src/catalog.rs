//! The catalog one session sees: its temporary views, the server's global temporary views
//! (`global_temp.name`), and the warehouse of persistent tables — directories under
//! `spark.sql.warehouse.dir` (`<table>` in `default`, `<db>.db/<table>` otherwise) with a
//! `_spate_table.json` that records the format and partition columns. Because the warehouse
//! lives on disk, every session (and every server on the same directory) sees the same tables.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use datafusion::arrow::array::{BooleanArray, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::catalog::TableProvider;
use datafusion::common::TableReference;
use datafusion::datasource::view::ViewTable;
use datafusion::execution::SessionState;
use datafusion::logical_expr::{LogicalPlan, LogicalPlanBuilder};
use spate_common::{Error, Result};
use spate_plan::session::{CATALOG, DEFAULT_DB};
use spate_plan::sql::table_not_found;
use spate_plan::sql_table_syntax::{AsOf, Travel};
use spate_plan::{ReadRequest, Resolver, Sources, TableSpec};

use crate::options::{SaveMode, WriteRequest};

use crate::source;

/// Global temporary views, shared by every session of a server.
pub type GlobalViews = Arc<RwLock<HashMap<String, LogicalPlan>>>;

/// The file recording how a warehouse table is stored.
pub const TABLE_META: &str = "_spate_table.json";

/// The catalog of one session.
pub struct SessionCatalog {
    warehouse: PathBuf,
    temp_views: RwLock<BTreeMap<String, LogicalPlan>>,
    global_views: GlobalViews,
    current_db: RwLock<String>,
}

/// How a warehouse table is stored.
#[derive(Debug, Clone)]
pub struct TableMeta {
    /// `parquet`, `csv`, `json` or `text`.
    pub format: String,
    /// Hive-style partition columns.
    pub partition_columns: Vec<String>,
    /// The table's columns as DDL (`a INT, b STRING`), when known.
    pub schema: Option<String>,
    /// Where the data lives when not in the warehouse (`LOCATION`, the `path` option).
    pub location: Option<String>,
}

impl SessionCatalog {
    /// A catalog over `warehouse` sharing `global_views`.
    pub fn new(warehouse: impl Into<PathBuf>, global_views: GlobalViews) -> Self {
        Self {
            warehouse: warehouse.into(),
            temp_views: RwLock::new(BTreeMap::new()),
            global_views,
            current_db: RwLock::new(DEFAULT_DB.to_string()),
        }
    }

    /// The current database.
    pub fn current_database(&self) -> String {
        self.current_db
            .read()
            .map(|d| d.clone())
            .unwrap_or_else(|_| DEFAULT_DB.into())
    }

    /// Sets the current database; it must exist.
    pub fn set_current_database(&self, db: &str) -> Result<()> {
        if !self.database_exists(db) {
            return Err(Error::analysis(
                "SCHEMA_NOT_FOUND",
                format!("The schema `{db}` cannot be found."),
            ));
        }
        if let Ok(mut d) = self.current_db.write() {
            *d = db.to_string();
        }
        Ok(())
    }

    /// Whether a database exists (`default` always does).
    pub fn database_exists(&self, db: &str) -> bool {
        db.eq_ignore_ascii_case(DEFAULT_DB)
            || self
                .warehouse
                .join(format!("{}.db", db.to_lowercase()))
                .is_dir()
    }

    /// The directory of a database.
    pub fn database_dir(&self, db: &str) -> PathBuf {
        let base = std::path::absolute(&self.warehouse).unwrap_or(self.warehouse.clone());
        if db.eq_ignore_ascii_case(DEFAULT_DB) {
            base
        } else {
            base.join(format!("{}.db", db.to_lowercase()))
        }
    }

    /// Whether a global temporary view exists.
    pub fn global_view_exists(&self, name: &str) -> bool {
        self.global_views
            .read()
            .map(|v| v.contains_key(&name.to_lowercase()))
            .unwrap_or(false)
    }

    /// Databases in the warehouse.
    pub fn databases(&self) -> Vec<String> {
        let mut out = vec![DEFAULT_DB.to_string()];
        if let Ok(entries) = std::fs::read_dir(&self.warehouse) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().to_string();
                if let Some(db) = name.strip_suffix(".db") {
                    out.push(db.to_string());
                }
            }
        }
        out.sort();
        out
    }

    /// Creates a database directory.
    pub fn create_database(&self, db: &str, if_not_exists: bool) -> Result<()> {
        if self.database_exists(db) {
            if if_not_exists {
                return Ok(());
            }
            return Err(Error::analysis(
                "SCHEMA_ALREADY_EXISTS",
                format!("Cannot create schema `{db}` because it already exists."),
            ));
        }
        std::fs::create_dir_all(self.warehouse.join(format!("{}.db", db.to_lowercase())))
            .map_err(|e| Error::IllegalArgument(format!("cannot create schema `{db}`: {e}")))
    }

    /// The directory of a warehouse table.
    pub fn table_dir(&self, name: &[String]) -> Result<PathBuf> {
        let (db, table) = match name {
            [t] => (self.current_database(), t.clone()),
            [db, t] => (db.clone(), t.clone()),
            [_, db, t] => (db.clone(), t.clone()),
            _ => {
                return Err(Error::parse(format!(
                    "invalid table name '{}'",
                    name.join(".")
                )));
            }
        };
        let table = table.to_lowercase();
        Ok(if db.eq_ignore_ascii_case(DEFAULT_DB) {
            self.warehouse.join(table)
        } else {
            self.warehouse
                .join(format!("{}.db", db.to_lowercase()))
                .join(table)
        })
    }

    /// Whether a persistent table exists.
    pub fn table_exists(&self, name: &[String]) -> bool {
        self.table_dir(name)
            .is_ok_and(|d| d.join(TABLE_META).is_file())
    }

    /// The stored format of a table.
    pub fn table_meta(&self, name: &[String]) -> Result<TableMeta> {
        let dir = self.table_dir(name)?;
        let text = std::fs::read_to_string(dir.join(TABLE_META))
            .map_err(|_| table_not_found(&name.join(".")))?;
        let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
            Error::internal(format!("corrupt table metadata in {}: {e}", dir.display()))
        })?;
        Ok(TableMeta {
            format: v["format"].as_str().unwrap_or("parquet").to_string(),
            partition_columns: v["partition_columns"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
            schema: v["schema"].as_str().map(str::to_string),
            location: v["location"].as_str().map(str::to_string),
        })
    }

    /// The directory holding a table's data: its location, or its warehouse directory.
    pub fn data_dir(&self, name: &[String]) -> Result<PathBuf> {
        match self.table_meta(name)?.location {
            Some(l) => Ok(crate::delta::table::local_dir(&l)),
            None => self.table_dir(name),
        }
    }

    /// Records a table's storage after its data was written.
    pub fn write_table_meta(dir: &Path, meta: &TableMeta) -> Result<()> {
        let v = serde_json::json!({"format": meta.format, "partition_columns": meta.partition_columns, "schema": meta.schema, "location": meta.location});
        std::fs::create_dir_all(dir).map_err(|e| {
            Error::IllegalArgument(format!("cannot create '{}': {e}", dir.display()))
        })?;
        std::fs::write(dir.join(TABLE_META), v.to_string()).map_err(|e| {
            Error::IllegalArgument(format!(
                "cannot write table metadata in '{}': {e}",
                dir.display()
            ))
        })
    }

    /// Persistent tables of a database, sorted.
    pub fn tables(&self, db: &str) -> Vec<String> {
        let dir = if db.eq_ignore_ascii_case(DEFAULT_DB) {
            self.warehouse.clone()
        } else {
            self.warehouse.join(format!("{}.db", db.to_lowercase()))
        };
        let mut out = Vec::new();
        if let Ok(entries) = std::fs::read_dir(dir) {
            for e in entries.flatten() {
                if e.path().join(TABLE_META).is_file() {
                    out.push(e.file_name().to_string_lossy().to_string());
                }
            }
        }
        out.sort();
        out
    }

    /// Names of the session's temporary views, sorted.
    pub fn temp_views(&self) -> Vec<String> {
        self.temp_views
            .read()
            .map(|v| v.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Registers a temporary view, or a global one when `global`.
    pub fn register_view(
        &self,
        name: &str,
        plan: LogicalPlan,
        replace: bool,
        global: bool,
    ) -> Result<()> {
        let key = name.to_lowercase();
        let exists = if global {
            self.global_views
                .read()
                .map(|v| v.contains_key(&key))
                .unwrap_or(false)
        } else {
            self.temp_views
                .read()
                .map(|v| v.contains_key(&key))
                .unwrap_or(false)
        };
        if exists && !replace {
            return Err(Error::analysis(
                "TEMP_TABLE_OR_VIEW_ALREADY_EXISTS",
                format!("Cannot create the temporary view `{name}` because it already exists."),
            ));
        }
        if global {
            if let Ok(mut v) = self.global_views.write() {
                v.insert(key, plan);
            }
        } else if let Ok(mut v) = self.temp_views.write() {
            v.insert(key, plan);
        }
        Ok(())
    }

    /// Drops a temporary view; whether it existed.
    pub fn drop_view(&self, name: &str, global: bool) -> bool {
        let key = name.to_lowercase();
        if global {
            self.global_views
                .write()
                .map(|mut v| v.remove(&key).is_some())
                .unwrap_or(false)
        } else {
            self.temp_views
                .write()
                .map(|mut v| v.remove(&key).is_some())
                .unwrap_or(false)
        }
    }

    fn view(&self, name: &[String]) -> Option<LogicalPlan> {
        match name {
            [v] => self.temp_views.read().ok()?.get(&v.to_lowercase()).cloned(),
            [g, v] if g.eq_ignore_ascii_case("global_temp") => self
                .global_views
                .read()
                .ok()?
                .get(&v.to_lowercase())
                .cloned(),
            _ => None,
        }
    }

    /// Plans a read of a view or warehouse table.
    pub async fn lookup(&self, state: &SessionState, name: &[String]) -> Result<LogicalPlan> {
        if let Some(last) = name.last()
            && let (base, Some(travel)) = spate_plan::sql_table_syntax::split_travel(last)
        {
            // `t@v3`: a Delta table at an earlier version; `t@changes:..`: its change data
            let mut table = name.to_vec();
            let alias = base.to_string();
            if let Some(l) = table.last_mut() {
                *l = alias.clone();
            }
            let dir = crate::delta::table::location(self, &table, "time travel")?;
            let option = match travel {
                Travel::At(AsOf::Version(v)) => ("versionasof".to_string(), v.to_string()),
                Travel::At(AsOf::Timestamp(t)) => ("timestampasof".to_string(), t),
                Travel::Changes(start, end) => {
                    return crate::delta::changes::read(state, &dir, Some(start), end, &alias)
                        .await;
                }
            };
            let options = HashMap::from([option]);
            return crate::delta::read::read(state, &dir.display().to_string(), &options, &alias)
                .await;
        }
        if let [format, path] = name
            && is_path_table(format, path)
        {
            let req = ReadRequest {
                format: format.to_lowercase(),
                paths: vec![path.clone()],
                schema: None,
                options: HashMap::new(),
            };
            return source::read(state, &req, path).await;
        }
        let last = name.last().cloned().unwrap_or_default();
        if let Some(plan) = self.view(name) {
            return Ok(LogicalPlanBuilder::from(plan)
                .alias(last.as_str())?
                .build()?);
        }
        if !self.table_exists(name) {
            return Err(table_not_found(&name.join(".")));
        }
        let meta = self.table_meta(name)?;
        let dir = self.data_dir(name)?;
        let schema = match &meta.schema {
            Some(ddl) => Some(Arc::new(Schema::new(
                spate_plan::type_parser::parse_schema(ddl, "UTC")?,
            ))),
            None => None,
        };
        let req = ReadRequest {
            format: meta.format,
            paths: vec![dir.display().to_string()],
            schema,
            options: HashMap::from([
                ("header".to_string(), "true".to_string()),
                ("inferschema".to_string(), "true".to_string()),
            ]),
        };
        source::read(state, &req, &last).await
    }
}

impl SessionCatalog {
    /// `saveAsTable` (`insert == false`) or `insertInto` (`insert == true`).
    pub async fn write_table(
        &self,
        state: &SessionState,
        plan: LogicalPlan,
        name: &[String],
        req: &WriteRequest,
        insert: bool,
    ) -> Result<()> {
        let dir = self.table_dir(name)?;
        let exists = self.table_exists(name);
        // the data's directory: the table's location (`LOCATION`, the `path` option) or `dir`
        let location = match exists {
            true => self.table_meta(name)?.location,
            false => req.options.get("path").cloned(),
        };
        let data = location
            .as_deref()
            .map_or_else(|| dir.clone(), crate::delta::table::local_dir);
        if insert {
            if !exists {
                return Err(spate_plan::sql::table_not_found(&name.join(".")));
            }
            let meta = self.table_meta(name)?;
            let existing = self.lookup(state, name).await?;
            // insertInto matches columns by position and takes the table's names.
            let target = existing.schema().clone();
            if target.fields().len() != plan.schema().fields().len() {
                return Err(Error::analysis(
                    "INSERT_COLUMN_ARITY_MISMATCH.TOO_MANY_DATA_COLUMNS",
                    format!(
                        "cannot write to '{}': the table has {} columns but the data has {}",
                        name.join("."),
                        target.fields().len(),
                        plan.schema().fields().len()
                    ),
                ));
            }
            let exprs: Vec<_> = plan
                .schema()
                .columns()
                .into_iter()
                .zip(target.fields())
                .map(|(c, f)| {
                    datafusion::logical_expr::cast(
                        datafusion::logical_expr::col(c),
                        f.data_type().clone(),
                    )
                    .alias(f.name())
                })
                .collect();
            let plan = LogicalPlanBuilder::from(plan).project(exprs)?.build()?;
            let mode = if req.mode == SaveMode::Overwrite {
                SaveMode::Overwrite
            } else {
                SaveMode::Append
            };
            if mode == SaveMode::Overwrite && meta.format != "delta" {
                for f in crate::source::files_under(&data)? {
                    let _ = std::fs::remove_file(f);
                }
            }
            if meta.format == "delta" {
                // a Delta table replaces its rows in a new version rather than deleting files
                let req = WriteRequest {
                    format: meta.format.clone(),
                    mode,
                    partition_by: Vec::new(),
                    options: req.options.clone(),
                };
                return crate::delta::write::write(state, plan, &data.display().to_string(), &req)
                    .await;
            }
            let req = WriteRequest {
                format: meta.format.clone(),
                mode: SaveMode::Append,
                partition_by: meta.partition_columns.clone(),
                options: req.options.clone(),
            };
            crate::write::write_files(state, plan, &data, &req).await?;
            return SessionCatalog::write_table_meta(&dir, &meta);
        }
        if exists {
            match req.mode {
                SaveMode::ErrorIfExists => {
                    return Err(Error::analysis(
                        "TABLE_OR_VIEW_ALREADY_EXISTS",
                        format!(
                            "Cannot create table or view `{}` because it already exists.",
                            name.join(".")
                        ),
                    ));
                }
                SaveMode::Ignore => return Ok(()),
                // a Delta table keeps its history: the overwrite is a new version
                SaveMode::Overwrite if req.format == "delta" => {}
                SaveMode::Overwrite => crate::write::remove(&data)?,
                SaveMode::Append => {}
            }
        }
        let ddl = plan
            .schema()
            .fields()
            .iter()
            .map(|f| {
                format!(
                    "`{}` {}",
                    f.name().replace('`', "``"),
                    spate_plan::types::sql_string(f.data_type())
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        let meta = TableMeta {
            format: req.format.clone(),
            partition_columns: req.partition_by.clone(),
            schema: Some(ddl),
            location,
        };
        let mut req = req.clone();
        if req.format == "csv" {
            req.options.insert("header".into(), "true".into());
        }
        if req.format == "delta" {
            // the table's rows are the Delta log's; an append adds a version
            crate::delta::write::write(state, plan, &data.display().to_string(), &req).await?;
            return SessionCatalog::write_table_meta(&dir, &meta);
        }
        crate::write::write_files(state, plan, &data, &req).await?;
        SessionCatalog::write_table_meta(&dir, &meta)
    }
}

/// Whether `format`.`path` names files rather than a table: Spark's `delta.`/path`` (also
/// `parquet`, `csv`, `json`), a path being absolute or a `file:` URL.
fn is_path_table(format: &str, path: &str) -> bool {
    matches!(
        format.to_lowercase().as_str(),
        "delta" | "parquet" | "csv" | "json"
    ) && (path.starts_with('/') || path.starts_with("file:"))
}

#[async_trait]
impl Sources for SessionCatalog {
    async fn read(&self, state: &SessionState, req: ReadRequest) -> Result<LogicalPlan> {
        let alias = format!("__source_{}", req.format);
        source::read(state, &req, &alias).await
    }

    fn stream_schema(
        &self,
        format: &str,
        options: &std::collections::BTreeMap<String, String>,
    ) -> Result<Option<datafusion::arrow::datatypes::SchemaRef>> {
        match format {
            "kafka" => crate::kafka::stream_schema(options).map(Some),
            _ => Ok(None),
        }
    }

    fn delta_table_path(&self, name: &[String]) -> Result<Option<String>> {
        if !self.table_exists(name) || self.table_meta(name)?.format != "delta" {
            return Ok(None);
        }
        Ok(Some(self.data_dir(name)?.display().to_string()))
    }

    async fn table(&self, state: &SessionState, name: &[String]) -> Result<LogicalPlan> {
        self.lookup(state, name).await
    }

    async fn format_statement(
        &self,
        resolver: &Resolver<'_>,
        text: &str,
    ) -> Result<Option<LogicalPlan>> {
        match crate::delta::sql::statement(resolver, text).await? {
            Some(command) => Ok(Some(
                crate::delta::commands::run(self, resolver.state(), command).await?,
            )),
            None => Ok(None),
        }
    }

    async fn extension(
        &self,
        resolver: &Resolver<'_>,
        relation: &prost_types::Any,
    ) -> Result<LogicalPlan> {
        match crate::delta::connect::relation(self, resolver, relation).await? {
            Some(plan) => Ok(plan),
            None => Err(Error::unsupported(format!(
                "the relation extension {}",
                relation.type_url
            ))),
        }
    }

    async fn command_extension(
        &self,
        resolver: &Resolver<'_>,
        command: &prost_types::Any,
    ) -> Result<()> {
        match crate::delta::connect::command(self, resolver, command).await? {
            true => Ok(()),
            false => Err(Error::unsupported(format!(
                "the command extension {}",
                command.type_url
            ))),
        }
    }

    async fn prepare_sql(&self, state: &SessionState, names: &[TableReference]) -> Result<()> {
        for r in names {
            let parts: Vec<String> = match r {
                TableReference::Bare { table } => vec![table.to_string()],
                TableReference::Partial { schema, table } => {
                    vec![schema.to_string(), table.to_string()]
                }
                TableReference::Full { schema, table, .. } => {
                    vec![schema.to_string(), table.to_string()]
                }
            };
            if parts.len() == 1 && parts[0].eq_ignore_ascii_case("range") {
                continue;
            }
            let plan = match self.lookup(state, &parts).await {
                Ok(p) => p,
                Err(Error::Analysis { class, .. }) if class == "TABLE_OR_VIEW_NOT_FOUND" => {
                    if r.schema()
                        .is_some_and(|s| s.eq_ignore_ascii_case("information_schema"))
                    {
                        continue;
                    }
                    return Err(table_not_found(&parts.join(".")));
                }
                Err(e) => return Err(e),
            };
            let db = if parts.len() == 2 {
                parts[0].to_lowercase()
            } else {
                self.current_database()
            };
            let catalog = state
                .catalog_list()
                .catalog(CATALOG)
                .ok_or_else(|| Error::internal("the session catalog is missing"))?;
            let schema = match catalog.schema(&db) {
                Some(s) => s,
                None => {
                    let s = Arc::new(datafusion::catalog::MemorySchemaProvider::new());
                    catalog.register_schema(&db, s.clone())?;
                    s
                }
            };
            let table = match parts.as_slice() {
                // a path keeps its case: SQL text names it in back quotes; so does a time-travel
                // name, whose table part arrives lower-cased unless quoted
                [format, path] if is_path_table(format, path) => path.clone(),
                [.., last] if last.contains('@') => last.clone(),
                _ => parts.last().cloned().unwrap_or_default().to_lowercase(),
            };
            let view: Arc<dyn TableProvider> = Arc::new(ViewTable::new(plan, None));
            schema.deregister_table(&table)?;
            schema.register_table(table, view)?;
        }
        Ok(())
    }

    fn create_temp_view(&self, name: &[String], plan: LogicalPlan, replace: bool) -> Result<()> {
        match name {
            [v] => self.register_view(v, plan, replace, false),
            [g, v] if g.eq_ignore_ascii_case("global_temp") => {
                self.register_view(v, plan, replace, true)
            }
            _ => Err(Error::parse(format!(
                "invalid view name '{}'",
                name.join(".")
            ))),
        }
    }

    async fn drop_object(&self, kind: &str, name: &[String], if_exists: bool) -> Result<()> {
        let dropped_view = match name {
            [v] => self.drop_view(v, false),
            [g, v] if g.eq_ignore_ascii_case("global_temp") => self.drop_view(v, true),
            _ => false,
        };
        if dropped_view {
            return Ok(());
        }
        if kind == "TABLE" && self.table_exists(name) {
            let dir = self.table_dir(name)?;
            return std::fs::remove_dir_all(&dir).map_err(|e| {
                Error::IllegalArgument(format!("cannot drop table at '{}': {e}", dir.display()))
            });
        }
        if if_exists {
            Ok(())
        } else {
            Err(table_not_found(&name.join(".")))
        }
    }

    async fn create_table(
        &self,
        state: &SessionState,
        name: &[String],
        plan: LogicalPlan,
        spec: TableSpec,
    ) -> Result<()> {
        if self.table_exists(name) && spec.if_not_exists {
            return Ok(());
        }
        let path_table = match name {
            [format, path]
                if is_path_table(format, path) && format.eq_ignore_ascii_case("delta") =>
            {
                Some(path.clone())
            }
            _ => None,
        };
        if let Some(path) = &path_table
            && spec.if_not_exists
            && crate::delta::table::is_delta_table(&crate::delta::table::local_dir(path))
        {
            return Ok(());
        }
        if path_table.is_none()
            && spec.format == "delta"
            && plan.schema().fields().is_empty()
            && let Some(location) = &spec.location
            && crate::delta::table::is_delta_table(&crate::delta::table::local_dir(location))
        {
            // a table over a Delta table already at the location: its schema is the log's
            let meta = TableMeta {
                format: spec.format,
                partition_columns: vec![],
                schema: None,
                location: Some(location.clone()),
            };
            return SessionCatalog::write_table_meta(&self.table_dir(name)?, &meta);
        }
        let mut options: HashMap<String, String> = spec.properties.into_iter().collect();
        options.extend(spec.location.map(|l| ("path".to_string(), l)));
        let format = match path_table {
            Some(_) => "delta".to_string(),
            None => spec.format,
        };
        if spec.replace && format == "delta" {
            // a replaced table takes the new schema
            options.insert("overwriteschema".into(), "true".into());
        }
        let req = WriteRequest {
            format,
            mode: if spec.replace {
                SaveMode::Overwrite
            } else {
                SaveMode::ErrorIfExists
            },
            partition_by: spec.partition_by,
            options,
        };
        if let Some(path) = path_table {
            // ``CREATE TABLE delta.`/path` ``: a table at that path, not in the catalog
            return crate::delta::write::write(state, plan, &path, &req).await;
        }
        self.write_table(state, plan, name, &req, false).await
    }

    async fn insert_into(
        &self,
        state: &SessionState,
        name: &[String],
        plan: LogicalPlan,
        overwrite: bool,
    ) -> Result<()> {
        let req = WriteRequest {
            format: String::new(),
            mode: if overwrite {
                SaveMode::Overwrite
            } else {
                SaveMode::Append
            },
            partition_by: vec![],
            options: HashMap::new(),
        };
        self.write_table(state, plan, name, &req, true).await
    }

    fn create_database(&self, name: &str, if_not_exists: bool) -> Result<()> {
        SessionCatalog::create_database(self, name, if_not_exists)
    }

    fn use_database(&self, name: &str) -> Result<()> {
        self.set_current_database(name)
    }

    async fn show_tables(&self, resolver: &Resolver<'_>) -> Result<LogicalPlan> {
        let db = self.current_database();
        let mut rows: Vec<(String, String, bool)> = self
            .tables(&db)
            .into_iter()
            .map(|t| (db.clone(), t, false))
            .collect();
        rows.extend(
            self.temp_views()
                .into_iter()
                .map(|v| (String::new(), v, true)),
        );
        let schema = Arc::new(Schema::new(vec![
            Field::new("namespace", DataType::Utf8, false),
            Field::new("tableName", DataType::Utf8, false),
            Field::new("isTemporary", DataType::Boolean, false),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from(
                    rows.iter().map(|r| r.0.clone()).collect::<Vec<_>>(),
                )),
                Arc::new(StringArray::from(
                    rows.iter().map(|r| r.1.clone()).collect::<Vec<_>>(),
                )),
                Arc::new(BooleanArray::from(
                    rows.iter().map(|r| r.2).collect::<Vec<_>>(),
                )),
            ],
        )
        .map_err(|e| Error::internal(e.to_string()))?;
        resolver.memory_plan(schema, vec![batch])
    }
}

#[async_trait]
impl crate::warehouse::Warehouse for SessionCatalog {
    fn table_exists(&self, name: &[String]) -> bool {
        SessionCatalog::table_exists(self, name)
    }

    fn table_format(&self, name: &[String]) -> Result<String> {
        Ok(self.table_meta(name)?.format)
    }

    fn data_dir(&self, name: &[String]) -> Result<PathBuf> {
        SessionCatalog::data_dir(self, name)
    }

    fn current_database(&self) -> String {
        SessionCatalog::current_database(self)
    }

    async fn create_table(
        &self,
        state: &SessionState,
        name: &[String],
        plan: LogicalPlan,
        spec: TableSpec,
    ) -> Result<()> {
        Sources::create_table(self, state, name, plan, spec).await
    }

    async fn write_table(
        &self,
        state: &SessionState,
        plan: LogicalPlan,
        name: &[String],
        req: &WriteRequest,
        insert: bool,
    ) -> Result<()> {
        SessionCatalog::write_table(self, state, plan, name, req, insert).await
    }
}
