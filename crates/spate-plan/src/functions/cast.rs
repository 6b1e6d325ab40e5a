//! `CAST(x AS STRING)` with Spark's text forms: Java doubles (`1.0E10`), timestamps as
//! `yyyy-MM-dd HH:mm:ss[.ffffff]` in the session time zone, `[1, 2]` arrays, `{a -> 1}` maps
//! and `{1, x}` structs — the same formatter `show()` uses.

use std::sync::Arc;

use datafusion::arrow::array::{Array, StringBuilder};
use datafusion::arrow::datatypes::DataType;
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use crate::display::format_cell;

/// The UDF behind Spark's string cast.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SparkToString {
    signature: Signature,
    tz: String,
}

impl ScalarUDFImpl for SparkToString {
    fn name(&self) -> &str {
        "spark_to_string"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let array = args.args[0].to_array(args.number_rows)?;
        let mut out = StringBuilder::with_capacity(array.len(), array.len() * 8);
        for i in 0..array.len() {
            if array.is_null(i) {
                out.append_null();
            } else {
                out.append_value(format_cell(&array, i, &self.tz));
            }
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

/// `CAST(e AS STRING)` with Spark's formatting.
pub fn to_spark_string(e: Expr, tz: &str) -> Expr {
    let udf = ScalarUDF::new_from_impl(SparkToString {
        signature: Signature::any(1, Volatility::Immutable),
        tz: tz.to_string(),
    });
    udf.call(vec![e])
}
