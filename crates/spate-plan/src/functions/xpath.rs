//! Spark's XPath functions over XML text (`xpath`, `xpath_string`, `xpath_boolean` and the
//! numeric `xpath_short`/`_int`/`_long`/`_float`/`_double`/`_number`), evaluated as XPath 1.0
//! by `sxd-xpath`, as Spark does with the JDK's evaluator. The path must be a string literal;
//! a null document gives null. As in Spark, the integer forms give 0 where the number is not
//! a number (Java's `Double.intValue()`), the floating forms NaN, and `xpath` the value of
//! each selected node (text, attribute value; null for an element).

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanBuilder, Float32Builder, Float64Builder, Int16Builder,
    Int32Builder, Int64Builder, ListBuilder, StringBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility, cast,
};
use spate_common::{Error, Result};
use sxd_xpath::nodeset::Node;
use sxd_xpath::{Context, Factory, Value, XPath};

use super::{Arg, CallContext, default_name, wrong_args};

/// The functions this module resolves, for SQL planning (see `crate::sql_functions`).
pub(super) const SQL_NAMES: &[&str] = &[
    "xpath",
    "xpath_string",
    "xpath_boolean",
    "xpath_short",
    "xpath_int",
    "xpath_long",
    "xpath_float",
    "xpath_double",
    "xpath_number",
];

/// Resolves the XPath functions.
pub(super) fn resolve(
    name: &str,
    args: &[Arg],
    _cx: &CallContext<'_>,
) -> Result<Option<(Expr, String)>> {
    if !SQL_NAMES.contains(&name) {
        return Ok(None);
    }
    let [xml, path] = args else {
        return Err(wrong_args(name, "2", args.len()));
    };
    let path_text = super::string_literal(name, "path", path)?;
    compile(&path_text).map_err(|e| {
        Error::IllegalArgument(format!("[INVALID_XPATH] invalid XPath '{path_text}': {e}"))
    })?;
    let udf = ScalarUDF::new_from_impl(XPathFunction {
        name: name.to_string(),
        path: path_text,
        signature: Signature::any(1, Volatility::Immutable),
    });
    let call = udf.call(vec![cast(xml.expr.clone(), DataType::Utf8)]);
    Ok(Some((call, default_name(name, args, false))))
}

fn compile(path: &str) -> std::result::Result<XPath, String> {
    Factory::new()
        .build(path)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| "empty path".to_string())
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct XPathFunction {
    name: String,
    path: String,
    signature: Signature,
}

/// The value of a selected node, as the JDK's `Node.getNodeValue` gives it.
fn node_value(node: Node<'_>) -> Option<String> {
    match node {
        Node::Text(t) => Some(t.text().to_string()),
        Node::Attribute(a) => Some(a.value().to_string()),
        Node::Comment(c) => Some(c.text().to_string()),
        Node::ProcessingInstruction(p) => Some(p.value().unwrap_or_default().to_string()),
        _ => None,
    }
}

impl XPathFunction {
    /// Evaluates the path over one document; `f` reads the result.
    fn eval<T>(
        &self,
        xpath: &XPath,
        xml: &str,
        f: impl FnOnce(Value<'_>) -> T,
    ) -> std::result::Result<T, Error> {
        let package = sxd_document::parser::parse(xml).map_err(|e| Error::Runtime {
            exception: "org.apache.spark.SparkRuntimeException",
            class: "INVALID_XML_DOCUMENT".into(),
            message: format!("{}: invalid XML document: {e:?}", self.name),
        })?;
        let document = package.as_document();
        let value = xpath
            .evaluate(&Context::new(), document.root())
            .map_err(|e| Error::Runtime {
                exception: "org.apache.spark.SparkRuntimeException",
                class: "INVALID_XPATH".into(),
                message: format!("{}: cannot evaluate '{}': {e}", self.name, self.path),
            })?;
        Ok(f(value))
    }

    fn rows(&self, docs: &ArrayRef) -> std::result::Result<ArrayRef, Error> {
        let xpath = compile(&self.path).map_err(Error::IllegalArgument)?;
        let docs = docs.as_string::<i32>();
        let n = docs.len();
        macro_rules! each {
            ($builder:expr, $read:expr) => {{
                let mut out = $builder;
                for i in 0..n {
                    if docs.is_null(i) {
                        out.append_null();
                    } else {
                        out.append_value(self.eval(&xpath, docs.value(i), $read)?);
                    }
                }
                Arc::new(out.finish()) as ArrayRef
            }};
        }
        Ok(match self.name.as_str() {
            "xpath_string" => each!(StringBuilder::new(), |v: Value<'_>| v.string()),
            "xpath_boolean" => each!(BooleanBuilder::new(), |v: Value<'_>| v.boolean()),
            // Java's narrowing: NaN is 0, a double saturates to int, then keeps its low bits
            "xpath_short" => each!(Int16Builder::new(), |v: Value<'_>| v.number() as i32 as i16),
            "xpath_int" => each!(Int32Builder::new(), |v: Value<'_>| v.number() as i32),
            "xpath_long" => each!(Int64Builder::new(), |v: Value<'_>| v.number() as i64),
            "xpath_float" => each!(Float32Builder::new(), |v: Value<'_>| v.number() as f32),
            "xpath_double" | "xpath_number" => {
                each!(Float64Builder::new(), |v: Value<'_>| v.number())
            }
            _ => {
                let mut out = ListBuilder::new(StringBuilder::new())
                    .with_field(Arc::new(Field::new("element", DataType::Utf8, true)));
                for i in 0..n {
                    if docs.is_null(i) {
                        out.append_null();
                        continue;
                    }
                    let values = self.eval(&xpath, docs.value(i), |v| match v {
                        Value::Nodeset(nodes) => nodes
                            .document_order()
                            .into_iter()
                            .map(node_value)
                            .collect::<Vec<_>>(),
                        _ => Vec::new(),
                    })?;
                    for v in values {
                        out.values().append_option(v);
                    }
                    out.append(true);
                }
                Arc::new(out.finish())
            }
        })
    }
}

impl ScalarUDFImpl for XPathFunction {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DfResult<DataType> {
        Ok(match self.name.as_str() {
            "xpath_string" => DataType::Utf8,
            "xpath_boolean" => DataType::Boolean,
            "xpath_short" => DataType::Int16,
            "xpath_int" => DataType::Int32,
            "xpath_long" => DataType::Int64,
            "xpath_float" => DataType::Float32,
            "xpath_double" | "xpath_number" => DataType::Float64,
            _ => DataType::List(Arc::new(Field::new("element", DataType::Utf8, true))),
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let docs = args.args[0].to_array(args.number_rows)?;
        Ok(ColumnarValue::Array(self.rows(&docs)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::StringArray;

    fn run(name: &str, path: &str, xml: &str) -> ArrayRef {
        let f = XPathFunction {
            name: name.into(),
            path: path.into(),
            signature: Signature::any(1, Volatility::Immutable),
        };
        let docs: ArrayRef = Arc::new(StringArray::from(vec![Some(xml), None]));
        f.rows(&docs)
            .unwrap_or_else(|_| Arc::new(StringArray::from(Vec::<String>::new())))
    }

    #[test]
    fn evaluates_as_spark_documents() {
        // Spark's documented examples (functions.xpath_*)
        let a = run("xpath_int", "sum(a/b)", "<a><b>1</b><b>2</b></a>");
        assert_eq!(
            a.as_primitive::<datafusion::arrow::datatypes::Int32Type>()
                .value(0),
            3
        );
        assert!(a.is_null(1));
        let a = run("xpath_string", "a/c", "<a><b>b</b><c>cc</c></a>");
        assert_eq!(a.as_string::<i32>().value(0), "cc");
        let a = run("xpath_boolean", "a/b", "<a><b>1</b></a>");
        assert!(a.as_boolean().value(0));
        // not a number: 0 for the integer forms, NaN for the floating ones
        let a = run("xpath_long", "a/b", "<a><b>x</b></a>");
        assert_eq!(
            a.as_primitive::<datafusion::arrow::datatypes::Int64Type>()
                .value(0),
            0
        );
        let a = run("xpath_double", "a/b", "<a><b>x</b></a>");
        assert!(
            a.as_primitive::<datafusion::arrow::datatypes::Float64Type>()
                .value(0)
                .is_nan()
        );
    }

    #[test]
    fn lists_node_values_in_document_order() {
        let a = run(
            "xpath",
            "a/b/text()",
            "<a><b>b1</b><b>b2</b><b>b3</b><c>c1</c></a>",
        );
        let list = a.as_list::<i32>().value(0);
        let texts: Vec<Option<&str>> = list.as_string::<i32>().iter().collect();
        assert_eq!(texts, vec![Some("b1"), Some("b2"), Some("b3")]);
        // elements have no node value (null), attributes their value
        let a = run("xpath", "a/b", "<a><b>1</b><b>2</b></a>");
        assert_eq!(a.as_list::<i32>().value(0).null_count(), 2);
        let a = run("xpath", "a/@id", "<a id='7'/>");
        let list = a.as_list::<i32>().value(0);
        assert_eq!(list.as_string::<i32>().value(0), "7");
    }
}
