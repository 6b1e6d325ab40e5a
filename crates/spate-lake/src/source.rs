//! Reading data sources with Spark's options and defaults. Parquet reads as is; CSV reads every
//! column as a string named `_c0`, `_c1`, ... unless `header` and `inferSchema` say otherwise,
//! with `sep`, `quote`, `escape` and `nullValue`; JSON reads JSON Lines (or one document per
//! file with `multiLine`) with fields sorted by name as Spark infers them; text reads one `value` string per line. Directories are read
//! recursively with Hive-style partition columns (none with `recursiveFileLookup`), keeping only
//! file names matching `pathGlobFilter`; a missing path is Spark's `PATH_NOT_FOUND`. CSV and
//! JSON Lines reads whose values can fail to parse (a schema, `mode`, a corrupt-record column
//! or a datetime format) go record by record through [`crate::records`].

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::file_format::csv::CsvFormat;
use datafusion::datasource::file_format::json::JsonFormat;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::datasource::{MemTable, provider_as_source};
use datafusion::execution::SessionState;
use datafusion::logical_expr::{LogicalPlan, LogicalPlanBuilder};
use futures::FutureExt;
use spate_common::{Error, Result};
use spate_plan::ReadRequest;

use crate::options::flag;
use crate::partitions;
use crate::records::{CsvDialect, ParseMode, RecordOptions, RecordTable};
use datafusion::datasource::file_format::file_compression_type::FileCompressionType;
use spate_common::datetime_pattern::DateTimePattern;

/// Reads a data source as a plan scanning it under the relation name `alias`.
pub async fn read(state: &SessionState, req: &ReadRequest, alias: &str) -> Result<LogicalPlan> {
    if req.format == "kafka" {
        return crate::kafka::read(req, alias).await;
    }
    if req.paths.is_empty() {
        if let Some(p) = req.options.get("path") {
            let mut req = req.clone();
            req.paths = vec![p.clone()];
            return Box::pin(read(state, &req, alias)).await;
        }
        return Err(Error::analysis(
            "UNABLE_TO_INFER_SCHEMA",
            format!(
                "unable to infer schema for {}: no path was given; pass one to load()",
                req.format.to_uppercase()
            ),
        ));
    }
    if req.format == "delta" {
        let [path] = req.paths.as_slice() else {
            return Err(Error::IllegalArgument(
                "a Delta table is read from one path".into(),
            ));
        };
        return crate::delta::read::read(state, path, &req.options, alias).await;
    }
    for p in &req.paths {
        check_exists(p)?;
    }
    match committed_by_a_stream(req)? {
        Some(Committed::Files(req)) => return Box::pin(read(state, &req, alias)).await,
        Some(Committed::Partitioned(dir, files)) => {
            return crate::sink_output::read_partitioned(state, &dir, files, req, alias, |s, r| {
                let alias = alias.to_string();
                async move { Box::pin(read(s, &r, &alias)).await }
            })
            .await;
        }
        None => {}
    }
    match req.format.as_str() {
        "text" => read_text(req, alias),
        // Without a schema, multiLine documents are read whole to infer one; with a schema
        // they are read record by record, with the parse modes.
        "json" if flag(&req.options, "multiline", false)? && req.schema.is_none() => {
            read_json_documents(req, alias)
        }
        "parquet" | "csv" | "json" => read_listing(state, req, alias).await,
        "xml" => read_xml(state, req, alias),
        "orc" => {
            let mut files = Vec::new();
            for p in &req.paths {
                files.extend(files_under(&local_path(p))?);
            }
            crate::orc::read(files, &req.paths.join(", "), req.schema.clone(), alias)
        }
        other => Err(Error::analysis(
            "DATA_SOURCE_NOT_FOUND",
            format!(
                "Failed to find the data source: {other}. Spate reads parquet, csv, json, text, xml, orc and delta."
            ),
        )),
    }
}

fn is_glob(p: &str) -> bool {
    p.contains(['*', '?', '['])
}

fn local_path(p: &str) -> PathBuf {
    PathBuf::from(p.strip_prefix("file://").unwrap_or(p))
}

fn check_exists(p: &str) -> Result<()> {
    if is_glob(p) || local_path(p).exists() {
        return Ok(());
    }
    let abs = std::path::absolute(local_path(p)).unwrap_or_else(|_| local_path(p));
    Err(Error::Analysis {
        class: "PATH_NOT_FOUND".into(),
        message: format!("Path does not exist: file:{}.", abs.display()),
        params: vec![("path".into(), format!("file:{}", abs.display()))],
    })
}

fn option<'a>(opts: &'a HashMap<String, String>, keys: &[&str]) -> Option<&'a str> {
    keys.iter().find_map(|k| opts.get(*k)).map(String::as_str)
}

fn single_char(opts: &HashMap<String, String>, keys: &[&str], default: u8) -> Result<u8> {
    match option(opts, keys) {
        None => Ok(default),
        Some(v) if v.len() == 1 => Ok(v.as_bytes()[0]),
        Some("\\t") => Ok(b'\t'),
        Some(v) => Err(Error::IllegalArgument(format!(
            "option '{}' must be a single character, got '{v}'",
            keys[0]
        ))),
    }
}

fn file_format(
    req: &ReadRequest,
    parquet_options: &datafusion::common::config::TableParquetOptions,
) -> Result<(Arc<dyn FileFormat>, &'static str)> {
    let o = &req.options;
    Ok(match req.format.as_str() {
        "parquet" => (
            Arc::new(ParquetFormat::default().with_options(parquet_options.clone())),
            ".parquet",
        ),
        "csv" => {
            let mut f = CsvFormat::default()
                .with_file_compression_type(compression_of(&req.paths))
                .with_has_header(flag(o, "header", false)?)
                .with_delimiter(single_char(o, &["sep", "delimiter"], b',')?)
                .with_quote(single_char(o, &["quote"], b'"')?);
            if let Some(e) = option(o, &["escape"]) {
                f = f.with_escape(e.as_bytes().first().copied());
            }
            if let Some(n) = option(o, &["nullvalue"]).filter(|n| !n.is_empty()) {
                f = f.with_null_regex(Some(format!("^{}$", spate_common::names::regex_escape(n))));
            }
            if flag(o, "multiline", false)? {
                f = f.with_newlines_in_values(true);
            }
            (Arc::new(f), "")
        }
        "json" => (
            Arc::new(JsonFormat::default().with_file_compression_type(compression_of(&req.paths))),
            "",
        ),
        other => return Err(Error::internal(format!("no listing format for {other}"))),
    })
}

/// The whole-file compression of CSV and JSON input, from the first data file's extension
/// (`.gz`, `.bz2`, `.zst`, `.xz`), as Hadoop's codec lookup decides it for Spark.
fn compression_of(paths: &[String]) -> FileCompressionType {
    let first = paths.iter().find_map(|p| first_file(&local_path(p)));
    match first
        .as_ref()
        .and_then(|f| f.extension())
        .and_then(|e| e.to_str())
    {
        Some("gz") => FileCompressionType::GZIP,
        Some("bz2") => FileCompressionType::BZIP2,
        Some("zst") => FileCompressionType::ZSTD,
        Some("xz") => FileCompressionType::XZ,
        _ => FileCompressionType::UNCOMPRESSED,
    }
}

async fn read_listing(state: &SessionState, req: &ReadRequest, alias: &str) -> Result<LogicalPlan> {
    let (format, extension) = file_format(req, &state.table_options().parquet)?;
    let glob_filter = req.options.get("pathglobfilter").cloned();
    // recursiveFileLookup reads every file below the path and infers no partition columns
    let recursive = flag(&req.options, "recursivefilelookup", false)?;
    let mut urls = Vec::new();
    let mut partition_cols = Vec::new();
    let mut null_partitions = Vec::new();
    for p in &req.paths {
        let path = local_path(p);
        let text = if path.is_dir() {
            if !recursive {
                let found = partitions::discover(&path);
                null_partitions = found
                    .iter()
                    .filter(|c| c.has_nulls)
                    .map(|c| c.name.clone())
                    .collect();
                partition_cols = found.into_iter().map(|c| (c.name, c.data_type)).collect();
            }
            let abs = std::path::absolute(&path).unwrap_or(path.clone());
            let dir = abs.display().to_string();
            let dir = dir.trim_end_matches('/');
            match &glob_filter {
                // pathGlobFilter matches file names, at any depth below the path
                Some(pattern) => format!("{dir}/**/{pattern}"),
                None => format!("{dir}/"),
            }
        } else {
            std::path::absolute(&path)
                .unwrap_or(path.clone())
                .display()
                .to_string()
        };
        urls.push(ListingTableUrl::parse(&text)?);
    }
    let extension = if glob_filter.is_some() { "" } else { extension };
    let mut options = ListingOptions::new(format)
        .with_file_extension(extension)
        .with_table_partition_cols(partition_cols.clone());
    if req.format == "parquet" {
        options = options.with_file_extension(".parquet");
    }
    let file_schema = match &req.schema {
        Some(s) => s.clone(),
        // Parquet without mergeSchema: one file's schema, as Spark infers it
        None if req.format == "parquet" && !flag(&req.options, "mergeschema", false)? => {
            let inferred = infer_from_first_file(state, &options, req)
                .await
                .map_err(|e| {
                    Error::analysis(
                        "UNABLE_TO_INFER_SCHEMA",
                        format!(
                            "unable to infer schema for PARQUET at '{}': {e}",
                            req.paths.join(", ")
                        ),
                    )
                })?;
            spark_schema(req, inferred)?
        }
        None => {
            // every path's files, their schemas merged (fields in order of first appearance),
            // as Spark infers over all the paths it is given
            let mut inferred = Err(datafusion::error::DataFusionError::Execution(
                "no path".into(),
            ));
            let mut merged: Vec<datafusion::arrow::datatypes::Schema> = Vec::new();
            for url in &urls {
                // a footer whose lengths do not add up can panic the parquet decoder (see
                // `crate::listing`): that is a bad file too
                inferred = AssertUnwindSafe(options.infer_schema(state, url))
                    .catch_unwind()
                    .await
                    .unwrap_or_else(|_| {
                        Err(datafusion::error::DataFusionError::Execution(
                            "the file's footer could not be decoded".into(),
                        ))
                    });
                match &inferred {
                    Ok(schema) => merged.push(schema.as_ref().clone()),
                    Err(_) => break,
                }
            }
            if inferred.is_ok() && merged.len() > 1 {
                inferred = datafusion::arrow::datatypes::Schema::try_merge(merged)
                    .map(std::sync::Arc::new)
                    .map_err(Into::into);
            }
            let inferred = match inferred {
                Ok(schema) => schema,
                // one bad file (not UTF-8, corrupt) fails DataFusion's inference over all of
                // them; Spark infers from one file, so does the retry
                Err(e) => infer_from_first_file(state, &options, req)
                    .await
                    .map_err(|again| {
                        Error::analysis(
                            "UNABLE_TO_INFER_SCHEMA",
                            format!(
                                "unable to infer schema for {} at '{}': {e} (from its first \
                                 file: {again})",
                                req.format.to_uppercase(),
                                req.paths.join(", ")
                            ),
                        )
                    })?,
            };
            spark_schema(req, inferred)?
        }
    };
    let file_schema = without_partition_columns(file_schema, &partition_cols);
    // partition columns with null directories are scanned as strings, typed above the scan
    let typed = partition_cols.clone();
    let partition_cols: Vec<(String, DataType)> = partition_cols
        .into_iter()
        .map(|(n, t)| match null_partitions.contains(&n) {
            true => (n, DataType::Utf8),
            false => (n, t),
        })
        .collect();
    let scan = if let Some(record_options) = record_options(req, &file_schema)? {
        let table = RecordTable::new(urls, file_schema, partition_cols, record_options);
        LogicalPlanBuilder::scan(alias, provider_as_source(Arc::new(table)), None)?.build()?
    } else {
        let options = options.with_table_partition_cols(partition_cols);
        let config = ListingTableConfig::new_with_multi_paths(urls)
            .with_listing_options(options)
            .with_schema(file_schema);
        let table = crate::listing::TolerantListing(ListingTable::try_new(config)?);
        LogicalPlanBuilder::scan(alias, provider_as_source(Arc::new(table)), None)?.build()?
    };
    if null_partitions.is_empty() {
        return Ok(scan);
    }
    let exprs = scan
        .schema()
        .columns()
        .into_iter()
        .map(|c| match typed.iter().find(|(n, _)| *n == c.name) {
            Some((n, t)) if null_partitions.contains(n) => {
                let value = datafusion::functions::core::expr_fn::nullif(
                    datafusion::logical_expr::col(c),
                    datafusion::logical_expr::lit(partitions::NULL_PARTITION),
                );
                datafusion::logical_expr::cast(value, t.clone()).alias(n)
            }
            _ => datafusion::logical_expr::col(c),
        })
        .collect::<Vec<_>>();
    Ok(LogicalPlanBuilder::from(scan).project(exprs)?.build()?)
}

/// The schema of the first non-empty data file, read as Spark reads text that is not UTF-8 (see
/// `spate_plan::lossy_utf8`).
async fn infer_from_first_file(
    state: &SessionState,
    options: &ListingOptions,
    req: &ReadRequest,
) -> Result<SchemaRef> {
    let file = req
        .paths
        .iter()
        .find_map(|p| first_nonempty_file(&local_path(p)))
        .ok_or_else(|| Error::internal("no data file"))?;
    let abs = std::path::absolute(&file).unwrap_or(file);
    let scheme = match req.format.as_str() {
        "csv" | "json" => spate_plan::lossy_utf8::INFER_URL,
        _ => "file://",
    };
    let url = ListingTableUrl::parse(format!("{scheme}{}", abs.display()))?;
    let options = options.clone().with_file_extension("");
    AssertUnwindSafe(options.infer_schema(state, &url))
        .catch_unwind()
        .await
        .map_err(|_| {
            Error::IllegalArgument(format!("cannot read the footer of '{}'", url.as_str()))
        })?
        .map_err(Error::from)
}

/// Options for reading record by record, when values can fail to parse: a CSV or JSON Lines read
/// with a schema, a parse mode, a corrupt-record column or a datetime format.
fn record_options(req: &ReadRequest, schema: &SchemaRef) -> Result<Option<RecordOptions>> {
    let o = &req.options;
    let asked = [
        "mode",
        "columnnameofcorruptrecord",
        "dateformat",
        "timestampformat",
    ]
    .iter()
    .any(|k| o.contains_key(*k));
    if !matches!(req.format.as_str(), "csv" | "json") || !(asked || req.schema.is_some()) {
        return Ok(None);
    }
    let corrupt_column = option(o, &["columnnameofcorruptrecord"])
        .unwrap_or("_corrupt_record")
        .to_string();
    if let Ok(f) = schema.field_with_name(&corrupt_column)
        && (f.data_type() != &DataType::Utf8 || !f.is_nullable())
    {
        return Err(Error::Analysis {
            class: "INVALID_CORRUPT_RECORD_TYPE".into(),
            message: format!(
                "The column `{corrupt_column}` for corrupt records must have the nullable STRING type, but got \"{}\".",
                spate_plan::types::simple_string(f.data_type()).to_uppercase()
            ),
            params: vec![("columnName".into(), format!("`{corrupt_column}`"))],
        });
    }
    let pattern = |key: &str| -> Result<Option<DateTimePattern>> {
        option(o, &[key])
            .map(|p| {
                DateTimePattern::compile(p).map_err(|e| {
                    Error::IllegalArgument(format!(
                        "invalid datetime pattern '{p}' in option '{key}': {e}"
                    ))
                })
            })
            .transpose()
    };
    let csv = if req.format == "csv" {
        Some(CsvDialect {
            header: flag(o, "header", false)?,
            sep: single_char(o, &["sep", "delimiter"], b',')?,
            quote: single_char(o, &["quote"], b'"')?,
            escape: single_char(o, &["escape"], b'\\')?,
            null_value: option(o, &["nullvalue"])
                .filter(|n| !n.is_empty())
                .map(str::to_string),
        })
    } else {
        None
    };
    Ok(Some(RecordOptions {
        csv,
        multi_line: flag(o, "multiline", false)?,
        mode: ParseMode::from_option(option(o, &["mode"])),
        corrupt_column,
        date_format: pattern("dateformat")?,
        timestamp_format: pattern("timestampformat")?,
    }))
}

fn without_partition_columns(schema: SchemaRef, parts: &[(String, DataType)]) -> SchemaRef {
    if parts.is_empty() {
        return schema;
    }
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .filter(|f| !parts.iter().any(|(n, _)| n == f.name()))
        .map(|f| f.as_ref().clone())
        .collect();
    Arc::new(Schema::new(fields))
}

/// Turns DataFusion's inferred schema into the one Spark infers for the format and options.
fn spark_schema(req: &ReadRequest, inferred: SchemaRef) -> Result<SchemaRef> {
    let fields: Vec<Field> = match req.format.as_str() {
        "csv" => {
            let header = flag(&req.options, "header", false)?;
            let infer = flag(&req.options, "inferschema", false)?;
            inferred
                .fields()
                .iter()
                .enumerate()
                .map(|(i, f)| {
                    let name = if header {
                        f.name().clone()
                    } else {
                        format!("_c{i}")
                    };
                    let t = if infer {
                        spark_inferred(f.data_type())
                    } else {
                        DataType::Utf8
                    };
                    Field::new(name, t, true)
                })
                .collect()
        }
        "json" => {
            let mut fs: Vec<Field> = inferred
                .fields()
                .iter()
                .map(|f| Field::new(f.name(), spark_inferred(f.data_type()), true))
                .collect();
            fs.sort_by(|a, b| a.name().cmp(b.name()));
            fs
        }
        _ => inferred
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect(),
    };
    Ok(Arc::new(Schema::new(fields)))
}

fn spark_inferred(t: &DataType) -> DataType {
    match t {
        DataType::Utf8View | DataType::LargeUtf8 => DataType::Utf8,
        DataType::Null => DataType::Utf8,
        other => other.clone(),
    }
}

/// Spark's text source: one row per line in a `value` column.
fn read_text(req: &ReadRequest, alias: &str) -> Result<LogicalPlan> {
    let mut lines = Vec::new();
    for p in &req.paths {
        for file in files_under(&local_path(p))? {
            let bytes = std::fs::read(&file).map_err(|e| {
                Error::IllegalArgument(format!("cannot read text file '{}': {e}", file.display()))
            })?;
            // bytes that are not UTF-8 read as U+FFFD, as Spark's decoder gives them
            lines.extend(String::from_utf8_lossy(&bytes).lines().map(str::to_string));
        }
    }
    // the one string column is `value`, or the name a user's schema gives it
    let name = match &req.schema {
        Some(s) if s.fields().len() == 1 && s.field(0).data_type() == &DataType::Utf8 => {
            s.field(0).name().clone()
        }
        Some(s) => {
            return Err(Error::analysis(
                "INVALID_TEXT_DATA_SOURCE",
                format!(
                    "the text data source reads a single string column, but the schema has {}",
                    s.fields()
                        .iter()
                        .map(|f| format!("{}: {}", f.name(), f.data_type()))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        None => "value".to_string(),
    };
    let schema = Arc::new(Schema::new(vec![Field::new(name, DataType::Utf8, true)]));
    let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(StringArray::from(lines))])
        .map_err(|e| Error::internal(e.to_string()))?;
    let table = MemTable::try_new(schema, vec![vec![batch]])?;
    Ok(LogicalPlanBuilder::scan(alias, provider_as_source(Arc::new(table)), None)?.build()?)
}

/// XML: the `rowTag` elements of each file are rows (see `spate_plan::xml_rows`), of the
/// given schema or the one inferred over all of them.
fn read_xml(state: &SessionState, req: &ReadRequest, alias: &str) -> Result<LogicalPlan> {
    let options = spate_plan::xml_rows::XmlOptions::from_pairs(
        req.options.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    );
    let mut rows = Vec::new();
    for p in &req.paths {
        for file in files_under(&local_path(p))? {
            let bytes = std::fs::read(&file).map_err(|e| {
                Error::IllegalArgument(format!("cannot read XML file '{}': {e}", file.display()))
            })?;
            let text = String::from_utf8_lossy(&bytes);
            rows.extend(
                spate_plan::xml_rows::records(&text, &options.row_tag).map_err(|why| {
                    Error::analysis(
                        "MALFORMED_RECORD_IN_PARSING",
                        format!("malformed XML in '{}': {why}", file.display()),
                    )
                })?,
            );
        }
    }
    let tz = crate::options::session_time_zone(state);
    let batch = spate_plan::xml_rows::rows_batch(&rows, req.schema.clone(), &options, &tz)?;
    let schema = batch.schema();
    let table = MemTable::try_new(schema, vec![vec![batch]])?;
    Ok(LogicalPlanBuilder::scan(alias, provider_as_source(Arc::new(table)), None)?.build()?)
}

/// JSON with `multiLine`: each file is one document, an object (one row) or an array of
/// objects (a row each). Fields are inferred over all rows and sorted by name, as Spark does.
fn read_json_documents(req: &ReadRequest, alias: &str) -> Result<LogicalPlan> {
    let mut rows: Vec<serde_json::Value> = Vec::new();
    for p in &req.paths {
        for file in files_under(&local_path(p))? {
            let bytes = std::fs::read(&file).map_err(|e| {
                Error::IllegalArgument(format!("cannot read JSON file '{}': {e}", file.display()))
            })?;
            let text = String::from_utf8_lossy(&bytes);
            let doc: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
                Error::analysis(
                    "MALFORMED_RECORD_IN_PARSING",
                    format!("malformed JSON document in '{}': {e}", file.display()),
                )
            })?;
            match doc {
                serde_json::Value::Array(items) => rows.extend(items),
                other => rows.push(other),
            }
        }
    }
    let schema = match &req.schema {
        Some(s) => s.clone(),
        None => {
            let inferred = datafusion::arrow::json::reader::infer_json_schema_from_iterator(
                rows.iter().map(Ok),
            )
            .map_err(|e| Error::analysis("UNABLE_TO_INFER_SCHEMA", e.to_string()))?;
            spark_schema(req, Arc::new(inferred))?
        }
    };
    let mut decoder = datafusion::arrow::json::ReaderBuilder::new(schema.clone())
        .build_decoder()
        .map_err(|e| Error::internal(e.to_string()))?;
    decoder
        .serialize(&rows)
        .map_err(|e| Error::analysis("MALFORMED_RECORD_IN_PARSING", e.to_string()))?;
    let batch = decoder
        .flush()
        .map_err(|e| Error::analysis("MALFORMED_RECORD_IN_PARSING", e.to_string()))?
        .unwrap_or_else(|| RecordBatch::new_empty(schema.clone()));
    let table = MemTable::try_new(schema, vec![vec![batch]])?;
    Ok(LogicalPlanBuilder::scan(alias, provider_as_source(Arc::new(table)), None)?.build()?)
}

/// The first data file below `path` that `keep` accepts (names starting with `.` or `_` are
/// not data), without listing the rest of the tree.
fn first_file_where(path: &Path, keep: &dyn Fn(&Path) -> bool) -> Option<PathBuf> {
    if path.is_file() {
        return keep(path).then(|| path.to_path_buf());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
        .ok()?
        .flatten()
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            !name.starts_with('.') && !name.starts_with('_')
        })
        .map(|e| e.path())
        .collect();
    entries.sort();
    entries.into_iter().find_map(|p| first_file_where(&p, keep))
}

/// The first data file below `path`.
fn first_file(path: &Path) -> Option<PathBuf> {
    first_file_where(path, &|_| true)
}

/// The first data file below `path` that is not empty.
fn first_nonempty_file(path: &Path) -> Option<PathBuf> {
    first_file_where(path, &|p| std::fs::metadata(p).is_ok_and(|m| m.len() > 0))
}

/// Data files under a path (itself if a file), skipping hidden and `_` files, sorted.
pub fn files_under(path: &Path) -> Result<Vec<PathBuf>> {
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut out = Vec::new();
    let entries = std::fs::read_dir(path)
        .map_err(|e| Error::IllegalArgument(format!("cannot list '{}': {e}", path.display())))?;
    for entry in entries.flatten() {
        let p = entry.path();
        let name = entry.file_name().to_string_lossy().to_string();
        if name.starts_with('.') || name.starts_with('_') {
            continue;
        }
        if p.is_dir() {
            out.extend(files_under(&p)?);
        } else {
            out.push(p);
        }
    }
    out.sort();
    Ok(out)
}

/// What a streaming file sink committed into the paths read.
enum Committed {
    /// The paths replaced by the files the sinks' logs list.
    Files(ReadRequest),
    /// One sink directory with partition directories, and its committed files.
    Partitioned(PathBuf, Vec<String>),
}

/// A directory a streaming file sink writes into is read as Spark reads it: only the files its
/// `_spark_metadata` log lists, so a batch that failed half-way is not seen; `None` when no
/// path is such a directory. A sink with partition directories is read by
/// [`crate::sink_output`].
fn committed_by_a_stream(req: &ReadRequest) -> Result<Option<Committed>> {
    let mut changed = false;
    let mut paths = Vec::new();
    for p in &req.paths {
        let dir = std::path::Path::new(p.strip_prefix("file://").unwrap_or(p));
        let absolute = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
        match crate::metadata_log::committed_files(dir)? {
            Some(files)
                if files
                    .iter()
                    .all(|f| std::path::Path::new(f).parent() == Some(absolute.as_path())) =>
            {
                changed = true;
                paths.extend(files);
            }
            Some(files) if req.paths.len() == 1 => {
                return Ok(Some(Committed::Partitioned(absolute, files)));
            }
            _ => paths.push(p.clone()),
        }
    }
    Ok(changed.then(|| {
        Committed::Files(ReadRequest {
            paths,
            ..req.clone()
        })
    }))
}
