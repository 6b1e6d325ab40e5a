//! Spark Connect literals to DataFusion scalars, and Spark's rendering of literals inside
//! column names (`1`, `abc`, `1.5`, `NULL`, `DATE '2024-01-01'`), which follows Java's
//! number formatting (`1.0E10`).

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Fields, IntervalMonthDayNano};
use datafusion::scalar::ScalarValue;
use spark_connect_proto::spark::connect::expression::Literal;
use spark_connect_proto::spark::connect::expression::literal::LiteralType;
use spate_common::{Error, Result};

use crate::types;

/// A literal as a DataFusion scalar, with the name Spark gives it.
#[expect(
    deprecated,
    reason = "older clients still send element and struct types in the deprecated fields"
)]
pub fn from_proto(lit: &Literal, tz: &str) -> Result<(ScalarValue, String)> {
    let Literal {
        literal_type,
        data_type,
    } = lit;
    let lt = literal_type
        .as_ref()
        .ok_or_else(|| Error::internal("literal without a value"))?;
    Ok(match lt {
        LiteralType::Null(t) => {
            let dt = match data_type.as_ref().or(Some(t)) {
                Some(t) if t.kind.is_some() => types::from_proto(t, tz)?,
                _ => DataType::Null,
            };
            (ScalarValue::try_from(&dt)?, "NULL".into())
        }
        LiteralType::Binary(b) => (
            ScalarValue::Binary(Some(b.to_vec())),
            format!("X'{}'", hex(b)),
        ),
        LiteralType::Boolean(b) => (ScalarValue::Boolean(Some(*b)), b.to_string()),
        LiteralType::Byte(v) => (ScalarValue::Int8(Some(*v as i8)), v.to_string()),
        LiteralType::Short(v) => (ScalarValue::Int16(Some(*v as i16)), v.to_string()),
        LiteralType::Integer(v) => (ScalarValue::Int32(Some(*v)), v.to_string()),
        LiteralType::Long(v) => (ScalarValue::Int64(Some(*v)), v.to_string()),
        LiteralType::Float(v) => (
            ScalarValue::Float32(Some(*v)),
            crate::display::java_double(f64::from(*v)),
        ),
        LiteralType::Double(v) => (
            ScalarValue::Float64(Some(*v)),
            crate::display::java_double(*v),
        ),
        LiteralType::Decimal(d) => decimal(&d.value, d.precision, d.scale)?,
        LiteralType::String(s) => (ScalarValue::Utf8(Some(s.clone())), s.clone()),
        LiteralType::Date(d) => {
            let s = ScalarValue::Date32(Some(*d));
            let name = format!("DATE '{}'", crate::display::format_scalar(&s, tz));
            (s, name)
        }
        LiteralType::Timestamp(us) => {
            let s = ScalarValue::TimestampMicrosecond(Some(*us), Some(tz.into()));
            let name = format!("TIMESTAMP '{}'", crate::display::format_scalar(&s, tz));
            (s, name)
        }
        LiteralType::TimestampNtz(us) => {
            let s = ScalarValue::TimestampMicrosecond(Some(*us), None);
            let name = format!("TIMESTAMP_NTZ '{}'", crate::display::format_scalar(&s, tz));
            (s, name)
        }
        LiteralType::CalendarInterval(i) => (
            ScalarValue::IntervalMonthDayNano(Some(IntervalMonthDayNano::new(
                i.months,
                i.days,
                i.microseconds.saturating_mul(1000),
            ))),
            format!(
                "INTERVAL '{} months {} days {} microseconds'",
                i.months, i.days, i.microseconds
            ),
        ),
        LiteralType::YearMonthInterval(m) => (
            ScalarValue::IntervalYearMonth(Some(*m)),
            format!("INTERVAL '{m}' MONTH"),
        ),
        LiteralType::DayTimeInterval(us) => (
            ScalarValue::DurationMicrosecond(Some(*us)),
            format!("INTERVAL '{us}' MICROSECOND"),
        ),
        LiteralType::Array(a) => {
            let items = a
                .elements
                .iter()
                .map(|e| from_proto(e, tz))
                .collect::<Result<Vec<_>>>()?;
            let element_type = match (data_type, &a.element_type, items.first()) {
                (Some(t), _, _) => match types::from_proto(t, tz)? {
                    DataType::List(f) => f.data_type().clone(),
                    other => other,
                },
                (None, Some(t), _) => types::from_proto(t, tz)?,
                (None, None, Some((v, _))) => v.data_type(),
                (None, None, None) => DataType::Null,
            };
            let names: Vec<String> = items.iter().map(|(_, n)| n.clone()).collect();
            let values: Vec<ScalarValue> = items.into_iter().map(|(v, _)| v).collect();
            let values = cast_all(values, &element_type)?;
            let list = ScalarValue::new_list_nullable(&values, &element_type);
            (
                ScalarValue::List(list),
                format!("array({})", names.join(", ")),
            )
        }
        LiteralType::Map(m) => {
            let side = |items: &[Literal],
                        declared: &Option<spark_connect_proto::spark::connect::DataType>,
                        pick: usize| {
                let items = items
                    .iter()
                    .map(|e| from_proto(e, tz))
                    .collect::<Result<Vec<_>>>()?;
                let t = match (data_type, declared, items.first()) {
                    (Some(t), _, _) => match types::from_proto(t, tz)? {
                        DataType::Map(entries, _) => match entries.data_type() {
                            DataType::Struct(kv) if kv.len() == 2 => kv[pick].data_type().clone(),
                            other => other.clone(),
                        },
                        other => other,
                    },
                    (None, Some(t), _) => types::from_proto(t, tz)?,
                    (None, None, Some((v, _))) => v.data_type(),
                    (None, None, None) => DataType::Null,
                };
                let names: Vec<String> = items.iter().map(|(_, n)| n.clone()).collect();
                let values = cast_all(items.into_iter().map(|(v, _)| v).collect(), &t)?;
                let array = if values.is_empty() {
                    datafusion::arrow::array::new_empty_array(&t)
                } else {
                    ScalarValue::iter_to_array(values)?
                };
                Ok::<_, Error>((array, t, names))
            };
            let (keys, key_type, key_names) = side(&m.keys, &m.key_type, 0)?;
            let (values, value_type, value_names) = side(&m.values, &m.value_type, 1)?;
            let entries = Fields::from(vec![
                Field::new("key", key_type, false),
                Field::new("value", value_type, true),
            ]);
            let n = i32::try_from(keys.len()).map_err(|e| Error::internal(e.to_string()))?;
            let structs = datafusion::arrow::array::StructArray::try_new(
                entries.clone(),
                vec![keys, values],
                None,
            )
            .map_err(|e| Error::internal(e.to_string()))?;
            let map = datafusion::arrow::array::MapArray::try_new(
                Arc::new(Field::new("entries", DataType::Struct(entries), false)),
                datafusion::arrow::buffer::OffsetBuffer::new(vec![0, n].into()),
                structs,
                None,
                false,
            )
            .map_err(|e| Error::internal(e.to_string()))?;
            let pairs: Vec<String> = key_names
                .iter()
                .zip(&value_names)
                .map(|(k, v)| format!("{k}, {v}"))
                .collect();
            (
                ScalarValue::Map(Arc::new(map)),
                format!("map({})", pairs.join(", ")),
            )
        }
        LiteralType::Struct(s) => {
            let items = s
                .elements
                .iter()
                .map(|e| from_proto(e, tz))
                .collect::<Result<Vec<_>>>()?;
            let declared = match (data_type, &s.struct_type) {
                (Some(t), _) | (None, Some(t)) => match types::from_proto(t, tz)? {
                    DataType::Struct(f) => Some(f),
                    _ => None,
                },
                _ => None,
            };
            let fields: Fields = match declared {
                Some(f) => f,
                None => items
                    .iter()
                    .enumerate()
                    .map(|(i, (v, _))| Field::new(format!("col{}", i + 1), v.data_type(), true))
                    .collect(),
            };
            let arrays = items
                .iter()
                .zip(fields.iter())
                .map(|((v, _), f)| v.cast_to(f.data_type())?.to_array())
                .collect::<datafusion::error::Result<Vec<_>>>()?;
            let names: Vec<String> = items.iter().map(|(_, n)| n.clone()).collect();
            let array = datafusion::arrow::array::StructArray::try_new(fields, arrays, None)
                .map_err(|e| Error::internal(e.to_string()))?;
            (
                ScalarValue::Struct(Arc::new(array)),
                format!("struct({})", names.join(", ")),
            )
        }
        LiteralType::TimestampNtzNanos(t) => {
            let s = ScalarValue::TimestampMicrosecond(Some(t.epoch_micros), None);
            let name = format!("TIMESTAMP_NTZ '{}'", crate::display::format_scalar(&s, tz));
            (s, name)
        }
        LiteralType::TimestampLtzNanos(t) => {
            let s = ScalarValue::TimestampMicrosecond(Some(t.epoch_micros), Some(tz.into()));
            let name = format!("TIMESTAMP '{}'", crate::display::format_scalar(&s, tz));
            (s, name)
        }
        LiteralType::Time(t) => (
            ScalarValue::Time64Nanosecond(Some(t.nano)),
            format!("TIME '{}'", crate::display::time_of_day(t.nano)),
        ),
        other => return Err(Error::unsupported(format!("literal {other:?}"))),
    })
}

fn cast_all(values: Vec<ScalarValue>, t: &DataType) -> Result<Vec<ScalarValue>> {
    values
        .into_iter()
        .map(|v| {
            if v.data_type() == *t {
                Ok(v)
            } else {
                Ok(v.cast_to(t)?)
            }
        })
        .collect()
}

fn decimal(
    value: &str,
    precision: Option<i32>,
    scale: Option<i32>,
) -> Result<(ScalarValue, String)> {
    let text = value.trim();
    let (int_part, frac_part) = text.split_once('.').unwrap_or((text, ""));
    let digits = format!("{int_part}{frac_part}");
    let unscaled: i128 = digits
        .parse()
        .map_err(|_| Error::IllegalArgument(format!("invalid decimal literal '{value}'")))?;
    let natural_scale = frac_part.len() as i32;
    let digit_count = digits
        .trim_start_matches(['-', '+'])
        .trim_start_matches('0')
        .len() as i32;
    // as Spark Connect: the value's own precision and scale, widened to the declared ones
    // (PySpark declares decimal(10,0) for every `lit(Decimal(...))`)
    let scale = scale.map_or(natural_scale, |s| s.max(natural_scale));
    let int_digits = (digit_count - natural_scale).max(0);
    let precision = precision
        .map_or(digit_count, |p| p.max(digit_count))
        .max(int_digits + scale)
        .max(1);
    let rescaled = if scale >= natural_scale {
        unscaled * 10i128.pow((scale - natural_scale) as u32)
    } else {
        unscaled / 10i128.pow((natural_scale - scale) as u32)
    };
    types::decimal(precision, scale)?;
    Ok((
        ScalarValue::Decimal128(Some(rescaled), precision as u8, scale as i8),
        text.to_string(),
    ))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

/// Integer literals that fit in 32 bits as `int`, Spark's type for them.
/// Lambdas keep theirs: their variables' types were fixed when they were planned.
pub(crate) fn int_literals(
    e: datafusion::logical_expr::Expr,
) -> datafusion::error::Result<
    datafusion::common::tree_node::Transformed<datafusion::logical_expr::Expr>,
> {
    use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
    e.transform_down(|e| match e {
        datafusion::logical_expr::Expr::Literal(ScalarValue::Int64(Some(v)), meta)
            if i32::try_from(v).is_ok() =>
        {
            Ok(datafusion::common::tree_node::Transformed::yes(
                datafusion::logical_expr::Expr::Literal(ScalarValue::Int32(Some(v as i32)), meta),
            ))
        }
        e @ datafusion::logical_expr::Expr::HigherOrderFunction(_) => Ok(
            datafusion::common::tree_node::Transformed::new(e, false, TreeNodeRecursion::Jump),
        ),
        e => Ok(datafusion::common::tree_node::Transformed::no(e)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_doubles_like_java() {
        use crate::display::java_double;
        assert_eq!(java_double(1.0), "1.0");
        assert_eq!(java_double(1.5), "1.5");
        assert_eq!(java_double(1e10), "1.0E10");
        assert_eq!(java_double(1.25e-5), "1.25E-5");
        assert_eq!(java_double(123456.789), "123456.789");
    }

    #[test]
    fn widens_declared_decimals_to_the_value() {
        // PySpark declares decimal(10,0) for lit(Decimal("59.999999")): Spark keeps the scale
        let (v, _) =
            decimal("59.999999", Some(10), Some(0)).unwrap_or((ScalarValue::Null, String::new()));
        assert_eq!(v, ScalarValue::Decimal128(Some(59_999_999), 10, 6));
        let (v, _) = decimal("0.001", None, None).unwrap_or((ScalarValue::Null, String::new()));
        assert_eq!(v, ScalarValue::Decimal128(Some(1), 3, 3));
    }

    #[test]
    fn parses_decimals() {
        let (v, name) = decimal("12.50", None, None)
            .ok()
            .unwrap_or((ScalarValue::Null, String::new()));
        assert_eq!(v, ScalarValue::Decimal128(Some(1250), 4, 2));
        assert_eq!(name, "12.50");
    }
}
