//! `reflect` / `java_method` / `try_reflect(class, method, args...)`: Spark calls a static
//! method of a JVM class by reflection and returns `String.valueOf` of its result. Spate has
//! no JVM: it knows a set of the JDK's static methods and computes them as the JDK does —
//! `java.util.UUID` (`fromString`, `randomUUID`), `java.lang.String.valueOf`,
//! `java.lang.Math` (the one- and two-argument double functions, `abs`/`max`/`min` of int,
//! long and double, `round`), `java.lang.Integer`/`Long` (`parseInt`/`parseLong` with an
//! optional radix, `valueOf`, `toString`, `toHexString`, `toOctalString`, `toBinaryString`),
//! `java.lang.Boolean.parseBoolean` and `scala.Predef.require`. A class it does not know is
//! Spark's `UNEXPECTED_CLASS_TYPE` ("not found"); a method, or argument types no such method
//! takes (matched exactly, as Spark matches them: `Math.sqrt(2)` has no `int` form), is
//! `UNEXPECTED_STATIC_METHOD`. An exception the method throws (`UUID.fromString("x")`, a
//! null for a primitive) fails `reflect` and is null for `try_reflect`.

use std::sync::Arc;

use datafusion::arrow::array::StringArray;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use spate_common::{Error, Result};

use super::{Arg, CallContext, arg_arrays, arg_type, default_name, string_literal, wrong_args};
use crate::java_text::{java_double, java_float};

/// The functions this module resolves, for SQL planning (see `crate::sql_functions`).
pub(super) const SQL_NAMES: &[&str] = &["reflect", "java_method", "try_reflect"];

/// A Java parameter type, from the Spark type of an argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum JType {
    Boolean,
    Byte,
    Short,
    Int,
    Long,
    Float,
    Double,
    Str,
}

fn jtype(t: &DataType) -> Option<JType> {
    Some(match t {
        DataType::Boolean => JType::Boolean,
        DataType::Int8 => JType::Byte,
        DataType::Int16 => JType::Short,
        DataType::Int32 => JType::Int,
        DataType::Int64 => JType::Long,
        DataType::Float32 => JType::Float,
        DataType::Float64 => JType::Double,
        DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 => JType::Str,
        _ => return None,
    })
}

/// The classes this module knows.
const CLASSES: &[&str] = &[
    "java.util.UUID",
    "java.lang.String",
    "java.lang.Math",
    "java.lang.Integer",
    "java.lang.Long",
    "java.lang.Boolean",
    "scala.Predef",
];

/// A static method: what it computes from its (non-null) arguments, `Ok(None)` for `void`,
/// `Err` the exception it throws.
type Method = fn(&[ScalarValue]) -> std::result::Result<Option<String>, String>;

/// A method of `java.lang.Math` of one double.
fn math_unary(name: &str) -> Option<fn(f64) -> f64> {
    Some(match name {
        "sqrt" => f64::sqrt,
        "cbrt" => f64::cbrt,
        "exp" => f64::exp,
        "log" => f64::ln,
        "log10" => f64::log10,
        "sin" => f64::sin,
        "cos" => f64::cos,
        "tan" => f64::tan,
        "asin" => f64::asin,
        "acos" => f64::acos,
        "atan" => f64::atan,
        "floor" => f64::floor,
        "ceil" => f64::ceil,
        "rint" => f64::round_ties_even,
        "abs" => f64::abs,
        "signum" => signum,
        "toDegrees" => |x| x * (180.0 / std::f64::consts::PI),
        "toRadians" => |x| x * (std::f64::consts::PI / 180.0),
        _ => return None,
    })
}

/// A method of `java.lang.Math` of two doubles.
fn math_binary(name: &str) -> Option<fn(f64, f64) -> f64> {
    Some(match name {
        "pow" => f64::powf,
        "atan2" => f64::atan2,
        "hypot" => f64::hypot,
        "max" => java_max,
        "min" => java_min,
        _ => return None,
    })
}

fn signum(x: f64) -> f64 {
    if x == 0.0 || x.is_nan() {
        x
    } else {
        x.signum()
    }
}

fn java_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

fn java_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.min(b)
    }
}

fn text(v: &ScalarValue) -> &str {
    match v {
        ScalarValue::Utf8(Some(s))
        | ScalarValue::Utf8View(Some(s))
        | ScalarValue::LargeUtf8(Some(s)) => s,
        _ => "",
    }
}

fn double(v: &ScalarValue) -> f64 {
    match v {
        ScalarValue::Float64(Some(d)) => *d,
        ScalarValue::Float32(Some(f)) => f64::from(*f),
        _ => f64::NAN,
    }
}

fn long(v: &ScalarValue) -> i64 {
    match v {
        ScalarValue::Int8(Some(i)) => i64::from(*i),
        ScalarValue::Int16(Some(i)) => i64::from(*i),
        ScalarValue::Int32(Some(i)) => i64::from(*i),
        ScalarValue::Int64(Some(i)) => *i,
        _ => 0,
    }
}

fn nfe(s: &str, radix: u32) -> String {
    let suffix = if radix == 10 {
        String::new()
    } else {
        format!(" under radix {radix}")
    };
    format!("java.lang.NumberFormatException: For input string: \"{s}\"{suffix}")
}

/// `UUID.fromString`: five hex groups of at most 8, 4, 4, 4 and 12 digits.
fn uuid_from_string(s: &str) -> std::result::Result<Option<String>, String> {
    let invalid = || format!("java.lang.IllegalArgumentException: Invalid UUID string: {s}");
    let parts: Vec<&str> = s.split('-').collect();
    let widths = [8, 4, 4, 4, 12];
    if s.len() > 36 || parts.len() != 5 {
        return Err(invalid());
    }
    let mut out = Vec::with_capacity(5);
    for (part, width) in parts.iter().zip(widths) {
        if part.is_empty() || part.len() > width {
            return Err(invalid());
        }
        let v = u64::from_str_radix(part, 16).map_err(|_| invalid())?;
        out.push(format!("{v:0width$x}"));
    }
    Ok(Some(out.join("-")))
}

/// How a known method computes.
#[derive(Clone, Copy)]
enum Call {
    Method(Method),
    Unary(fn(f64) -> f64),
    Binary(fn(f64, f64) -> f64),
}

impl Call {
    fn apply(self, args: &[ScalarValue]) -> std::result::Result<Option<String>, String> {
        match self {
            Call::Method(m) => m(args),
            Call::Unary(f) => Ok(Some(java_double(f(double(&args[0]))))),
            Call::Binary(f) => Ok(Some(java_double(f(double(&args[0]), double(&args[1]))))),
        }
    }
}

/// The method `class.name` taking `params`, if this module knows it.
fn method(class: &str, name: &str, params: &[JType]) -> Option<Call> {
    use JType::*;
    let m: Method = match (class, name, params) {
        ("java.util.UUID", "fromString", [Str]) => |a| uuid_from_string(text(&a[0])),
        ("java.util.UUID", "randomUUID", []) => |_| Ok(Some(uuid::Uuid::new_v4().to_string())),
        ("java.lang.String", "valueOf", [Str | Boolean | Int | Long]) => |a| {
            Ok(Some(match &a[0] {
                ScalarValue::Boolean(Some(b)) => b.to_string(),
                v @ (ScalarValue::Int32(_) | ScalarValue::Int64(_)) => long(v).to_string(),
                v => text(v).to_string(),
            }))
        },
        ("java.lang.String", "valueOf", [Double]) => |a| Ok(Some(java_double(double(&a[0])))),
        ("java.lang.String", "valueOf", [Float]) => |a| Ok(Some(java_float(double(&a[0]) as f32))),
        ("java.lang.Math", "abs", [Int]) => {
            |a| Ok(Some((long(&a[0]) as i32).wrapping_abs().to_string()))
        }
        ("java.lang.Math", "abs", [Long]) => |a| Ok(Some(long(&a[0]).wrapping_abs().to_string())),
        ("java.lang.Math", "max", [Int, Int] | [Long, Long]) => {
            |a| Ok(Some(long(&a[0]).max(long(&a[1])).to_string()))
        }
        ("java.lang.Math", "min", [Int, Int] | [Long, Long]) => {
            |a| Ok(Some(long(&a[0]).min(long(&a[1])).to_string()))
        }
        // Java's Math.round(double): floor(x + 0.5) as a long
        ("java.lang.Math", "round", [Double]) => |a| {
            let x = double(&a[0]);
            let r = if x.is_nan() {
                0
            } else {
                (x + 0.5).floor() as i64
            };
            Ok(Some(r.to_string()))
        },
        ("java.lang.Math", _, [Double]) => return math_unary(name).map(Call::Unary),
        ("java.lang.Math", _, [Double, Double]) => return math_binary(name).map(Call::Binary),
        ("java.lang.Integer" | "java.lang.Long", "parseInt" | "parseLong" | "valueOf", [Str]) => {
            if class == "java.lang.Integer" && name == "parseLong"
                || class == "java.lang.Long" && name == "parseInt"
            {
                return None;
            }
            if class == "java.lang.Integer" {
                |a| parse(text(&a[0]), 10, true)
            } else {
                |a| parse(text(&a[0]), 10, false)
            }
        }
        ("java.lang.Integer", "parseInt", [Str, Int]) => {
            |a| parse(text(&a[0]), long(&a[1]) as u32, true)
        }
        ("java.lang.Long", "parseLong", [Str, Int]) => {
            |a| parse(text(&a[0]), long(&a[1]) as u32, false)
        }
        ("java.lang.Integer", "toString", [Int]) | ("java.lang.Long", "toString", [Long]) => {
            |a| Ok(Some(long(&a[0]).to_string()))
        }
        ("java.lang.Integer", "toHexString", [Int]) => {
            |a| Ok(Some(format!("{:x}", long(&a[0]) as i32 as u32)))
        }
        ("java.lang.Integer", "toOctalString", [Int]) => {
            |a| Ok(Some(format!("{:o}", long(&a[0]) as i32 as u32)))
        }
        ("java.lang.Integer", "toBinaryString", [Int]) => {
            |a| Ok(Some(format!("{:b}", long(&a[0]) as i32 as u32)))
        }
        ("java.lang.Long", "toHexString", [Long]) => {
            |a| Ok(Some(format!("{:x}", long(&a[0]) as u64)))
        }
        ("java.lang.Long", "toOctalString", [Long]) => {
            |a| Ok(Some(format!("{:o}", long(&a[0]) as u64)))
        }
        ("java.lang.Long", "toBinaryString", [Long]) => {
            |a| Ok(Some(format!("{:b}", long(&a[0]) as u64)))
        }
        ("java.lang.Boolean", "parseBoolean", [Str]) => {
            |a| Ok(Some(text(&a[0]).eq_ignore_ascii_case("true").to_string()))
        }
        ("scala.Predef", "require", [Boolean]) => |a| match a[0] {
            ScalarValue::Boolean(Some(true)) => Ok(None),
            _ => Err("java.lang.IllegalArgumentException: requirement failed".into()),
        },
        _ => return None,
    };
    Some(Call::Method(m))
}

/// `Integer.parseInt` / `Long.parseLong`: an optional sign and digits of the radix.
fn parse(s: &str, radix: u32, int: bool) -> std::result::Result<Option<String>, String> {
    if !(2..=36).contains(&radix) {
        return Err(format!(
            "java.lang.NumberFormatException: radix {radix} out of range"
        ));
    }
    let v = if int {
        i32::from_str_radix(s, radix).map(i64::from)
    } else {
        i64::from_str_radix(s, radix)
    };
    v.map(|v| Some(v.to_string())).map_err(|_| nfe(s, radix))
}

/// Resolves the reflection functions.
pub(super) fn resolve(
    name: &str,
    args: &[Arg],
    cx: &CallContext<'_>,
) -> Result<Option<(Expr, String)>> {
    if !SQL_NAMES.contains(&name) {
        return Ok(None);
    }
    if args.len() < 2 {
        return Err(wrong_args(name, "2 or more", args.len()));
    }
    let label = default_name(name, args, false);
    let class = string_literal(name, "class", &args[0])?;
    let method_name = string_literal(name, "method", &args[1])?;
    let mismatch = |what: String| {
        Error::analysis(
            format!("DATATYPE_MISMATCH.{what}"),
            format!(
                "Cannot resolve \"{label}\" due to data type mismatch: {}",
                match what.as_str() {
                    "UNEXPECTED_CLASS_TYPE" => format!("class {class} not found."),
                    _ => format!(
                        "cannot find a static method {method_name} that matches the argument types in {class}."
                    ),
                }
            ),
        )
    };
    if !CLASSES.contains(&class.as_str()) {
        return Err(mismatch("UNEXPECTED_CLASS_TYPE".into()));
    }
    let mut params = Vec::with_capacity(args.len() - 2);
    for a in &args[2..] {
        match jtype(&arg_type(a, cx)?) {
            Some(t) => params.push(t),
            None => return Err(mismatch("UNEXPECTED_STATIC_METHOD".into())),
        }
    }
    let Some(call) = method(&class, &method_name, &params) else {
        return Err(mismatch("UNEXPECTED_STATIC_METHOD".into()));
    };
    let udf = ScalarUDF::new_from_impl(Reflect {
        name: name.to_string(),
        target: format!("{class}.{method_name}"),
        call: CallPtr(call),
        fail: name != "try_reflect",
        signature: Signature::variadic_any(Volatility::Volatile),
    });
    let exprs = args[2..].iter().map(|a| a.expr.clone()).collect();
    Ok(Some((udf.call(exprs), label)))
}

/// A method, compared by the name it has.
#[derive(Clone, Copy)]
struct CallPtr(Call);

impl std::fmt::Debug for CallPtr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("method")
    }
}

#[derive(Debug)]
struct Reflect {
    name: String,
    /// `class.method`, which also identifies `call`.
    target: String,
    call: CallPtr,
    fail: bool,
    signature: Signature,
}

impl PartialEq for Reflect {
    fn eq(&self, other: &Self) -> bool {
        (&self.name, &self.target, self.fail) == (&other.name, &other.target, other.fail)
    }
}

impl Eq for Reflect {}

impl std::hash::Hash for Reflect {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (&self.name, &self.target, self.fail).hash(state);
    }
}

impl ScalarUDFImpl for Reflect {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let rows = args.number_rows;
        let arrays = arg_arrays(&args)?;
        let mut out = Vec::with_capacity(rows);
        for row in 0..rows {
            let values = arrays
                .iter()
                .map(|a| ScalarValue::try_from_array(a, row))
                .collect::<DfResult<Vec<_>>>()?;
            let result = if values.iter().any(ScalarValue::is_null) {
                Err("java.lang.NullPointerException".to_string())
            } else {
                self.call.0.apply(&values)
            };
            out.push(match result {
                // String.valueOf of a void method's null
                Ok(v) => Some(v.unwrap_or_else(|| "null".into())),
                Err(_) if !self.fail => None,
                Err(e) => {
                    return Err(Error::IllegalArgument(format!("{}: {e}", self.target)).into());
                }
            });
        }
        Ok(ColumnarValue::Array(Arc::new(StringArray::from(out))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_parse_as_javas() {
        assert_eq!(
            uuid_from_string("1-2-3-4-5"),
            Ok(Some("00000001-0002-0003-0004-000000000005".into()))
        );
        assert!(uuid_from_string("x").is_err());
        assert!(uuid_from_string("123456789-2-3-4-5").is_err());
    }

    #[test]
    fn methods_match_their_exact_parameter_types() {
        assert!(method("java.lang.Math", "sqrt", &[JType::Int]).is_none());
        let sqrt = method("java.lang.Math", "sqrt", &[JType::Double]);
        assert_eq!(
            sqrt.map(|m| m.apply(&[ScalarValue::Float64(Some(2.0))])),
            Some(Ok(Some("1.4142135623730951".into())))
        );
        let parse = method("java.lang.Integer", "parseInt", &[JType::Str, JType::Int]);
        assert_eq!(
            parse.map(|m| m.apply(&[ScalarValue::from("ff"), ScalarValue::Int32(Some(16))])),
            Some(Ok(Some("255".into())))
        );
        let round = method("java.lang.Math", "round", &[JType::Double]);
        assert_eq!(
            round.map(|m| m.apply(&[ScalarValue::Float64(Some(-2.5))])),
            Some(Ok(Some("-2".into())))
        );
    }
}
