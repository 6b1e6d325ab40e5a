//! Spark's `to_binary(str[, fmt])` and `try_to_binary(str[, fmt])`: a string's bytes read in
//! the format `fmt` (case-insensitive; `hex` when omitted): `hex` (pairs of hex digits, an odd
//! count read with a leading 0, as Spark's `unhex`), `utf-8` / `utf8` (the string's own bytes)
//! or `base64`. A value that is not in the format is Spark's `CONVERSION_INVALID_INPUT` error
//! for `to_binary` and null for `try_to_binary`; a format that is none of these is
//! `INVALID_PARAMETER_VALUE.BINARY_FORMAT`.
//!
//! Also `encode(str, charset)` and `decode(bin, charset)` for the charsets `UTF-8`, `US-ASCII`
//! and `ISO-8859-1` (case-insensitive): as Java's, a character the charset lacks encodes as
//! `?` and bytes that are not in it decode as U+FFFD.
//!
//! And the string functions Spark also applies to bytes: `reverse(bin)`, `contains(a, b)`,
//! `startswith(a, b)` and `endswith(a, b)` when their first argument is binary.

use std::sync::Arc;

use base64::Engine;
use datafusion::arrow::array::{Array, AsArray, BinaryBuilder};
use datafusion::arrow::datatypes::DataType;
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility, cast,
};
use datafusion::scalar::ScalarValue;
use spate_common::{Error, Result};

use super::{Arg, CallContext, default_name, wrong_args};

/// The function names this module resolves.
pub(super) const SQL_NAMES: &[&str] = &["to_binary", "try_to_binary", "encode", "decode"];

/// A charset of `encode` / `decode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Charset {
    Utf8,
    Ascii,
    Latin1,
}

impl Charset {
    fn of(name: &str) -> Option<Self> {
        match name.to_uppercase().as_str() {
            "UTF-8" | "UTF8" => Some(Charset::Utf8),
            "US-ASCII" => Some(Charset::Ascii),
            "ISO-8859-1" => Some(Charset::Latin1),
            _ => None,
        }
    }

    fn encode(self, s: &str) -> Vec<u8> {
        match self {
            Charset::Utf8 => s.as_bytes().to_vec(),
            Charset::Ascii => s
                .chars()
                .map(|c| if c.is_ascii() { c as u8 } else { b'?' })
                .collect(),
            Charset::Latin1 => s
                .chars()
                .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
                .collect(),
        }
    }

    fn decode(self, b: &[u8]) -> String {
        match self {
            Charset::Utf8 => String::from_utf8_lossy(b).into_owned(),
            Charset::Ascii => b
                .iter()
                .map(|x| {
                    if x.is_ascii() {
                        char::from(*x)
                    } else {
                        '\u{FFFD}'
                    }
                })
                .collect(),
            Charset::Latin1 => b.iter().map(|x| char::from(*x)).collect(),
        }
    }
}

/// A string function applied to bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum BytesOp {
    Reverse,
    Contains,
    StartsWith,
    EndsWith,
}

impl BytesOp {
    fn of(name: &str) -> Option<Self> {
        match name {
            "reverse" => Some(BytesOp::Reverse),
            "contains" => Some(BytesOp::Contains),
            "startswith" | "starts_with" => Some(BytesOp::StartsWith),
            "endswith" | "ends_with" => Some(BytesOp::EndsWith),
            _ => None,
        }
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Bytes {
    op: BytesOp,
    signature: Signature,
}

impl ScalarUDFImpl for Bytes {
    fn name(&self) -> &str {
        match self.op {
            BytesOp::Reverse => "reverse",
            BytesOp::Contains => "contains",
            BytesOp::StartsWith => "startswith",
            BytesOp::EndsWith => "endswith",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DfResult<DataType> {
        Ok(if self.op == BytesOp::Reverse {
            DataType::Binary
        } else {
            DataType::Boolean
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let a = arrays[0].as_binary::<i32>();
        if self.op == BytesOp::Reverse {
            let out: datafusion::arrow::array::BinaryArray = a
                .iter()
                .map(|v| v.map(|v| v.iter().rev().copied().collect::<Vec<u8>>()))
                .collect();
            return Ok(ColumnarValue::Array(Arc::new(out)));
        }
        let b = arrays[1].as_binary::<i32>();
        let out: datafusion::arrow::array::BooleanArray = a
            .iter()
            .zip(b.iter())
            .map(|(a, b)| {
                let (a, b) = (a?, b?);
                Some(match self.op {
                    BytesOp::StartsWith => a.starts_with(b),
                    BytesOp::EndsWith => a.ends_with(b),
                    _ => b.is_empty() || a.windows(b.len()).any(|w| w == b),
                })
            })
            .collect();
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

/// `encode(str, charset)` / `decode(bin, charset)` for the charsets Spate knows; `None` for
/// another charset (left to the registry).
fn charset_call(name: &str, args: &[Arg]) -> Option<(Expr, String)> {
    let [value, charset] = args else {
        return None;
    };
    let Expr::Literal(ScalarValue::Utf8(Some(c)), _) = &charset.expr else {
        return None;
    };
    let charset = Charset::of(c)?;
    let encode = name == "encode";
    let udf = ScalarUDF::new_from_impl(Recode {
        signature: Signature::any(1, Volatility::Immutable),
        charset,
        encode,
    });
    let input = cast(
        value.expr.clone(),
        if encode {
            DataType::Utf8
        } else {
            DataType::Binary
        },
    );
    Some((udf.call(vec![input]), default_name(name, args, false)))
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Recode {
    signature: Signature,
    charset: Charset,
    encode: bool,
}

impl ScalarUDFImpl for Recode {
    fn name(&self) -> &str {
        if self.encode { "encode" } else { "decode" }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DfResult<DataType> {
        Ok(if self.encode {
            DataType::Binary
        } else {
            DataType::Utf8
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let input = ColumnarValue::values_to_arrays(&args.args)?;
        let out: datafusion::arrow::array::ArrayRef = if self.encode {
            let strings = input[0].as_string::<i32>();
            Arc::new(
                strings
                    .iter()
                    .map(|s| s.map(|s| self.charset.encode(s)))
                    .collect::<datafusion::arrow::array::BinaryArray>(),
            )
        } else {
            let bytes = input[0].as_binary::<i32>();
            Arc::new(
                bytes
                    .iter()
                    .map(|b| b.map(|b| self.charset.decode(b)))
                    .collect::<datafusion::arrow::array::StringArray>(),
            )
        };
        Ok(ColumnarValue::Array(out))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Format {
    Hex,
    Utf8,
    Base64,
}

/// Resolves `to_binary` and `try_to_binary`.
pub(super) fn resolve(
    name: &str,
    args: &[Arg],
    cx: &CallContext<'_>,
) -> Result<Option<(Expr, String)>> {
    if let Some(op) = BytesOp::of(name)
        && let Some(first) = args.first()
        && matches!(
            super::arg_type(first, cx)?,
            DataType::Binary | DataType::LargeBinary | DataType::BinaryView
        )
    {
        let arity = if op == BytesOp::Reverse { 1 } else { 2 };
        if args.len() != arity {
            return Err(wrong_args(name, &arity.to_string(), args.len()));
        }
        let udf = ScalarUDF::new_from_impl(Bytes {
            op,
            signature: Signature::any(arity, Volatility::Immutable),
        });
        let exprs = args
            .iter()
            .map(|a| cast(a.expr.clone(), DataType::Binary))
            .collect();
        return Ok(Some((udf.call(exprs), default_name(name, args, false))));
    }
    if !SQL_NAMES.contains(&name) {
        return Ok(None);
    }
    if matches!(name, "encode" | "decode") {
        return Ok(charset_call(name, args));
    }
    let (text, format) = match args {
        [t] => (t, Format::Hex),
        [t, f] => {
            let given = match &f.expr {
                Expr::Literal(ScalarValue::Utf8(Some(s)), _) => s.to_lowercase(),
                _ => {
                    return Err(Error::analysis(
                        "DATATYPE_MISMATCH.NON_FOLDABLE_INPUT",
                        format!(
                            "the format of `{name}` must be a string literal, got {}",
                            f.name
                        ),
                    ));
                }
            };
            let format = match given.as_str() {
                "hex" => Format::Hex,
                "utf-8" | "utf8" => Format::Utf8,
                "base64" => Format::Base64,
                other => {
                    return Err(Error::analysis(
                        "INVALID_PARAMETER_VALUE.BINARY_FORMAT",
                        format!(
                            "The value of parameter(s) `format` in `{name}` is invalid: expects \
                             one of binary formats 'base64', 'hex', 'utf-8', but got '{other}'."
                        ),
                    ));
                }
            };
            (t, format)
        }
        _ => return Err(wrong_args(name, "1 or 2", args.len())),
    };
    let udf = ScalarUDF::new_from_impl(ToBinary {
        signature: Signature::any(1, Volatility::Immutable),
        format,
        fail: name == "to_binary",
    });
    let e = udf.call(vec![cast(text.expr.clone(), DataType::Utf8)]);
    Ok(Some((e, default_name(name, args, false))))
}

/// The bytes `s` stands for in `format`, `None` when it is not in it.
fn decode(s: &str, format: Format) -> Option<Vec<u8>> {
    match format {
        Format::Utf8 => Some(s.as_bytes().to_vec()),
        Format::Base64 => base64::engine::general_purpose::STANDARD
            .decode(s.trim_end())
            .ok(),
        Format::Hex => {
            let digits: Vec<u8> = s
                .chars()
                .map(|c| c.to_digit(16).and_then(|d| u8::try_from(d).ok()))
                .collect::<Option<_>>()?;
            let padded: Vec<u8> = if digits.len() % 2 == 1 {
                std::iter::once(0).chain(digits).collect()
            } else {
                digits
            };
            Some(padded.chunks(2).map(|p| p[0] * 16 + p[1]).collect())
        }
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct ToBinary {
    signature: Signature,
    format: Format,
    fail: bool,
}

impl ScalarUDFImpl for ToBinary {
    fn name(&self) -> &str {
        if self.fail {
            "to_binary"
        } else {
            "try_to_binary"
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Binary)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let input = ColumnarValue::values_to_arrays(&args.args)?;
        let strings = input[0].as_string::<i32>();
        let mut out = BinaryBuilder::with_capacity(strings.len(), 0);
        for i in 0..strings.len() {
            if strings.is_null(i) {
                out.append_null();
                continue;
            }
            let s = strings.value(i);
            match decode(s, self.format) {
                Some(bytes) => out.append_value(bytes),
                None if self.fail => {
                    let fmt = match self.format {
                        Format::Hex => "HEX",
                        Format::Utf8 => "UTF-8",
                        Format::Base64 => "BASE64",
                    };
                    return Err(Error::Runtime {
                        exception: "org.apache.spark.SparkIllegalArgumentException",
                        class: "CONVERSION_INVALID_INPUT".into(),
                        message: format!(
                            "The value '{s}' (STRING) cannot be converted to BINARY because it \
                             is malformed. Correct the value as per the syntax, or change its \
                             format. Use 'try_to_binary' to tolerate malformed input and return \
                             NULL instead. (format {fmt})"
                        ),
                    }
                    .into());
                }
                None => out.append_null(),
            }
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_as_spark() {
        assert_eq!(decode("414243", Format::Hex), Some(b"ABC".to_vec()));
        // an odd number of digits reads with a leading 0, as Spark's unhex
        assert_eq!(decode("141", Format::Hex), Some(vec![0x01, 0x41]));
        assert_eq!(decode("malformed", Format::Hex), None);
        assert_eq!(decode("abc", Format::Utf8), Some(b"abc".to_vec()));
        assert_eq!(decode("U3Bhcms=", Format::Base64), Some(b"Spark".to_vec()));
    }

    #[test]
    fn recodes_as_java() {
        assert_eq!(Charset::Utf8.encode("aé"), vec![0x61, 0xc3, 0xa9]);
        assert_eq!(Charset::Latin1.encode("aé€"), vec![0x61, 0xe9, b'?']);
        assert_eq!(Charset::Ascii.encode("aé"), vec![0x61, b'?']);
        assert_eq!(Charset::Utf8.decode(&[0x61, 0xff]), "a\u{FFFD}");
        assert_eq!(Charset::Latin1.decode(&[0x61, 0xe9]), "aé");
    }
}
