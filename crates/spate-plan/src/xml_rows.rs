//! Rows as XML, as Spark's XML data source reads and writes them (used by `from_xml`,
//! `schema_of_xml`, `to_xml`, the `xml` reader and writer, and `spark.read.xml(df)`).
//!
//! A row is one element (the `rowTag`). Reading infers each field's type from its text —
//! BIGINT, DOUBLE, BOOLEAN, DATE, TIMESTAMP (ISO forms), else STRING — and a row's type is a
//! struct of its attributes (`_name`, after `attributePrefix`), its child elements (an array
//! where an element repeats) and, when it has both text and other fields, the text as
//! `_VALUE` (`valueTag`); fields are sorted by name, and types of several rows merge (BIGINT
//! and DOUBLE to DOUBLE, DATE and TIMESTAMP to TIMESTAMP, anything else unequal to STRING).
//! Values are read by schema through JSON into Arrow (a value that does not fit is null, as
//! in Spark's PERMISSIVE mode). Writing puts fields with the attribute prefix on the start tag,
//! nulls nowhere, array elements as repeated elements, four spaces a level.

use std::collections::BTreeMap;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StructArray};
use datafusion::arrow::datatypes::{DataType, Field, Fields, TimeUnit};
use datafusion::scalar::ScalarValue;
use serde_json::Value;
use spate_common::datetime_pattern::DateTimePattern;

/// The XML options Spark's data source and functions take.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct XmlOptions {
    /// The element of one row (`rowTag`; `ROW` by default).
    pub row_tag: String,
    /// The element around the rows of a written file (`rootTag`; `ROWS`).
    pub root_tag: String,
    /// What attribute field names start with (`attributePrefix`; `_`).
    pub attribute_prefix: String,
    /// The field of an element's text beside other fields (`valueTag`; `_VALUE`).
    pub value_tag: String,
    /// Whether attributes are left out (`excludeAttribute`).
    pub exclude_attributes: bool,
}

impl XmlOptions {
    /// The options from Spark's (case-insensitive) keys.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut o = XmlOptions {
            row_tag: "ROW".into(),
            root_tag: "ROWS".into(),
            attribute_prefix: "_".into(),
            value_tag: "_VALUE".into(),
            exclude_attributes: false,
        };
        for (k, v) in pairs {
            match k.to_ascii_lowercase().as_str() {
                "rowtag" => o.row_tag = v.to_string(),
                "roottag" => o.root_tag = v.to_string(),
                "attributeprefix" => o.attribute_prefix = v.to_string(),
                "valuetag" => o.value_tag = v.to_string(),
                "excludeattribute" => o.exclude_attributes = v.eq_ignore_ascii_case("true"),
                _ => {}
            }
        }
        o
    }
}

/// An element: its attributes, child elements and text.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Element {
    pub name: String,
    pub attributes: Vec<(String, String)>,
    pub children: Vec<Element>,
    pub text: String,
}

fn element_of(e: sxd_document::dom::Element<'_>) -> Element {
    use sxd_document::dom::ChildOfElement;
    let mut out = Element {
        name: e.name().local_part().to_string(),
        attributes: e
            .attributes()
            .iter()
            .map(|a| (a.name().local_part().to_string(), a.value().to_string()))
            .collect(),
        ..Element::default()
    };
    for child in e.children() {
        match child {
            ChildOfElement::Element(c) => out.children.push(element_of(c)),
            ChildOfElement::Text(t) => out.text.push_str(t.text()),
            _ => {}
        }
    }
    out
}

/// The root element of an XML text; `Err` with the parser's complaint when it is no XML.
pub fn parse_element(text: &str) -> Result<Element, String> {
    use sxd_document::dom::ChildOfRoot;
    let package = sxd_document::parser::parse(text).map_err(|e| format!("{e:?}"))?;
    let doc = package.as_document();
    doc.root()
        .children()
        .into_iter()
        .find_map(|c| match c {
            ChildOfRoot::Element(e) => Some(element_of(e)),
            _ => None,
        })
        .ok_or_else(|| "no element".to_string())
}

/// The elements named `tag` in a document, outermost first in document order.
pub fn records(text: &str, tag: &str) -> Result<Vec<Element>, String> {
    fn walk(e: Element, tag: &str, out: &mut Vec<Element>) {
        if e.name == tag {
            out.push(e);
        } else {
            for c in e.children {
                walk(c, tag, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(parse_element(text)?, tag, &mut out);
    Ok(out)
}

/// The type Spark infers from a value's text.
fn infer_text(text: &str) -> DataType {
    let t = text.trim();
    if t.is_empty() {
        DataType::Null
    } else if t.parse::<i64>().is_ok() {
        DataType::Int64
    } else if t.parse::<f64>().is_ok() && !t.chars().any(char::is_alphabetic) || is_float_word(t) {
        DataType::Float64
    } else if t.eq_ignore_ascii_case("true") || t.eq_ignore_ascii_case("false") {
        DataType::Boolean
    } else if chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d").is_ok() {
        DataType::Date32
    } else if t.contains('T')
        && (chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f").is_ok()
            || chrono::DateTime::parse_from_rfc3339(t).is_ok())
    {
        DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
    } else {
        DataType::Utf8
    }
}

fn is_float_word(t: &str) -> bool {
    let t = t.strip_prefix(['+', '-']).unwrap_or(t);
    let mantissa = t.split(['e', 'E']).next().unwrap_or("");
    (t.contains(['e', 'E']) || t.contains('.'))
        && t.parse::<f64>().is_ok()
        && mantissa.chars().all(|c| c.is_ascii_digit() || c == '.')
}

/// The type of an element's content; `record` for a row, which is always a struct.
pub fn infer(e: &Element, o: &XmlOptions, record: bool) -> DataType {
    let attributes = if o.exclude_attributes {
        &[][..]
    } else {
        &e.attributes[..]
    };
    if !record && attributes.is_empty() && e.children.is_empty() {
        return infer_text(&e.text);
    }
    let mut fields: BTreeMap<String, (DataType, usize)> = BTreeMap::new();
    for (name, value) in attributes {
        fields.insert(
            format!("{}{name}", o.attribute_prefix),
            (infer_text(value), 1),
        );
    }
    for c in &e.children {
        let t = infer(c, o, false);
        let entry = fields.entry(c.name.clone()).or_insert((DataType::Null, 0));
        entry.0 = merge(std::mem::replace(&mut entry.0, DataType::Null), t);
        entry.1 += 1;
    }
    if !e.text.trim().is_empty() {
        fields.insert(o.value_tag.clone(), (infer_text(&e.text), 1));
    }
    let fields: Vec<Field> = fields
        .into_iter()
        .map(|(name, (t, n))| {
            let t = if n > 1 { list(t) } else { t };
            Field::new(name, t, true)
        })
        .collect();
    DataType::Struct(Fields::from(fields))
}

fn list(t: DataType) -> DataType {
    DataType::List(std::sync::Arc::new(Field::new("element", t, true)))
}

/// The common type of two inferred types.
pub fn merge(a: DataType, b: DataType) -> DataType {
    use DataType::*;
    match (a, b) {
        (a, b) if a == b => a,
        (Null, t) | (t, Null) => t,
        (Int64, Float64) | (Float64, Int64) => Float64,
        (Date32, t @ Timestamp(..)) | (t @ Timestamp(..), Date32) => t,
        (List(x), List(y)) => list(merge(x.data_type().clone(), y.data_type().clone())),
        (List(x), t) | (t, List(x)) => list(merge(x.data_type().clone(), t)),
        (Struct(x), Struct(y)) => {
            let mut fields: BTreeMap<String, DataType> = BTreeMap::new();
            for f in x.iter().chain(y.iter()) {
                let have = fields.remove(f.name()).unwrap_or(Null);
                fields.insert(f.name().clone(), merge(have, f.data_type().clone()));
            }
            Struct(Fields::from(
                fields
                    .into_iter()
                    .map(|(n, t)| Field::new(n, t, true))
                    .collect::<Vec<_>>(),
            ))
        }
        _ => Utf8,
    }
}

/// `t` with the types nothing was inferred for (no text anywhere) as STRING, and timestamps
/// in the session zone `tz`.
pub fn finish(t: DataType, tz: &str) -> DataType {
    match t {
        DataType::Null => DataType::Utf8,
        DataType::Timestamp(unit, Some(_)) => DataType::Timestamp(unit, Some(tz.into())),
        DataType::List(f) => list(finish(f.data_type().clone(), tz)),
        DataType::Struct(fields) => DataType::Struct(Fields::from(
            fields
                .iter()
                .map(|f| Field::new(f.name(), finish(f.data_type().clone(), tz), true))
                .collect::<Vec<_>>(),
        )),
        other => other,
    }
}

/// An element's content as the JSON value of type `t`, for Arrow's JSON decoder.
pub fn to_json(e: &Element, t: &DataType, o: &XmlOptions) -> Value {
    match t {
        DataType::Struct(fields) => {
            let mut out = serde_json::Map::new();
            for f in fields {
                let name = f.name();
                let value = if *name == o.value_tag {
                    let text = e.text.trim();
                    (!text.is_empty()).then(|| text_value(text, f.data_type()))
                } else if let Some(attr) = name.strip_prefix(o.attribute_prefix.as_str())
                    && let Some((_, v)) = e.attributes.iter().find(|(k, _)| k == attr)
                {
                    Some(text_value(v, f.data_type()))
                } else {
                    let matching: Vec<&Element> =
                        e.children.iter().filter(|c| c.name == *name).collect();
                    match (f.data_type(), matching.as_slice()) {
                        (_, []) => None,
                        (DataType::List(item), many) => Some(Value::Array(
                            many.iter()
                                .map(|c| to_json(c, item.data_type(), o))
                                .collect(),
                        )),
                        (t, [first, ..]) => Some(to_json(first, t, o)),
                    }
                };
                if let Some(v) = value {
                    out.insert(name.clone(), v);
                }
            }
            Value::Object(out)
        }
        DataType::List(item) => Value::Array(vec![to_json(e, item.data_type(), o)]),
        other => {
            let text = e.text.trim();
            if text.is_empty() {
                Value::Null
            } else {
                text_value(text, other)
            }
        }
    }
}

/// A text as the JSON value of type `t`; null where it does not read as one.
fn text_value(text: &str, t: &DataType) -> Value {
    let text = text.trim();
    match t {
        t if t.is_integer() => text.parse::<i64>().map_or(Value::Null, Value::from),
        DataType::Float32 | DataType::Float64 => {
            text.parse::<f64>().map_or(Value::Null, Value::from)
        }
        DataType::Decimal128(..) => text
            .parse::<f64>()
            .map_or(Value::Null, |_| Value::String(text.to_string())),
        DataType::Boolean => match text.to_ascii_lowercase().as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => Value::Null,
        },
        _ => Value::String(text.to_string()),
    }
}

/// The rows of `elements` as a batch of `schema`, or of the schema inferred from them (the
/// `xml` reader, `spark.read.xml(df)`).
pub fn rows_batch(
    elements: &[Element],
    schema: Option<datafusion::arrow::datatypes::SchemaRef>,
    o: &XmlOptions,
    tz: &str,
) -> spate_common::Result<datafusion::arrow::array::RecordBatch> {
    use datafusion::arrow::datatypes::Schema;
    let schema = match schema {
        Some(s) => s,
        None => {
            let inferred = elements
                .iter()
                .map(|e| infer(e, o, true))
                .reduce(merge)
                .unwrap_or(DataType::Struct(Fields::empty()));
            let DataType::Struct(fields) = finish(inferred, tz) else {
                return Err(spate_common::Error::internal("a row's type is a struct"));
            };
            std::sync::Arc::new(Schema::new(fields))
        }
    };
    let t = DataType::Struct(schema.fields().clone());
    let rows: Vec<Value> = elements.iter().map(|e| to_json(e, &t, o)).collect();
    let mut decoder = datafusion::arrow::json::ReaderBuilder::new(schema.clone())
        .build_decoder()
        .map_err(|e| spate_common::Error::internal(e.to_string()))?;
    decoder
        .serialize(&rows)
        .map_err(|e| spate_common::Error::analysis("MALFORMED_RECORD_IN_PARSING", e.to_string()))?;
    Ok(decoder
        .flush()
        .map_err(|e| spate_common::Error::analysis("MALFORMED_RECORD_IN_PARSING", e.to_string()))?
        .unwrap_or_else(|| datafusion::arrow::array::RecordBatch::new_empty(schema)))
}

/// Writes row `row` of a struct column as the element `tag`, `depth` levels in.
pub fn write_row(
    column: &StructArray,
    row: usize,
    tag: &str,
    depth: usize,
    o: &XmlOptions,
    timestamps: &DateTimePattern,
    tz: &str,
) -> String {
    let mut out = String::new();
    write_struct(column, row, tag, depth, o, timestamps, tz, &mut out);
    out
}

#[expect(
    clippy::too_many_arguments,
    reason = "one recursive writer of one element"
)]
fn write_struct(
    column: &StructArray,
    row: usize,
    tag: &str,
    depth: usize,
    o: &XmlOptions,
    timestamps: &DateTimePattern,
    tz: &str,
    out: &mut String,
) {
    let pad = "    ".repeat(depth);
    out.push_str(&format!("{pad}<{tag}"));
    let mut body = Vec::new();
    let mut text = None;
    for (f, c) in column.fields().iter().zip(column.columns()) {
        if c.is_null(row) {
            continue;
        }
        if *f.name() == o.value_tag {
            text = Some(leaf_text(c, row, timestamps, tz));
        } else if let Some(attr) = f.name().strip_prefix(o.attribute_prefix.as_str())
            && !o.attribute_prefix.is_empty()
        {
            let v = escape(&leaf_text(c, row, timestamps, tz)).replace('"', "&quot;");
            out.push_str(&format!(" {attr}=\"{v}\""));
        } else {
            body.push((f.name().clone(), c.clone()));
        }
    }
    if body.is_empty() {
        match text {
            Some(t) => out.push_str(&format!(">{}</{tag}>", escape(&t))),
            None => out.push_str("/>"),
        }
        return;
    }
    out.push('>');
    if let Some(t) = text {
        out.push_str(&escape(&t));
    }
    for (name, c) in body {
        write_value(&c, row, &name, depth + 1, o, timestamps, tz, out);
    }
    out.push_str(&format!("\n{pad}</{tag}>"));
}

#[expect(
    clippy::too_many_arguments,
    reason = "one recursive writer of one element"
)]
fn write_value(
    c: &ArrayRef,
    row: usize,
    name: &str,
    depth: usize,
    o: &XmlOptions,
    timestamps: &DateTimePattern,
    tz: &str,
    out: &mut String,
) {
    if c.is_null(row) {
        return;
    }
    match c.data_type() {
        DataType::Struct(_) => {
            out.push('\n');
            write_struct(c.as_struct(), row, name, depth, o, timestamps, tz, out);
        }
        DataType::List(_) => {
            let items = c.as_list::<i32>().value(row);
            for i in 0..items.len() {
                write_value(&items, i, name, depth, o, timestamps, tz, out);
            }
        }
        _ => {
            let pad = "    ".repeat(depth);
            let v = escape(&leaf_text(c, row, timestamps, tz));
            out.push_str(&format!("\n{pad}<{name}>{v}</{name}>"));
        }
    }
}

/// A leaf value's text: timestamps by the `timestampFormat` pattern in the session zone,
/// anything else as Spark prints it.
fn leaf_text(c: &ArrayRef, row: usize, timestamps: &DateTimePattern, tz: &str) -> String {
    let Ok(v) = ScalarValue::try_from_array(c, row) else {
        return String::new();
    };
    if let ScalarValue::TimestampMicrosecond(Some(us), zone) = &v
        && let Some(utc) = chrono::DateTime::from_timestamp_micros(*us)
    {
        use chrono::{Offset, TimeZone};
        return match (zone, tz.parse::<chrono_tz::Tz>()) {
            (Some(_), Ok(z)) => {
                let local = z.from_utc_datetime(&utc.naive_utc());
                timestamps.format(local.naive_local(), local.offset().fix().local_minus_utc())
            }
            _ => timestamps.format(utc.naive_utc(), 0),
        };
    }
    crate::display::format_scalar(&v, tz)
}

/// XML text escaping as Spark's writer does it (`<` and `&`).
fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> XmlOptions {
        XmlOptions::from_pairs([])
    }

    #[test]
    fn infers_sparks_types() {
        let e = parse_element(
            r#"<p><a>1</a><b>1.5</b><c>true</c><d>x</d><e>2024-01-01</e><g></g><h attr="1">t</h><i><j>1</j><j>2.5</j></i></p>"#,
        )
        .unwrap_or_default();
        let t = finish(infer(&e, &options(), true), "UTC");
        assert_eq!(
            crate::types::sql_string(&t),
            "STRUCT<a: BIGINT, b: DOUBLE, c: BOOLEAN, d: STRING, e: DATE, g: STRING, h: STRUCT<_VALUE: STRING, _attr: BIGINT>, i: STRUCT<j: ARRAY<DOUBLE>>>"
        );
        let p = parse_element("<p>5</p>").unwrap_or_default();
        assert_eq!(
            crate::types::sql_string(&infer(&p, &options(), true)),
            "STRUCT<_VALUE: BIGINT>"
        );
    }

    #[test]
    fn finds_rows_anywhere() {
        let rows = records(
            r#"<root><person id="1"><name>Al</name></person><other/><x><person id="2"/></x></root>"#,
            "person",
        );
        assert_eq!(rows.map(|r| r.len()), Ok(2));
        assert!(parse_element("<p><a>1</a>").is_err());
    }
}
