//! A parser for Spark's type strings and DDL schemas, as PySpark sends them in
//! `spark.read.schema("a INT, b STRING")`, `cast("decimal(10,2)")` and
//! `createDataFrame(data, "a: int, b: string")`. It accepts Spark's type names and aliases
//! (`int`/`integer`, `bigint`/`long`, `dec`/`numeric`, `timestamp_ltz`, ...), nested
//! `array<>`, `map<,>` and `struct<>` types, `NOT NULL` and `COMMENT` on fields, and reports a
//! `ParseException` naming the position of the first problem.

use datafusion::arrow::datatypes::{DataType, Field, Fields, IntervalUnit, TimeUnit};
use std::sync::Arc;

use spate_common::{Error, Result};

use crate::type_build;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Num(i64),
    Str(String),
    Sym(char),
}

fn tokenize(s: &str) -> Result<Vec<(usize, Tok)>> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '`' {
            let start = i;
            let mut name = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err(parse_error(s, start, "unterminated backtick")),
                    Some('`') if chars.get(i + 1) == Some(&'`') => {
                        name.push('`');
                        i += 2;
                    }
                    Some('`') => {
                        i += 1;
                        break;
                    }
                    Some(ch) => {
                        name.push(*ch);
                        i += 1;
                    }
                }
            }
            out.push((start, Tok::Ident(name)));
        } else if c == '\'' || c == '"' {
            let start = i;
            let mut text = String::new();
            i += 1;
            while i < chars.len() && chars[i] != c {
                text.push(chars[i]);
                i += 1;
            }
            if i >= chars.len() {
                return Err(parse_error(s, start, "unterminated string"));
            }
            i += 1;
            out.push((start, Tok::Str(text)));
        } else if c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            let text: String = chars[start..i].iter().collect();
            let n = text
                .parse()
                .map_err(|_| parse_error(s, start, "number too large"))?;
            out.push((start, Tok::Num(n)));
        } else if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push((start, Tok::Ident(chars[start..i].iter().collect())));
        } else if "<>(),:".contains(c) {
            out.push((i, Tok::Sym(c)));
            i += 1;
        } else {
            return Err(parse_error(s, i, &format!("unexpected character '{c}'")));
        }
    }
    Ok(out)
}

fn parse_error(text: &str, pos: usize, what: &str) -> Error {
    Error::Parse {
        class: "PARSE_SYNTAX_ERROR".into(),
        message: format!("syntax error in type string '{text}' at position {pos}: {what}"),
    }
}

struct Parser<'a> {
    text: &'a str,
    toks: Vec<(usize, Tok)>,
    pos: usize,
    tz: &'a str,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(_, t)| t)
    }

    fn error(&self, what: &str) -> Error {
        let at = self.toks.get(self.pos).map_or(self.text.len(), |(p, _)| *p);
        parse_error(self.text, at, what)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).map(|(_, t)| t.clone());
        self.pos += 1;
        t
    }

    fn eat_sym(&mut self, c: char) -> bool {
        if self.peek() == Some(&Tok::Sym(c)) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect_sym(&mut self, c: char) -> Result<()> {
        if self.eat_sym(c) {
            Ok(())
        } else {
            Err(self.error(&format!("expected '{c}'")))
        }
    }

    fn eat_word(&mut self, w: &str) -> bool {
        match self.peek() {
            Some(Tok::Ident(i)) if i.eq_ignore_ascii_case(w) => {
                self.pos += 1;
                true
            }
            _ => false,
        }
    }

    fn number(&mut self) -> Result<i64> {
        match self.next() {
            Some(Tok::Num(n)) => Ok(n),
            _ => {
                self.pos -= 1;
                Err(self.error("expected a number"))
            }
        }
    }

    fn data_type(&mut self) -> Result<DataType> {
        let name = match self.next() {
            Some(Tok::Ident(n)) => n.to_ascii_lowercase(),
            _ => {
                self.pos = self.pos.saturating_sub(1);
                return Err(self.error("expected a type name"));
            }
        };
        Ok(match name.as_str() {
            "boolean" | "bool" => DataType::Boolean,
            "tinyint" | "byte" => DataType::Int8,
            "smallint" | "short" => DataType::Int16,
            "int" | "integer" => DataType::Int32,
            "bigint" | "long" => DataType::Int64,
            "float" | "real" => DataType::Float32,
            "double" => DataType::Float64,
            "string" | "text" => DataType::Utf8,
            "binary" => DataType::Binary,
            "variant" => type_build::variant(),
            "date" => DataType::Date32,
            "timestamp" | "timestamp_ltz" => type_build::timestamp(self.tz),
            "timestamp_ntz" => DataType::Timestamp(TimeUnit::Microsecond, None),
            "time" => {
                if self.eat_sym('(') {
                    let p = self.number()?;
                    if p > 6 {
                        return Err(self.error("time precision must be between 0 and 6"));
                    }
                    self.expect_sym(')')?;
                }
                DataType::Time64(TimeUnit::Nanosecond)
            }
            "void" | "null" => DataType::Null,
            "char" | "varchar" | "character" => {
                if self.eat_sym('(') {
                    self.number()?;
                    self.expect_sym(')')?;
                }
                DataType::Utf8
            }
            "decimal" | "dec" | "numeric" => {
                let (mut p, mut s) = (10, 0);
                if self.eat_sym('(') {
                    p = self.number()?;
                    if self.eat_sym(',') {
                        s = self.number()?;
                    }
                    self.expect_sym(')')?;
                }
                type_build::decimal(p as i32, s as i32)?
            }
            "array" => {
                self.expect_sym('<')?;
                let element = self.data_type()?;
                self.expect_sym('>')?;
                DataType::List(Arc::new(Field::new("element", element, true)))
            }
            "map" => {
                self.expect_sym('<')?;
                let key = self.data_type()?;
                self.expect_sym(',')?;
                let value = self.data_type()?;
                self.expect_sym('>')?;
                type_build::map(key, value, true)
            }
            "struct" => {
                self.expect_sym('<')?;
                let fields = if self.eat_sym('>') {
                    Fields::empty()
                } else {
                    let f = self.fields()?;
                    self.expect_sym('>')?;
                    f
                };
                DataType::Struct(fields)
            }
            "interval" => self.interval()?,
            other => {
                self.pos -= 1;
                return Err(Error::Parse {
                    class: "UNSUPPORTED_DATATYPE".into(),
                    message: format!("unsupported data type \"{}\"", other.to_uppercase()),
                });
            }
        })
    }

    fn interval(&mut self) -> Result<DataType> {
        let unit = |p: &mut Self| match p.next() {
            Some(Tok::Ident(u)) => Ok(u.to_ascii_lowercase()),
            _ => Err(p.error("expected an interval unit")),
        };
        let start = unit(self)?;
        let end = if self.eat_word("to") {
            unit(self)?
        } else {
            start.clone()
        };
        let year_month = |u: &str| u == "year" || u == "month";
        match (year_month(&start), year_month(&end)) {
            (true, true) => Ok(DataType::Interval(IntervalUnit::YearMonth)),
            (false, false) => Ok(DataType::Duration(TimeUnit::Microsecond)),
            _ => Err(self.error("an interval mixes year-month and day-time units")),
        }
    }

    fn fields(&mut self) -> Result<Fields> {
        let mut fields = Vec::new();
        loop {
            let name = match self.next() {
                Some(Tok::Ident(n)) => n,
                _ => {
                    self.pos = self.pos.saturating_sub(1);
                    return Err(self.error("expected a field name"));
                }
            };
            self.eat_sym(':');
            let t = self.data_type()?;
            let mut nullable = true;
            loop {
                if self.eat_word("not") {
                    if !self.eat_word("null") {
                        return Err(self.error("expected NULL after NOT"));
                    }
                    nullable = false;
                } else if self.eat_word("comment") {
                    match self.next() {
                        Some(Tok::Str(_)) => {}
                        _ => return Err(self.error("expected a string after COMMENT")),
                    }
                } else {
                    break;
                }
            }
            fields.push(Field::new(name, t, nullable));
            if !self.eat_sym(',') {
                break;
            }
        }
        Ok(Fields::from(fields))
    }

    fn done(&self) -> Result<()> {
        if self.pos < self.toks.len() {
            Err(self.error("unexpected input"))
        } else {
            Ok(())
        }
    }
}

fn parser<'a>(text: &'a str, tz: &'a str) -> Result<Parser<'a>> {
    Ok(Parser {
        text,
        toks: tokenize(text)?,
        pos: 0,
        tz,
    })
}

/// Parses one type (`int`, `array<string>`, `struct<a:int>`), or a DDL field list, which Spark
/// also accepts wherever a type is expected and reads as a struct.
pub fn parse_data_type(text: &str, tz: &str) -> Result<DataType> {
    let mut p = parser(text, tz)?;
    let start = p.pos;
    if let Ok(t) = p.data_type()
        && p.done().is_ok()
    {
        return Ok(t);
    }
    p.pos = start;
    let fields = p.fields()?;
    p.done()?;
    Ok(DataType::Struct(fields))
}

/// Parses a DDL schema (`a INT, b STRING NOT NULL` or `struct<a:int>`) into struct fields.
pub fn parse_schema(text: &str, tz: &str) -> Result<Fields> {
    match parse_data_type(text, tz)? {
        DataType::Struct(fields) => Ok(fields),
        other => Ok(Fields::from(vec![Field::new("value", other, true)])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::simple_string;

    #[test]
    fn parses_ddl_and_types() {
        let t = parse_data_type("a INT, b string NOT NULL, c decimal(10,2)", "UTC");
        assert_eq!(
            t.as_ref().map(simple_string).ok().as_deref(),
            Some("struct<a:int,b:string,c:decimal(10,2)>")
        );
        let t = parse_data_type("map<string, array<bigint>>", "UTC");
        assert_eq!(
            t.as_ref().map(simple_string).ok().as_deref(),
            Some("map<string,array<bigint>>")
        );
        let t = parse_data_type("a: int, `b c`: struct<x: double>", "UTC");
        assert_eq!(
            t.as_ref().map(simple_string).ok().as_deref(),
            Some("struct<a:int,b c:struct<x:double>>")
        );
    }

    #[test]
    fn reports_the_position() {
        let e = parse_data_type("a INT,, b", "UTC")
            .err()
            .map(|e| e.to_string());
        assert!(e.is_some_and(|m| m.contains("position")));
        assert!(parse_data_type("foo", "UTC").is_err());
    }
}
