//! Spark's number format strings (`'$99,999.99'`, `'S000.00'`, `'999MI'`, `'99.9PR'`) for
//! `to_number`/`try_to_number` (text to a decimal) and `to_char`/`to_varchar` of numbers (a
//! decimal to text). `0`/`9` are digits (a run starting with `0` before the point means that
//! many digits exactly, padded with zeros; else up to that many, padded with spaces), `.`/`D`
//! the decimal point, `,`/`G` a grouping separator, `$` the currency sign, `S` a sign at the
//! start or end, `MI` a trailing minus, `PR` angle brackets around a negative. The decimal
//! has as many digits as the format and its fraction digits as scale. Text that does not
//! match is Spark's `INVALID_FORMAT.MISMATCH_INPUT` (null for `try_to_number`); a number too
//! large for the format prints as `#`s.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, Decimal128Builder, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Decimal128Type};
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility, cast,
};
use spate_common::{Error, Result};

use super::{Arg, CallContext, default_name, wrong_args};

/// The functions this module resolves, for SQL planning (see `crate::sql_functions`).
pub(super) const SQL_NAMES: &[&str] = &["to_number", "try_to_number", "to_char", "to_varchar"];

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Token {
    /// A digit; `true` for `0`.
    Digit(bool),
    Point,
    Group,
    Dollar,
    Sign,
    Minus,
    Brackets,
}

/// A compiled number format.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Format {
    text: String,
    tokens: Vec<Token>,
    /// Digits before and after the point.
    int_digits: u8,
    scale: u8,
}

impl Format {
    fn compile(text: &str) -> std::result::Result<Format, String> {
        let upper = text.to_ascii_uppercase();
        let mut tokens = Vec::new();
        let mut rest = upper.as_str();
        while let Some(c) = rest.chars().next() {
            let (token, len) = match c {
                '0' | '9' => (Token::Digit(c == '0'), 1),
                '.' | 'D' => (Token::Point, 1),
                ',' | 'G' => (Token::Group, 1),
                '$' => (Token::Dollar, 1),
                'S' => (Token::Sign, 1),
                'M' if rest.starts_with("MI") => (Token::Minus, 2),
                'P' if rest.starts_with("PR") => (Token::Brackets, 2),
                other => return Err(format!("unexpected character '{other}'")),
            };
            tokens.push(token);
            rest = &rest[len..];
        }
        let points = tokens.iter().filter(|t| **t == Token::Point).count();
        if points > 1 {
            return Err("more than one decimal point".into());
        }
        let point = tokens.iter().position(|t| *t == Token::Point);
        let digits = |ts: &[Token]| ts.iter().filter(|t| matches!(t, Token::Digit(_))).count();
        let (before, after) = match point {
            Some(p) => (digits(&tokens[..p]), digits(&tokens[p + 1..])),
            None => (digits(&tokens), 0),
        };
        if before + after == 0 {
            return Err("no digits".into());
        }
        if before + after > 38 {
            return Err("more than 38 digits".into());
        }
        Ok(Format {
            text: text.to_string(),
            tokens,
            int_digits: before as u8,
            scale: after as u8,
        })
    }

    fn precision(&self) -> u8 {
        self.int_digits + self.scale
    }

    /// Whether the digits before the point must all be given (the run starts with `0`).
    fn exact_int_digits(&self) -> bool {
        matches!(
            self.tokens.iter().find(|t| matches!(t, Token::Digit(_))),
            Some(Token::Digit(true))
        ) && self.int_digits > 0
    }

    /// The unscaled decimal `text` gives, or `None` when it does not match.
    fn parse(&self, text: &str) -> Option<i128> {
        let mut s = text.trim();
        let mut negative = false;
        let has = |t: Token| self.tokens.contains(&t);
        if has(Token::Brackets) && s.starts_with('<') && s.ends_with('>') {
            negative = true;
            s = &s[1..s.len() - 1];
        }
        if has(Token::Minus)
            && let Some(r) = s.strip_suffix('-')
        {
            negative = true;
            s = r;
        }
        if has(Token::Sign) {
            if self.tokens.first() == Some(&Token::Sign)
                || self.tokens.first() == Some(&Token::Dollar)
            {
                if let Some(r) = s.strip_prefix('-') {
                    negative = true;
                    s = r;
                } else if let Some(r) = s.strip_prefix('+') {
                    s = r;
                }
            }
            if let Some(r) = s.strip_suffix('-') {
                negative = true;
                s = r;
            } else if let Some(r) = s.strip_suffix('+') {
                s = r;
            }
        }
        if has(Token::Dollar) {
            s = s.strip_prefix('$').or_else(|| s.strip_suffix('$'))?;
            if let Some(r) = s.strip_prefix('-').filter(|_| has(Token::Sign)) {
                negative = true;
                s = r;
            }
        }
        let (int_part, frac_part) = match s.split_once('.') {
            Some((i, f)) if has(Token::Point) => (i, f),
            Some(_) => return None,
            None => (s, ""),
        };
        let int_digits: String = if has(Token::Group) {
            int_part.chars().filter(|c| *c != ',').collect()
        } else {
            int_part.to_string()
        };
        let all_digits = |d: &str| d.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(&int_digits)
            || !all_digits(frac_part)
            || int_digits.len() + frac_part.len() == 0
        {
            return None;
        }
        if int_digits.len() > usize::from(self.int_digits)
            || frac_part.len() > usize::from(self.scale)
            || (self.exact_int_digits() && int_digits.len() != usize::from(self.int_digits))
        {
            return None;
        }
        let padded = format!(
            "{int_digits}{frac_part:0<width$}",
            width = usize::from(self.scale)
        );
        let value: i128 = if padded.is_empty() {
            0
        } else {
            padded.parse().ok()?
        };
        Some(if negative { -value } else { value })
    }

    /// `unscaled` (a decimal of scale `scale`) written in this format.
    fn format(&self, unscaled: i128, scale: i8) -> String {
        let negative = unscaled < 0;
        let magnitude = unscaled.unsigned_abs();
        // to this format's scale, half up
        let shift = i32::from(self.scale) - i32::from(scale);
        let value = if shift >= 0 {
            magnitude.saturating_mul(10u128.saturating_pow(shift.unsigned_abs()))
        } else {
            let div = 10u128.saturating_pow(shift.unsigned_abs());
            (magnitude + div / 2) / div
        };
        let frac_div = 10u128.pow(u32::from(self.scale));
        let (int_value, frac_value) = (value / frac_div, value % frac_div);
        let int_text = if int_value == 0 {
            String::new()
        } else {
            int_value.to_string()
        };
        let frac_text = format!("{frac_value:0width$}", width = usize::from(self.scale));
        let overflow = int_text.len() > usize::from(self.int_digits);
        let exact = self.exact_int_digits();
        // the integer digits right-aligned into the format's positions
        let pad = usize::from(self.int_digits).saturating_sub(int_text.len());
        let mut int_chars = int_text.chars();
        let mut frac_chars = frac_text.chars();
        let (mut seen_int, mut after_point, mut out) = (0usize, false, String::new());
        let mut printed_digit = false;
        for t in &self.tokens {
            match t {
                Token::Digit(_) if overflow => out.push('#'),
                Token::Digit(_) if after_point => out.push(frac_chars.next().unwrap_or('0')),
                Token::Digit(_) => {
                    seen_int += 1;
                    if seen_int <= pad {
                        let last_int = seen_int == usize::from(self.int_digits);
                        // a zero is written where the format says 0, and for a whole part of 0
                        if exact || (last_int && int_text.is_empty() && self.scale == 0) {
                            out.push('0');
                            printed_digit = true;
                        } else {
                            out.push(' ');
                        }
                    } else {
                        out.push(int_chars.next().unwrap_or('0'));
                        printed_digit = true;
                    }
                }
                Token::Point => {
                    after_point = true;
                    out.push(if overflow { '#' } else { '.' });
                }
                Token::Group if overflow => out.push('#'),
                Token::Group => out.push(if printed_digit { ',' } else { ' ' }),
                Token::Dollar => out.push('$'),
                Token::Sign => out.push(if negative { '-' } else { '+' }),
                Token::Minus => out.push(if negative { '-' } else { ' ' }),
                Token::Brackets => {}
            }
        }
        let has_sign = self
            .tokens
            .iter()
            .any(|t| matches!(t, Token::Sign | Token::Minus | Token::Brackets));
        if negative && self.tokens.contains(&Token::Brackets) {
            format!("<{out}>")
        } else if negative && !has_sign {
            format!("-{out}")
        } else {
            out
        }
    }
}

/// Resolves the number-format functions.
pub(super) fn resolve(
    name: &str,
    args: &[Arg],
    cx: &CallContext<'_>,
) -> Result<Option<(Expr, String)>> {
    if !SQL_NAMES.contains(&name) {
        return Ok(None);
    }
    let [value, format] = args else {
        return Err(wrong_args(name, "2", args.len()));
    };
    let text = super::string_literal(name, "format", format)?;
    let to_text = matches!(name, "to_char" | "to_varchar");
    if to_text && super::arg_type(value, cx)?.is_temporal() {
        // a date or timestamp with a datetime pattern
        return super::resolve("date_format", args.to_vec(), cx)
            .map(|(e, _)| Some((e, default_name(name, args, false))));
    }
    let compiled = Format::compile(&text).map_err(|why| {
        Error::analysis(
            "INVALID_FORMAT.WRONG_NUM_DIGIT",
            format!("The format is invalid: '{text}': {why}."),
        )
    })?;
    let input = if to_text {
        match super::arg_type(value, cx)? {
            t @ DataType::Decimal128(..) => cast(value.expr.clone(), t),
            t if t.is_integer() => cast(value.expr.clone(), DataType::Decimal128(38, 0)),
            _ => cast(value.expr.clone(), DataType::Decimal128(38, 18)),
        }
    } else {
        cast(value.expr.clone(), DataType::Utf8)
    };
    let udf = ScalarUDF::new_from_impl(NumberFormat {
        name: name.to_string(),
        format: compiled,
        to_text,
        fail: name == "to_number",
        signature: Signature::any(1, Volatility::Immutable),
    });
    Ok(Some((
        udf.call(vec![input]),
        default_name(name, args, false),
    )))
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct NumberFormat {
    name: String,
    format: Format,
    to_text: bool,
    /// Whether text that does not match is an error (else null).
    fail: bool,
    signature: Signature,
}

impl ScalarUDFImpl for NumberFormat {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DfResult<DataType> {
        Ok(if self.to_text {
            DataType::Utf8
        } else {
            DataType::Decimal128(self.format.precision(), self.format.scale as i8)
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let input = args.args[0].to_array(args.number_rows)?;
        if self.to_text {
            let scale = match input.data_type() {
                DataType::Decimal128(_, s) => *s,
                _ => 0,
            };
            let values = input.as_primitive::<Decimal128Type>();
            let mut out = StringBuilder::new();
            for i in 0..values.len() {
                if values.is_null(i) {
                    out.append_null();
                } else {
                    out.append_value(self.format.format(values.value(i), scale));
                }
            }
            return Ok(ColumnarValue::Array(Arc::new(out.finish())));
        }
        let texts = input.as_string::<i32>();
        let mut out = Decimal128Builder::with_capacity(texts.len());
        for i in 0..texts.len() {
            if texts.is_null(i) {
                out.append_null();
                continue;
            }
            match self.format.parse(texts.value(i)) {
                Some(v) => out.append_value(v),
                None if !self.fail => out.append_null(),
                None => {
                    return Err(Error::Runtime {
                        exception: "java.lang.IllegalArgumentException",
                        class: "INVALID_FORMAT.MISMATCH_INPUT".into(),
                        message: format!(
                            "The format is invalid: '{}'. The input string '{}' does not match the format.",
                            self.format.text,
                            texts.value(i)
                        ),
                    }
                    .into());
                }
            }
        }
        let out = out
            .finish()
            .with_precision_and_scale(self.format.precision(), self.format.scale as i8)?;
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

#[cfg(test)]
mod tests {
    use super::Format;

    fn format(f: &str) -> Format {
        Format::compile(f).unwrap_or_else(|_| Format {
            text: String::new(),
            tokens: Vec::new(),
            int_digits: 0,
            scale: 0,
        })
    }

    #[test]
    fn parses_as_spark_documents() {
        // Spark's examples (to_number)
        assert_eq!(format("$99.99").parse("$78.12"), Some(7812));
        assert_eq!(
            (format("$99.99").precision(), format("$99.99").scale),
            (4, 2)
        );
        assert_eq!(format("999").parse("454"), Some(454));
        assert_eq!(format("000.00").parse("454.00"), Some(45400));
        assert_eq!(format("99,999").parse("12,454"), Some(12454));
        assert_eq!(format("S999.99").parse("-454.8"), Some(-45480));
        assert_eq!(format("999.99MI").parse("454.8-"), Some(-45480));
        assert_eq!(format("99.9PR").parse("<12.3>"), Some(-123));
        // no match: a missing currency sign, too many digits, a 0-run not filled
        assert_eq!(format("$99.99").parse("77"), None);
        assert_eq!(format("99").parse("123"), None);
        assert_eq!(format("000").parse("12"), None);
    }

    #[test]
    fn formats_as_spark_documents() {
        // Spark's examples (to_char): 454 with '999', 454.00 with '000D00', 12454 with
        // '99G999', 78.12 with '$99.99', -12454.8 with '99G999D9S'
        assert_eq!(format("999").format(454, 0), "454");
        assert_eq!(format("000D00").format(45400, 2), "454.00");
        assert_eq!(format("99G999").format(12454, 0), "12,454");
        assert_eq!(format("$99.99").format(7812, 2), "$78.12");
        assert_eq!(format("99G999D9S").format(-124548, 1), "12,454.8-");
        // too large for the format
        assert_eq!(format("99").format(123, 0), "##");
    }
}
