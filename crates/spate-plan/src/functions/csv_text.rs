//! CSV text in a column, as Spark reads and writes it: `from_csv(text, schema[, options])`
//! parses one record into a struct (PERMISSIVE: a field that does not fit its type, or is
//! missing, is null; an empty field is null), `to_csv(struct[, options])` writes a struct as
//! one record (null as nothing, a value with the separator, a quote or a line break quoted),
//! and `schema_of_csv(text[, options])` infers a literal record's types as Spark's CSV reader
//! does (`INT`, `BIGINT`, `DOUBLE`, `BOOLEAN`, `TIMESTAMP`, else `STRING`) as DDL text.
//! Options: `sep`/`delimiter` (one character), `quote`, `ignoreLeadingWhiteSpace`,
//! `ignoreTrailingWhiteSpace`, `nullValue`.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringArray, StringBuilder, StructArray};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::compute::{CastOptions, cast_with_options};
use datafusion::arrow::datatypes::{DataType, Fields};
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility, cast,
    lit,
};
use spate_common::{Error, Result};

use super::{Arg, CallContext, default_name, wrong_args};

/// The functions this module resolves, for SQL planning (see `crate::sql_functions`).
pub(super) const SQL_NAMES: &[&str] = &["from_csv", "to_csv", "schema_of_csv"];

/// The options these functions read.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct CsvOptions {
    sep: u8,
    quote: u8,
    trim_leading: bool,
    trim_trailing: bool,
    null_value: String,
}

impl CsvOptions {
    fn from_pairs(function: &str, pairs: &[(String, String)]) -> Result<CsvOptions> {
        let mut o = CsvOptions {
            sep: b',',
            quote: b'"',
            trim_leading: false,
            trim_trailing: false,
            null_value: String::new(),
        };
        let byte = |key: &str, v: &str| -> Result<u8> {
            match v.as_bytes() {
                [b] => Ok(*b),
                _ => Err(Error::analysis(
                    "INVALID_OPTION",
                    format!("{function}: option '{key}' must be one character, got '{v}'"),
                )),
            }
        };
        for (k, v) in pairs {
            match k.to_ascii_lowercase().as_str() {
                "sep" | "delimiter" => o.sep = byte(k, v)?,
                "quote" => o.quote = byte(k, v)?,
                "ignoreleadingwhitespace" => o.trim_leading = v.eq_ignore_ascii_case("true"),
                "ignoretrailingwhitespace" => o.trim_trailing = v.eq_ignore_ascii_case("true"),
                "nullvalue" => o.null_value = v.clone(),
                _ => {}
            }
        }
        Ok(o)
    }

    /// The fields of one record (`None` for a null field).
    fn record(&self, text: &str) -> Vec<Option<String>> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(self.sep)
            .quote(self.quote)
            .escape(Some(b'\\'))
            .from_reader(text.as_bytes());
        let mut record = csv::StringRecord::new();
        if !reader.read_record(&mut record).unwrap_or(false) {
            return Vec::new();
        }
        record
            .iter()
            .map(|f| {
                let f = if self.trim_leading { f.trim_start() } else { f };
                let f = if self.trim_trailing { f.trim_end() } else { f };
                (f != self.null_value).then(|| f.to_string())
            })
            .collect()
    }

    /// One field written as a record's field.
    fn field(&self, text: &str) -> String {
        let quote = self.quote as char;
        let needs =
            text.contains(self.sep as char) || text.contains(quote) || text.contains(['\n', '\r']);
        if needs && !text.is_empty() {
            let escaped = text
                .replace('\\', "\\\\")
                .replace(quote, &format!("\\{quote}"));
            format!("{quote}{escaped}{quote}")
        } else {
            text.to_string()
        }
    }
}

/// Resolves the CSV functions.
pub(super) fn resolve(
    name: &str,
    args: &[Arg],
    cx: &CallContext<'_>,
) -> Result<Option<(Expr, String)>> {
    if !SQL_NAMES.contains(&name) {
        return Ok(None);
    }
    let (min, max) = if name == "from_csv" { (2, 3) } else { (1, 2) };
    if !(min..=max).contains(&args.len()) {
        return Err(wrong_args(name, &format!("{min} or {max}"), args.len()));
    }
    let options = CsvOptions::from_pairs(name, &super::options_arg(name, args.get(min), cx)?)?;
    Ok(Some(match name {
        "schema_of_csv" => {
            let text = super::string_literal(name, "input", &args[0])?;
            let ddl = infer(&options.record(&text));
            (lit(ddl), default_name(name, &args[..1], false))
        }
        "from_csv" => {
            let schema_text = super::string_literal(name, "schema", &args[1])?;
            let fields = match crate::json_schema::parse_schema_string(&schema_text, cx.tz)? {
                DataType::Struct(fields) => fields
                    .iter()
                    .map(|f| Arc::new(f.as_ref().clone().with_nullable(true)))
                    .collect::<Fields>(),
                other => {
                    return Err(Error::analysis(
                        "INVALID_SCHEMA.NON_STRUCT_TYPE",
                        format!("the schema of from_csv must be a struct, got {other}"),
                    ));
                }
            };
            let udf = ScalarUDF::new_from_impl(CsvText {
                to_text: false,
                options,
                fields,
                tz: cx.tz.to_string(),
                signature: Signature::any(1, Volatility::Immutable),
            });
            let input = cast(args[0].expr.clone(), DataType::Utf8);
            (udf.call(vec![input]), format!("from_csv({})", args[0].name))
        }
        _ => {
            let fields = match super::arg_type(&args[0], cx)? {
                DataType::Struct(fields) => fields,
                other => {
                    return Err(Error::analysis(
                        "DATATYPE_MISMATCH.UNEXPECTED_INPUT_TYPE",
                        format!(
                            "to_csv takes a struct, got {}",
                            crate::types::sql_string(&other)
                        ),
                    ));
                }
            };
            let udf = ScalarUDF::new_from_impl(CsvText {
                to_text: true,
                options,
                fields,
                tz: cx.tz.to_string(),
                signature: Signature::any(1, Volatility::Immutable),
            });
            (
                udf.call(vec![args[0].expr.clone()]),
                default_name(name, &args[..1], false),
            )
        }
    }))
}

/// Spark's CSV inference of one field's type, widened over the record: DDL text.
fn infer(record: &[Option<String>]) -> String {
    let types: Vec<String> = record
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let t = match f.as_deref().map(str::trim) {
                None | Some("") => "STRING",
                Some(v) if v.parse::<i32>().is_ok() => "INT",
                Some(v) if v.parse::<i64>().is_ok() => "BIGINT",
                Some(v) if super::cast::parse_double(v).is_some() => "DOUBLE",
                Some(v) if v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("false") => {
                    "BOOLEAN"
                }
                Some(v)
                    if spate_common::datetime_pattern::parse_spark_default(v, false).is_some()
                        && v.contains(':') =>
                {
                    "TIMESTAMP"
                }
                Some(_) => "STRING",
            };
            format!("_c{i}: {t}")
        })
        .collect();
    format!("STRUCT<{}>", types.join(", "))
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct CsvText {
    /// `to_csv` (a struct to text) rather than `from_csv`.
    to_text: bool,
    options: CsvOptions,
    fields: Fields,
    tz: String,
    signature: Signature,
}

impl ScalarUDFImpl for CsvText {
    fn name(&self) -> &str {
        if self.to_text { "to_csv" } else { "from_csv" }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DfResult<DataType> {
        Ok(if self.to_text {
            DataType::Utf8
        } else {
            DataType::Struct(self.fields.clone())
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let input = args.args[0].to_array(args.number_rows)?;
        if self.to_text {
            let structs = input.as_struct();
            let mut out = StringBuilder::new();
            for r in 0..structs.len() {
                if structs.is_null(r) {
                    out.append_null();
                    continue;
                }
                let parts: Vec<String> = structs
                    .columns()
                    .iter()
                    .map(|c| {
                        if c.is_null(r) {
                            String::new()
                        } else {
                            self.options
                                .field(&crate::display::format_cell(c, r, &self.tz))
                        }
                    })
                    .collect();
                out.append_value(parts.join(&(self.options.sep as char).to_string()));
            }
            return Ok(ColumnarValue::Array(Arc::new(out.finish())));
        }
        let texts = input.as_string::<i32>();
        let records: Vec<Option<Vec<Option<String>>>> = (0..texts.len())
            .map(|r| (!texts.is_null(r)).then(|| self.options.record(texts.value(r))))
            .collect();
        let safe = CastOptions {
            safe: true,
            ..Default::default()
        };
        let columns = self
            .fields
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let strings: StringArray = records
                    .iter()
                    .map(|rec| rec.as_ref().and_then(|fs| fs.get(i).cloned().flatten()))
                    .collect();
                cast_with_options(&strings, f.data_type(), &safe)
            })
            .collect::<std::result::Result<Vec<ArrayRef>, _>>()?;
        let nulls = NullBuffer::from(records.iter().map(Option::is_some).collect::<Vec<_>>());
        let out = StructArray::try_new(self.fields.clone(), columns, Some(nulls))?;
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(pairs: &[(&str, &str)]) -> CsvOptions {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        CsvOptions::from_pairs("t", &pairs).unwrap_or_else(|_| CsvOptions {
            sep: 0,
            quote: 0,
            trim_leading: false,
            trim_trailing: false,
            null_value: String::new(),
        })
    }

    #[test]
    fn reads_and_infers_as_spark_documents() {
        let o = options(&[]);
        assert_eq!(
            o.record("1,2,"),
            vec![Some("1".into()), Some("2".into()), None]
        );
        assert_eq!(
            options(&[("ignoreLeadingWhiteSpace", "true")]).record("   abc"),
            vec![Some("abc".into())]
        );
        let pipes = options(&[("sep", "|")]);
        assert_eq!(
            infer(&pipes.record("1|a|true")),
            "STRUCT<_c0: INT, _c1: STRING, _c2: BOOLEAN>"
        );
        assert_eq!(
            infer(&pipes.record("1||true")),
            "STRUCT<_c0: INT, _c1: STRING, _c2: BOOLEAN>"
        );
        assert_eq!(
            infer(&o.record("\"1\",\"a\",\"true\"")),
            "STRUCT<_c0: INT, _c1: STRING, _c2: BOOLEAN>"
        );
        assert_eq!(
            infer(&o.record("3000000000,1.5")),
            "STRUCT<_c0: BIGINT, _c1: DOUBLE>"
        );
    }

    #[test]
    fn writes_fields_as_spark_does() {
        let o = options(&[]);
        assert_eq!(o.field("Alice"), "Alice");
        assert_eq!(o.field("[100, 200, 300]"), "\"[100, 200, 300]\"");
        assert_eq!(o.field("say \"hi\""), "\"say \\\"hi\\\"\"");
    }
}
