//! `df.write`: Parquet, CSV, JSON and text output with Spark's save modes (`error` is the
//! default and fails with `PATH_ALREADY_EXISTS`; `ignore` skips; `overwrite` replaces;
//! `append` adds files), `partitionBy` as Hive-style directories, and the `compression`
//! option. Tables (`saveAsTable`, `insertInto`) are directories in the warehouse.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use datafusion::common::config::TableParquetOptions;
use datafusion::datasource::file_format::file_compression_type::FileCompressionType;
use datafusion::execution::SessionState;
use datafusion::logical_expr::LogicalPlan;
use spate_common::{Error, Result};

use crate::options::{SaveMode, WriteRequest};
use crate::task_files::{Encoding, FileLayout};

/// Writes `plan` to `path`.
pub async fn write_path(
    state: &SessionState,
    plan: LogicalPlan,
    path: &str,
    req: &WriteRequest,
) -> Result<()> {
    if req.format == "delta" {
        return crate::delta::write::write(state, plan, path, req).await;
    }
    let dir = PathBuf::from(path.strip_prefix("file://").unwrap_or(path));
    let exists = dir.exists()
        && dir
            .read_dir()
            .map(|mut d| d.next().is_some())
            .unwrap_or(true);
    match req.mode {
        SaveMode::ErrorIfExists if exists => {
            let abs = std::path::absolute(&dir).unwrap_or(dir.clone());
            return Err(Error::Analysis {
                class: "PATH_ALREADY_EXISTS".into(),
                message: format!(
                    "Path file:{} already exists. Set mode as \"overwrite\" to overwrite the existing path.",
                    abs.display()
                ),
                params: vec![("outputPath".into(), format!("file:{}", abs.display()))],
            });
        }
        SaveMode::Ignore if exists => return Ok(()),
        SaveMode::Overwrite if exists => remove(&dir)?,
        _ => {}
    }
    write_files(state, plan, &dir, req).await
}

pub(crate) fn remove(dir: &Path) -> Result<()> {
    let r = if dir.is_dir() {
        std::fs::remove_dir_all(dir)
    } else {
        std::fs::remove_file(dir)
    };
    r.map_err(|e| Error::IllegalArgument(format!("cannot overwrite '{}': {e}", dir.display())))
}

pub(crate) async fn write_files(
    state: &SessionState,
    plan: LogicalPlan,
    dir: &Path,
    req: &WriteRequest,
) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| {
        Error::IllegalArgument(format!(
            "cannot create output directory '{}': {e}",
            dir.display()
        ))
    })?;
    let schema = plan.schema().clone();
    let mut partition_by = Vec::new();
    for p in &req.partition_by {
        let field = schema
            .fields()
            .iter()
            .find(|f| f.name().eq_ignore_ascii_case(p))
            .ok_or_else(|| spate_plan::resolver::expression::unresolved_column(p, &schema))?;
        partition_by.push(field.name().clone());
    }
    let compression = req
        .options
        .get("compression")
        .or_else(|| req.options.get("codec"))
        .map(|c| c.to_lowercase());
    let (encoding, whole_file, extension) = match req.format.as_str() {
        "parquet" => {
            let (codec, ext) = parquet_codec(compression.as_deref().unwrap_or("snappy"))?;
            let mut opts = TableParquetOptions::default();
            opts.global.compression = Some(codec);
            let ext = format!("{ext}.parquet");
            (
                Encoding::Parquet(Box::new(opts)),
                FileCompressionType::UNCOMPRESSED,
                ext,
            )
        }
        "csv" | "json" | "text" => {
            let (codec, ext) = file_codec(compression.as_deref().unwrap_or("none"))?;
            let encoding = match req.format.as_str() {
                "csv" => Encoding::Csv {
                    header: flag(&req.options, "header"),
                    delimiter: req
                        .options
                        .get("sep")
                        .or_else(|| req.options.get("delimiter"))
                        .and_then(|s| s.as_bytes().first().copied())
                        .unwrap_or(b','),
                    null_value: req
                        .options
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case("nullValue"))
                        .map(|(_, v)| v.clone()),
                },
                "json" => Encoding::Json,
                _ => {
                    if schema.fields().len() != 1 {
                        return Err(Error::analysis(
                            "INVALID_TEXT_DATA_SOURCE",
                            format!(
                                "the text data source supports a single string column, but the data has {} columns",
                                schema.fields().len()
                            ),
                        ));
                    }
                    Encoding::Text
                }
            };
            let base = if req.format == "text" {
                "txt"
            } else {
                &req.format
            };
            (encoding, codec, format!(".{base}{ext}"))
        }
        "xml" => {
            let (codec, ext) = file_codec(compression.as_deref().unwrap_or("none"))?;
            let options = spate_plan::xml_rows::XmlOptions::from_pairs(
                req.options.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            );
            let timestamp_format = req
                .options
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("timestampFormat"))
                .map_or("yyyy-MM-dd'T'HH:mm:ss.SSSXXX".to_string(), |(_, v)| {
                    v.clone()
                });
            let encoding = Encoding::Xml {
                options,
                timestamp_format,
                tz: crate::options::session_time_zone(state),
            };
            (encoding, codec, format!(".xml{ext}"))
        }
        "orc" => (
            Encoding::Orc,
            FileCompressionType::UNCOMPRESSED,
            ".snappy.orc".to_string(),
        ),
        other => {
            return Err(Error::analysis(
                "DATA_SOURCE_NOT_FOUND",
                format!(
                    "Failed to find the data source: {other}. Spate writes parquet, csv, json, text, xml and orc."
                ),
            ));
        }
    };
    let layout = FileLayout {
        encoding,
        compression: whole_file,
        extension,
        partition_by,
    };
    let tz = crate::options::session_time_zone(state);
    crate::task_files::write_files(state, plan, dir, &layout, &tz).await
}

fn flag(opts: &HashMap<String, String>, key: &str) -> bool {
    opts.get(key)
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// A Parquet codec and the infix Spark puts in the file name (`.snappy`).
fn parquet_codec(c: &str) -> Result<(String, &'static str)> {
    Ok(match c {
        "none" | "uncompressed" => ("uncompressed".into(), ""),
        "snappy" => ("snappy".into(), ".snappy"),
        "gzip" => ("gzip(6)".into(), ".gz"),
        "zstd" => ("zstd(3)".into(), ".zstd"),
        "lz4" | "lz4_raw" => ("lz4_raw".into(), ".lz4raw"),
        "brotli" => ("brotli(1)".into(), ".br"),
        other => {
            return Err(Error::IllegalArgument(format!(
                "Codec [{other}] is not available. Available codecs are brotli, uncompressed, lz4, gzip, lz4_raw, none, zstd, snappy."
            )));
        }
    })
}

/// A whole-file codec and the extension Spark appends (`.gz`).
fn file_codec(c: &str) -> Result<(FileCompressionType, &'static str)> {
    type C = FileCompressionType;
    Ok(match c {
        "none" | "uncompressed" => (C::UNCOMPRESSED, ""),
        "gzip" => (C::GZIP, ".gz"),
        "bzip2" => (C::BZIP2, ".bz2"),
        "zstd" => (C::ZSTD, ".zst"),
        other => {
            return Err(Error::IllegalArgument(format!(
                "Codec [{other}] is not available. Available codecs are none, gzip, bzip2, zstd."
            )));
        }
    })
}
