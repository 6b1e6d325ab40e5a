//! Spark's `mask(str[, upperChar = 'X'[, lowerChar = 'x'[, digitChar = 'n'[, otherChar =
//! NULL]]]])`: each upper-case letter, lower-case letter and digit replaced by its class's
//! character, and any other character by `otherChar`; a null replacement leaves its class
//! unchanged. Named with every replacement, as Spark: `mask(s, X, x, n, NULL)`.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, StringArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility, cast,
    lit,
};
use datafusion::scalar::ScalarValue;
use spate_common::Result;

use super::{Arg, CallContext, default_name, wrong_args};

/// The functions of this module.
pub(super) const SQL_NAMES: &[&str] = &["mask"];

/// Resolves `mask`.
pub(super) fn resolve(
    name: &str,
    args: &[Arg],
    _cx: &CallContext<'_>,
) -> Result<Option<(Expr, String)>> {
    if name != "mask" {
        return Ok(None);
    }
    if args.is_empty() || args.len() > 5 {
        return Err(wrong_args(name, "1 to 5", args.len()));
    }
    let defaults = [
        ("X", lit("X")),
        ("x", lit("x")),
        ("n", lit("n")),
        ("NULL", lit(ScalarValue::Utf8(None))),
    ];
    let mut all = args.to_vec();
    for (label, e) in defaults.into_iter().skip(args.len() - 1) {
        all.push(Arg {
            expr: e,
            name: label.into(),
        });
    }
    let udf = ScalarUDF::new_from_impl(Mask {
        signature: Signature::any(5, Volatility::Immutable),
    });
    let exprs = all
        .iter()
        .map(|a| cast(a.expr.clone(), DataType::Utf8))
        .collect();
    Ok(Some((udf.call(exprs), default_name(name, &all, false))))
}

/// `text` masked with the replacement of each class (`None`: the class is kept).
fn mask(text: &str, replace: [Option<char>; 4]) -> String {
    text.chars()
        .map(|c| {
            let class = if c.is_ascii_uppercase() {
                0
            } else if c.is_ascii_lowercase() {
                1
            } else if c.is_ascii_digit() {
                2
            } else {
                3
            };
            replace[class].unwrap_or(c)
        })
        .collect()
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Mask {
    signature: Signature,
}

impl ScalarUDFImpl for Mask {
    fn name(&self) -> &str {
        "mask"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let text = arrays[0].as_string::<i32>();
        let classes: Vec<_> = arrays[1..].iter().map(|a| a.as_string::<i32>()).collect();
        let out: StringArray = (0..text.len())
            .map(|i| {
                if text.is_null(i) {
                    return None;
                }
                let replace = std::array::from_fn(|k| {
                    let c = classes[k];
                    (c.is_valid(i)).then(|| c.value(i).chars().next()).flatten()
                });
                Some(mask(text.value(i), replace))
            })
            .collect();
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn masks_each_class() {
        let default = [Some('X'), Some('x'), Some('n'), None];
        assert_eq!(super::mask("AbCD123-@$#", default), "XxXXnnn-@$#");
        let all = [Some('Y'), Some('y'), Some('d'), Some('*')];
        assert_eq!(super::mask("abcd-EFGH-8765", all), "yyyy*YYYY*dddd");
    }
}
