//! Spark's VARIANT values as text and back, on the binary encoding of the Parquet variant
//! spec (which is Spark's own; the `parquet-variant` crate reads and writes it).
//!
//! `parse_json` reads JSON as Spark's `VariantBuilder` does over Jackson: an integer is the
//! smallest integer type that holds it, a number written without exponent whose digits fit 38
//! is a decimal with its written scale (`1.50` is decimal(3,2)), any other number a double; an
//! object key given twice is `VARIANT_DUPLICATE_KEY`, and nesting past Jackson's 1000 levels
//! is malformed; text after the first value is not read. `to_json` writes a value as Spark's `VariantUtil.toJson`: object fields in
//! key order (the encoding keeps them sorted), doubles as Java prints them, decimals in plain
//! notation without trailing zeros, dates and timestamps quoted (timestamps in the session
//! zone with their offset), binary as quoted base64. `schema_of` gives a value's Spark type
//! as `schema_of_variant` prints it (`OBJECT<a: BIGINT>`), and `merge` unites two such types
//! as `schema_of_variant_agg` and arrays do.

use std::collections::HashSet;

use base64::Engine;
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone};
use datafusion::arrow::array::{Array, AsArray, StructArray};
use datafusion::arrow::error::ArrowError;
use parquet_variant::{
    ObjectFieldBuilder, Variant, VariantBuilder, VariantBuilderExt, VariantDecimal4,
    VariantDecimal8, VariantDecimal16,
};

use crate::java_text::{java_double, java_float};

/// Jackson's default limit of nested arrays and objects.
const MAX_DEPTH: usize = 1000;

/// Spark's largest variant value or metadata (`VARIANT_SIZE_LIMIT`): 16 MiB.
pub(crate) const SIZE_LIMIT: usize = 16 * 1024 * 1024;

/// A value on its way into the variant encoding: JSON's values, and the typed leaves a
/// column's value may bring (`to_variant_object`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tree {
    Null,
    Bool(bool),
    Int(i64),
    /// Unscaled digits and scale.
    Decimal(i128, u8),
    Float(f32),
    Double(f64),
    Str(String),
    Binary(Vec<u8>),
    Date(NaiveDate),
    /// Microseconds since the epoch; `true` for a timestamp without time zone.
    Timestamp(i64, bool),
    Array(Vec<Tree>),
    Object(Vec<(String, Tree)>),
}

/// Why a text is not a variant.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Fault {
    /// Not JSON (what is wrong, for the message).
    Malformed(String),
    /// An object key given twice.
    DuplicateKey(String),
    /// Past Spark's size limit.
    TooLarge,
}

/// Parses JSON text as Spark's `parse_json` does.
pub(crate) fn parse(text: &str) -> Result<Tree, Fault> {
    let mut p = Parser {
        s: text.as_bytes(),
        at: 0,
    };
    p.skip_space();
    // as Spark's builder, which reads one value and leaves the rest of the text unread
    p.value(0)
}

struct Parser<'a> {
    s: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn fault(&self, what: &str) -> Fault {
        Fault::Malformed(format!("{what} at character {}", self.at + 1))
    }

    fn skip_space(&mut self) {
        while self
            .s
            .get(self.at)
            .is_some_and(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r'))
        {
            self.at += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.at).copied()
    }

    fn expect(&mut self, word: &str) -> Result<(), Fault> {
        if self.s[self.at..].starts_with(word.as_bytes()) {
            self.at += word.len();
            Ok(())
        } else {
            Err(self.fault("unrecognized token"))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Tree, Fault> {
        if depth > MAX_DEPTH {
            return Err(self.fault("nesting deeper than 1000"));
        }
        match self.peek() {
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => self.string().map(Tree::Str),
            Some(b't') => self.expect("true").map(|()| Tree::Bool(true)),
            Some(b'f') => self.expect("false").map(|()| Tree::Bool(false)),
            Some(b'n') => self.expect("null").map(|()| Tree::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.fault("unexpected character")),
            None => Err(self.fault("unexpected end of input")),
        }
    }

    fn object(&mut self, depth: usize) -> Result<Tree, Fault> {
        self.at += 1;
        let mut fields = Vec::new();
        let mut seen = HashSet::new();
        self.skip_space();
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Ok(Tree::Object(fields));
        }
        loop {
            self.skip_space();
            if self.peek() != Some(b'"') {
                return Err(self.fault("expected a double-quoted field name"));
            }
            let key = self.string()?;
            self.skip_space();
            if self.peek() != Some(b':') {
                return Err(self.fault("expected ':'"));
            }
            self.at += 1;
            self.skip_space();
            let value = self.value(depth + 1)?;
            if !seen.insert(key.clone()) {
                return Err(Fault::DuplicateKey(key));
            }
            fields.push((key, value));
            self.skip_space();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b'}') => {
                    self.at += 1;
                    return Ok(Tree::Object(fields));
                }
                _ => return Err(self.fault("expected ',' or '}'")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Tree, Fault> {
        self.at += 1;
        let mut items = Vec::new();
        self.skip_space();
        if self.peek() == Some(b']') {
            self.at += 1;
            return Ok(Tree::Array(items));
        }
        loop {
            self.skip_space();
            items.push(self.value(depth + 1)?);
            self.skip_space();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b']') => {
                    self.at += 1;
                    return Ok(Tree::Array(items));
                }
                _ => return Err(self.fault("expected ',' or ']'")),
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, Fault> {
        let digits = self
            .s
            .get(self.at..self.at + 4)
            .and_then(|d| std::str::from_utf8(d).ok())
            .and_then(|d| u32::from_str_radix(d, 16).ok())
            .ok_or_else(|| self.fault("bad \\u escape"))?;
        self.at += 4;
        Ok(digits)
    }

    fn string(&mut self) -> Result<String, Fault> {
        self.at += 1;
        let mut out: Vec<u8> = Vec::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(self.fault("unterminated string"));
            };
            self.at += 1;
            match c {
                b'"' => break,
                b'\\' => {
                    let Some(e) = self.peek() else {
                        return Err(self.fault("unterminated string"));
                    };
                    self.at += 1;
                    let ch = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let hi = self.hex4()?;
                            let code = if (0xD800..0xDC00).contains(&hi)
                                && self.s[self.at..].starts_with(b"\\u")
                            {
                                self.at += 2;
                                let lo = self.hex4()?;
                                0x10000 + ((hi - 0xD800) << 10) + (lo.wrapping_sub(0xDC00) & 0x3FF)
                            } else {
                                hi
                            };
                            char::from_u32(code).unwrap_or('\u{FFFD}')
                        }
                        _ => return Err(self.fault("unrecognized escape")),
                    };
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                }
                c if c < 0x20 => return Err(self.fault("unescaped control character")),
                c => out.push(c),
            }
        }
        String::from_utf8(out).map_err(|_| self.fault("invalid UTF-8"))
    }

    fn number(&mut self) -> Result<Tree, Fault> {
        let start = self.at;
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        let int_start = self.at;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.at += 1;
        }
        let int_digits = &self.s[int_start..self.at];
        if int_digits.is_empty() || (int_digits.len() > 1 && int_digits[0] == b'0') {
            return Err(self.fault("invalid number"));
        }
        let mut plain = true;
        if self.peek() == Some(b'.') {
            self.at += 1;
            let frac = self.at;
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.at += 1;
            }
            if self.at == frac {
                return Err(self.fault("invalid number"));
            }
            plain = false;
        }
        let mut exponent = false;
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.at += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.at += 1;
            }
            let digits = self.at;
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.at += 1;
            }
            if self.at == digits {
                return Err(self.fault("invalid number"));
            }
            exponent = true;
        }
        let text = std::str::from_utf8(&self.s[start..self.at])
            .map_err(|_| self.fault("invalid number"))?;
        if plain
            && !exponent
            && let Ok(i) = text.parse::<i64>()
        {
            return Ok(Tree::Int(i));
        }
        if !exponent && let Some(d) = decimal_of(text) {
            return Ok(d);
        }
        text.parse::<f64>()
            .map(Tree::Double)
            .map_err(|_| self.fault("invalid number"))
    }
}

/// A number written as digits with an optional point, as a decimal when its precision and
/// scale fit 38.
fn decimal_of(text: &str) -> Option<Tree> {
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    let digits = format!("{int}{frac}");
    let significant = digits.trim_start_matches('0');
    if significant.len() > 38 || frac.len() > 38 {
        return None;
    }
    let unscaled: i128 = if significant.is_empty() {
        0
    } else {
        significant.parse().ok()?
    };
    Some(Tree::Decimal(
        if negative { -unscaled } else { unscaled },
        frac.len() as u8,
    ))
}

/// The digits of a decimal's unscaled value (1 for zero): its precision.
pub(crate) fn precision(unscaled: i128) -> u32 {
    unscaled
        .unsigned_abs()
        .checked_ilog10()
        .map_or(1, |d| d + 1)
}

/// Appends `tree` to a variant builder.
pub(crate) fn append<B: VariantBuilderExt>(b: &mut B, tree: &Tree) -> Result<(), ArrowError> {
    match tree {
        Tree::Null => b.append_value(Variant::Null),
        Tree::Bool(v) => b.append_value(*v),
        Tree::Int(i) => match (i8::try_from(*i), i16::try_from(*i), i32::try_from(*i)) {
            (Ok(v), _, _) => b.append_value(v),
            (_, Ok(v), _) => b.append_value(v),
            (_, _, Ok(v)) => b.append_value(v),
            _ => b.append_value(*i),
        },
        Tree::Decimal(unscaled, scale) => {
            let wide = precision(*unscaled).max(u32::from(*scale));
            if wide <= 9 {
                b.append_value(VariantDecimal4::try_new(*unscaled as i32, *scale)?)
            } else if wide <= 18 {
                b.append_value(VariantDecimal8::try_new(*unscaled as i64, *scale)?)
            } else {
                b.append_value(VariantDecimal16::try_new(*unscaled, *scale)?)
            }
        }
        Tree::Float(f) => b.append_value(*f),
        Tree::Double(d) => b.append_value(*d),
        Tree::Str(s) => b.append_value(s.as_str()),
        Tree::Binary(bytes) => b.append_value(bytes.as_slice()),
        Tree::Date(d) => b.append_value(*d),
        Tree::Timestamp(us, ntz) => {
            let t = DateTime::from_timestamp_micros(*us)
                .ok_or_else(|| ArrowError::InvalidArgumentError("timestamp out of range".into()))?;
            if *ntz {
                b.append_value(t.naive_utc())
            } else {
                b.append_value(t)
            }
        }
        Tree::Array(items) => {
            let mut list = b.try_new_list()?;
            for item in items {
                append(&mut list, item)?;
            }
            list.finish();
        }
        Tree::Object(fields) => {
            let mut object = b.try_new_object()?;
            for (key, value) in fields {
                let mut field = ObjectFieldBuilder::new(key, &mut object);
                append(&mut field, value)?;
            }
            object.finish();
        }
    }
    Ok(())
}

/// Encodes `tree` as a variant: its `(value, metadata)` bytes.
pub(crate) fn encode(tree: &Tree) -> Result<(Vec<u8>, Vec<u8>), Fault> {
    let mut builder = VariantBuilder::new();
    append(&mut builder, tree).map_err(|e| Fault::Malformed(e.to_string()))?;
    let (metadata, value) = builder.finish();
    if value.len() > SIZE_LIMIT || metadata.len() > SIZE_LIMIT {
        return Err(Fault::TooLarge);
    }
    Ok((value, metadata))
}

/// Row `row` of a VARIANT column (see `type_build::variant`) as a variant; `None` for a null
/// row or bytes that are no variant.
pub(crate) fn variant_at(column: &StructArray, row: usize) -> Option<Variant<'_, '_>> {
    if column.is_null(row) {
        return None;
    }
    let value = column.column(0).as_binary_opt::<i32>()?.value(row);
    let metadata = column.column(1).as_binary_opt::<i32>()?.value(row);
    Variant::try_new(metadata, value).ok()
}

/// Row `row` of a VARIANT column as JSON text (how `show()` and casts to string print it).
pub(crate) fn cell_json(column: &StructArray, row: usize, tz: &str) -> Option<String> {
    let v = variant_at(column, row)?;
    let mut out = String::new();
    to_json(&v, tz, &mut out);
    Some(out)
}

/// The JSON text of a variant value, as Spark's `to_json` writes it.
pub(crate) fn to_json(v: &Variant<'_, '_>, tz: &str, out: &mut String) {
    match v {
        Variant::Null => out.push_str("null"),
        Variant::BooleanTrue => out.push_str("true"),
        Variant::BooleanFalse => out.push_str("false"),
        Variant::Int8(i) => out.push_str(&i.to_string()),
        Variant::Int16(i) => out.push_str(&i.to_string()),
        Variant::Int32(i) => out.push_str(&i.to_string()),
        Variant::Int64(i) => out.push_str(&i.to_string()),
        Variant::Float(f) => out.push_str(&java_float(*f)),
        Variant::Double(d) => out.push_str(&java_double(*d)),
        Variant::Decimal4(d) => out.push_str(&plain_decimal(i128::from(d.integer()), d.scale())),
        Variant::Decimal8(d) => out.push_str(&plain_decimal(i128::from(d.integer()), d.scale())),
        Variant::Decimal16(d) => out.push_str(&plain_decimal(d.integer(), d.scale())),
        Variant::String(s) => quote(s, out),
        Variant::ShortString(s) => quote(s.as_str(), out),
        Variant::Binary(b) => quote(&base64::engine::general_purpose::STANDARD.encode(b), out),
        Variant::Date(d) => quote(&d.format("%Y-%m-%d").to_string(), out),
        Variant::TimestampMicros(t) | Variant::TimestampNanos(t) => {
            quote(&zoned_timestamp(t, tz), out)
        }
        Variant::TimestampNtzMicros(t) | Variant::TimestampNtzNanos(t) => {
            quote(&local_timestamp(t), out)
        }
        Variant::Time(t) => quote(&t.format("%H:%M:%S%.f").to_string(), out),
        Variant::Uuid(u) => quote(&u.to_string(), out),
        Variant::Object(o) => {
            out.push('{');
            for (i, (key, value)) in o.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                quote(key, out);
                out.push(':');
                to_json(&value, tz, out);
            }
            out.push('}');
        }
        Variant::List(l) => {
            out.push('[');
            for (i, value) in l.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                to_json(&value, tz, out);
            }
            out.push(']');
        }
    }
}

fn quote(s: &str, out: &mut String) {
    out.push_str(&serde_json::Value::from(s).to_string());
}

/// A decimal in plain notation without trailing zeros (Java's `stripTrailingZeros()`
/// then `toPlainString()`).
pub(crate) fn plain_decimal(mut unscaled: i128, mut scale: u8) -> String {
    while scale > 0 && unscaled % 10 == 0 {
        unscaled /= 10;
        scale -= 1;
    }
    let digits = unscaled.unsigned_abs().to_string();
    let sign = if unscaled < 0 { "-" } else { "" };
    let scale = usize::from(scale);
    if scale == 0 {
        return format!("{sign}{digits}");
    }
    let padded = format!("{digits:0>width$}", width = scale + 1);
    let (int, frac) = padded.split_at(padded.len() - scale);
    format!("{sign}{int}.{frac}")
}

/// Java's ISO local time: seconds always, the fraction only when there is one, in as few
/// digits as it needs.
fn local_timestamp(t: &NaiveDateTime) -> String {
    let base = t.format("%Y-%m-%d %H:%M:%S").to_string();
    let nanos = t.and_utc().timestamp_subsec_nanos();
    if nanos == 0 {
        base
    } else {
        let frac = format!("{nanos:09}");
        format!("{base}.{}", frac.trim_end_matches('0'))
    }
}

fn zoned_timestamp(t: &DateTime<chrono::Utc>, tz: &str) -> String {
    match tz.parse::<chrono_tz::Tz>() {
        Ok(zone) => {
            let local = zone.from_utc_datetime(&t.naive_utc());
            format!(
                "{}{}",
                local_timestamp(&local.naive_local()),
                local.format("%:z")
            )
        }
        Err(_) => format!("{}+00:00", local_timestamp(&t.naive_utc())),
    }
}

/// A variant value's type, as `schema_of_variant` prints it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Shape {
    Void,
    Boolean,
    Bigint,
    Decimal(u32, u32),
    Float,
    Double,
    String,
    Binary,
    Date,
    Timestamp,
    TimestampNtz,
    Time,
    Uuid,
    Variant,
    Array(Box<Shape>),
    /// Fields by name, in key order.
    Object(Vec<(String, Shape)>),
}

impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Shape::Void => f.write_str("VOID"),
            Shape::Boolean => f.write_str("BOOLEAN"),
            Shape::Bigint => f.write_str("BIGINT"),
            Shape::Decimal(p, s) => write!(f, "DECIMAL({p},{s})"),
            Shape::Float => f.write_str("FLOAT"),
            Shape::Double => f.write_str("DOUBLE"),
            Shape::String => f.write_str("STRING"),
            Shape::Binary => f.write_str("BINARY"),
            Shape::Date => f.write_str("DATE"),
            Shape::Timestamp => f.write_str("TIMESTAMP"),
            Shape::TimestampNtz => f.write_str("TIMESTAMP_NTZ"),
            Shape::Time => f.write_str("TIME(6)"),
            Shape::Uuid => f.write_str("UUID"),
            Shape::Variant => f.write_str("VARIANT"),
            Shape::Array(e) => write!(f, "ARRAY<{e}>"),
            Shape::Object(fields) => {
                f.write_str("OBJECT<")?;
                for (i, (name, t)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{}: {t}", quote_if_needed(name))?;
                }
                f.write_str(">")
            }
        }
    }
}

/// A field name as Spark's `quoteIfNeeded` writes it: bare when it is letters, digits and
/// underscores (and not only digits), else in backticks.
fn quote_if_needed(name: &str) -> String {
    let plain = !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !name.bytes().all(|b| b.is_ascii_digit());
    if plain {
        name.to_string()
    } else {
        format!("`{}`", name.replace('`', "``"))
    }
}

impl Shape {
    /// The type as JSON, for an aggregate's state: an object's fields as an object under
    /// `o`, an array's element under `a`, any other type its name.
    pub(crate) fn to_state(&self) -> serde_json::Value {
        use serde_json::{Map, Value};
        match self {
            Shape::Array(e) => Value::Object(Map::from_iter([("a".to_string(), e.to_state())])),
            Shape::Object(fields) => {
                let inner = fields.iter().map(|(k, t)| (k.clone(), t.to_state()));
                Value::Object(Map::from_iter([(
                    "o".to_string(),
                    Value::Object(Map::from_iter(inner)),
                )]))
            }
            leaf => Value::String(leaf.to_string()),
        }
    }

    /// The type from [`Shape::to_state`]'s JSON.
    pub(crate) fn from_state(json: &serde_json::Value) -> Option<Shape> {
        use serde_json::Value;
        Some(match json {
            Value::Object(m) => match (m.get("a"), m.get("o")) {
                (Some(e), _) => Shape::Array(Box::new(Shape::from_state(e)?)),
                (_, Some(Value::Object(fields))) => {
                    let mut out = Vec::with_capacity(fields.len());
                    for (k, t) in fields {
                        out.push((k.clone(), Shape::from_state(t)?));
                    }
                    out.sort_by(|a, b| a.0.cmp(&b.0));
                    Shape::Object(out)
                }
                _ => return None,
            },
            Value::String(name) => match name.as_str() {
                "VOID" => Shape::Void,
                "BOOLEAN" => Shape::Boolean,
                "BIGINT" => Shape::Bigint,
                "FLOAT" => Shape::Float,
                "DOUBLE" => Shape::Double,
                "STRING" => Shape::String,
                "BINARY" => Shape::Binary,
                "DATE" => Shape::Date,
                "TIMESTAMP" => Shape::Timestamp,
                "TIMESTAMP_NTZ" => Shape::TimestampNtz,
                "TIME(6)" => Shape::Time,
                "UUID" => Shape::Uuid,
                "VARIANT" => Shape::Variant,
                other => {
                    let inner = other.strip_prefix("DECIMAL(")?.strip_suffix(')')?;
                    let (p, s) = inner.split_once(',')?;
                    Shape::Decimal(p.parse().ok()?, s.parse().ok()?)
                }
            },
            _ => return None,
        })
    }
}

/// The type of a variant value.
pub(crate) fn schema_of(v: &Variant<'_, '_>) -> Shape {
    // the type of the value without trailing zeros (Spark's `stripTrailingZeros`, never to a
    // negative scale): 1.50 is DECIMAL(2,1), 100.0 DECIMAL(3,0)
    let decimal = |mut unscaled: i128, mut scale: u8| {
        while scale > 0 && unscaled % 10 == 0 {
            unscaled /= 10;
            scale -= 1;
        }
        let scale = u32::from(scale);
        Shape::Decimal(precision(unscaled).max(scale), scale)
    };
    match v {
        Variant::Null => Shape::Void,
        Variant::BooleanTrue | Variant::BooleanFalse => Shape::Boolean,
        Variant::Int8(_) | Variant::Int16(_) | Variant::Int32(_) | Variant::Int64(_) => {
            Shape::Bigint
        }
        Variant::Decimal4(d) => decimal(i128::from(d.integer()), d.scale()),
        Variant::Decimal8(d) => decimal(i128::from(d.integer()), d.scale()),
        Variant::Decimal16(d) => decimal(d.integer(), d.scale()),
        Variant::Float(_) => Shape::Float,
        Variant::Double(_) => Shape::Double,
        Variant::String(_) | Variant::ShortString(_) => Shape::String,
        Variant::Binary(_) => Shape::Binary,
        Variant::Date(_) => Shape::Date,
        Variant::TimestampMicros(_) | Variant::TimestampNanos(_) => Shape::Timestamp,
        Variant::TimestampNtzMicros(_) | Variant::TimestampNtzNanos(_) => Shape::TimestampNtz,
        Variant::Time(_) => Shape::Time,
        Variant::Uuid(_) => Shape::Uuid,
        Variant::List(l) => Shape::Array(Box::new(
            l.iter()
                .map(|e| schema_of(&e))
                .reduce(merge)
                .unwrap_or(Shape::Void),
        )),
        Variant::Object(o) => {
            let mut fields: Vec<(String, Shape)> = o
                .iter()
                .map(|(k, v)| (k.to_string(), schema_of(&v)))
                .collect();
            fields.sort_by(|a, b| a.0.cmp(&b.0));
            Shape::Object(fields)
        }
    }
}

/// The common type of two variant values' types (Spark's `SchemaOfVariant.mergeSchema`):
/// nulls take the other's type, exact numbers widen to a decimal holding both, a double or
/// float with any number is a double, arrays and objects merge inside, anything else is
/// VARIANT.
pub(crate) fn merge(a: Shape, b: Shape) -> Shape {
    let as_decimal = |s: &Shape| match s {
        Shape::Bigint => Some((20, 0)),
        Shape::Decimal(p, s) => Some((*p, *s)),
        _ => None,
    };
    let numeric = |s: &Shape| {
        matches!(
            s,
            Shape::Bigint | Shape::Decimal(..) | Shape::Float | Shape::Double
        )
    };
    match (a, b) {
        (a, b) if a == b => a,
        (Shape::Void, other) | (other, Shape::Void) => other,
        (Shape::Array(x), Shape::Array(y)) => Shape::Array(Box::new(merge(*x, *y))),
        (Shape::Object(x), Shape::Object(y)) => {
            let mut fields = x;
            for (name, t) in y {
                match fields.iter_mut().find(|(n, _)| *n == name) {
                    Some((_, have)) => *have = merge(std::mem::replace(have, Shape::Void), t),
                    None => fields.push((name, t)),
                }
            }
            fields.sort_by(|a, b| a.0.cmp(&b.0));
            Shape::Object(fields)
        }
        (Shape::Timestamp, Shape::TimestampNtz) | (Shape::TimestampNtz, Shape::Timestamp) => {
            Shape::Timestamp
        }
        (a, b) => match (as_decimal(&a), as_decimal(&b)) {
            (Some((p1, s1)), Some((p2, s2))) => {
                let scale = s1.max(s2);
                let int = (p1 - s1).max(p2 - s2);
                if int + scale > 38 {
                    Shape::Double
                } else {
                    Shape::Decimal(int + scale, scale)
                }
            }
            _ if numeric(&a) && numeric(&b) => Shape::Double,
            _ => Shape::Variant,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(text: &str) -> String {
        let tree = parse(text).unwrap_or(Tree::Null);
        let (value, metadata) = encode(&tree).unwrap_or_default();
        let mut out = String::new();
        if let Ok(v) = Variant::try_new(&metadata, &value) {
            to_json(&v, "UTC", &mut out);
        }
        out
    }

    #[test]
    fn numbers_take_sparks_types() {
        assert_eq!(parse("1"), Ok(Tree::Int(1)));
        assert_eq!(parse("-1.50"), Ok(Tree::Decimal(-150, 2)));
        assert_eq!(parse("1e2"), Ok(Tree::Double(100.0)));
        // past i64: a decimal of scale 0; past 38 digits: a double
        assert_eq!(
            parse("92233720368547758070"),
            Ok(Tree::Decimal(92_233_720_368_547_758_070, 0))
        );
        assert!(matches!(parse(&"9".repeat(40)), Ok(Tree::Double(_))));
        assert!(matches!(parse("01"), Err(Fault::Malformed(_))));
    }

    #[test]
    fn objects_sort_keys_and_reject_duplicates() {
        assert_eq!(
            round_trip(r#"{ "b" : 1, "a": [true, null, "x"] }"#),
            r#"{"a":[true,null,"x"],"b":1}"#
        );
        assert_eq!(
            parse(r#"{"a": 1, "a": 2}"#),
            Err(Fault::DuplicateKey("a".into()))
        );
        assert!(matches!(parse("{a : 1}"), Err(Fault::Malformed(_))));
        assert_eq!(round_trip("[1, 2] ]"), "[1,2]");
    }

    #[test]
    fn json_text_follows_java() {
        assert_eq!(round_trip("1.50"), "1.5");
        assert_eq!(round_trip("0.001"), "0.001");
        assert_eq!(round_trip("1E10"), "1.0E10");
        assert_eq!(round_trip(r#""a\u00e9\n""#), r#""aé\n""#);
        assert_eq!(plain_decimal(-5, 3), "-0.005");
    }

    #[test]
    fn schemas_merge_as_sparks() {
        assert_eq!(
            merge(Shape::Bigint, Shape::Decimal(2, 1)).to_string(),
            "DECIMAL(21,1)"
        );
        assert_eq!(merge(Shape::Bigint, Shape::Double), Shape::Double);
        assert_eq!(merge(Shape::String, Shape::Bigint), Shape::Variant);
        assert_eq!(merge(Shape::Void, Shape::String), Shape::String);
        let nested = Shape::Object(vec![
            ("a".into(), Shape::Array(Box::new(Shape::Decimal(3, 3)))),
            ("b c".into(), Shape::Void),
        ]);
        assert_eq!(
            nested.to_string(),
            "OBJECT<a: ARRAY<DECIMAL(3,3)>, `b c`: VOID>"
        );
        assert_eq!(Shape::from_state(&nested.to_state()), Some(nested));
    }
}
