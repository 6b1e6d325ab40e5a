//! Spark SQL types and their Arrow representation. Spark Connect describes types with the
//! `spark.connect.DataType` message; the engine works with Arrow types. This module converts
//! both ways and renders types the way Spark prints them: `simpleString` for `df.dtypes` and
//! struct DDL (`int`, `bigint`, `decimal(10,2)`, `array<string>`), and `sql` for expression
//! names (`CAST(a AS INT)`).
//!
//! Mapping: byte/short/int/long -> Int8/16/32/64, float/double -> Float32/64, decimal(p,s) ->
//! Decimal128, string -> Utf8, binary -> Binary, boolean, date -> Date32, timestamp ->
//! Timestamp(us, session time zone), timestamp_ntz -> Timestamp(us, none), day-time interval
//! -> Duration(us), year-month interval -> Interval(YearMonth), calendar interval ->
//! Interval(MonthDayNano), time -> Time64(ns), array -> List, map -> Map(entries: key, value), struct -> Struct,
//! void -> Null, variant -> Struct(value, metadata) as PySpark reads it.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Fields, IntervalUnit, TimeUnit};
use spark_connect_proto::spark::connect::DataType as ProtoType;
use spark_connect_proto::spark::connect::data_type::{self as dt, Kind};
use spate_common::{Error, Result};

pub use crate::type_build::{
    Spatial, decimal, is_variant, map, spatial, spatial_of, timestamp, variant,
};

/// Converts a Spark Connect type to Arrow. `tz` is the session time zone for timestamps.
pub fn from_proto(t: &ProtoType, tz: &str) -> Result<DataType> {
    let kind = t
        .kind
        .as_ref()
        .ok_or_else(|| Error::internal("data type without a kind"))?;
    Ok(match kind {
        Kind::Null(_) => DataType::Null,
        Kind::Binary(_) => DataType::Binary,
        Kind::Boolean(_) => DataType::Boolean,
        Kind::Byte(_) => DataType::Int8,
        Kind::Short(_) => DataType::Int16,
        Kind::Integer(_) => DataType::Int32,
        Kind::Long(_) => DataType::Int64,
        Kind::Float(_) => DataType::Float32,
        Kind::Double(_) => DataType::Float64,
        Kind::Decimal(d) => decimal(d.precision.unwrap_or(10), d.scale.unwrap_or(0))?,
        Kind::String(_) | Kind::Char(_) | Kind::VarChar(_) => DataType::Utf8,
        Kind::Date(_) => DataType::Date32,
        Kind::Timestamp(_) => timestamp(tz),
        Kind::TimestampNtz(_) => DataType::Timestamp(TimeUnit::Microsecond, None),
        Kind::Time(_) => DataType::Time64(TimeUnit::Nanosecond),
        Kind::CalendarInterval(_) => DataType::Interval(IntervalUnit::MonthDayNano),
        Kind::YearMonthInterval(_) => DataType::Interval(IntervalUnit::YearMonth),
        Kind::DayTimeInterval(_) => DataType::Duration(TimeUnit::Microsecond),
        Kind::Variant(_) => variant(),
        Kind::Geometry(g) => spatial(Spatial::Geometry, g.srid),
        Kind::Geography(g) => spatial(Spatial::Geography, g.srid),
        Kind::Array(a) => {
            let element = required(&a.element_type, "array element")?;
            DataType::List(Arc::new(Field::new(
                "element",
                from_proto(element, tz)?,
                a.contains_null,
            )))
        }
        Kind::Struct(s) => DataType::Struct(struct_fields(s, tz)?),
        Kind::Map(m) => map(
            from_proto(required(&m.key_type, "map key")?, tz)?,
            from_proto(required(&m.value_type, "map value")?, tz)?,
            m.value_contains_null,
        ),
        Kind::Unparsed(u) => crate::type_parser::parse_data_type(&u.data_type_string, tz)?,
        Kind::Udt(u) => match &u.sql_type {
            Some(inner) => from_proto(inner, tz)?,
            None => {
                return Err(Error::unsupported(format!(
                    "user-defined type '{}'",
                    u.r#type
                )));
            }
        },
        other => return Err(Error::unsupported(format!("data type {other:?}"))),
    })
}

/// The fractional-second digits of Spark's TIME type (`time(6)`, its default and the only
/// precision Spate keeps: values are Arrow `Time64(ns)`, as the PySpark client expects).
pub const TIME_PRECISION: i32 = 6;

/// The fields of a Spark Connect struct type as Arrow fields.
pub fn struct_fields(s: &dt::Struct, tz: &str) -> Result<Fields> {
    s.fields
        .iter()
        .map(|f| {
            let t = f
                .data_type
                .as_ref()
                .ok_or_else(|| Error::internal("struct field type is missing"))?;
            Ok(Field::new(&f.name, from_proto(t, tz)?, f.nullable))
        })
        .collect::<Result<Vec<_>>>()
        .map(Fields::from)
}

fn required<'a, T: std::ops::Deref<Target = ProtoType>>(
    t: &'a Option<T>,
    what: &str,
) -> Result<&'a ProtoType> {
    t.as_deref()
        .ok_or_else(|| Error::internal(format!("{what} type is missing")))
}

fn prim(kind: Kind) -> ProtoType {
    ProtoType { kind: Some(kind) }
}

/// The Arrow field metadata key holding a column's Spark metadata (its JSON, as
/// `alias(name, metadata=...)` and `withMetadata` give it).
pub const SPARK_METADATA: &str = "spark.metadata";

/// Field metadata holding Spark metadata `json`; `None` for none or `{}`.
pub fn spark_metadata(json: Option<&str>) -> Option<datafusion::common::metadata::FieldMetadata> {
    let json = json.filter(|j| !j.trim().is_empty() && j.trim() != "{}")?;
    let mut inner = std::collections::BTreeMap::new();
    inner.insert(SPARK_METADATA.to_string(), json.to_string());
    Some(inner.into())
}

/// Converts an Arrow type to Spark Connect's type message.
/// A field's Spark type: its Arrow type, and for a year-month interval the fields its
/// metadata records (see `crate::functions::ym_interval`).
fn field_type_proto(f: &Field) -> Result<ProtoType> {
    if matches!(f.data_type(), DataType::Interval(IntervalUnit::YearMonth))
        && f.metadata()
            .contains_key(crate::functions::ym_interval::FIELDS_KEY)
    {
        let (start, end) = match crate::functions::ym_interval::fields_of(f) {
            "YEAR" => (0, 0),
            "MONTH" => (1, 1),
            _ => (0, 1),
        };
        return Ok(ProtoType {
            kind: Some(Kind::YearMonthInterval(dt::YearMonthInterval {
                start_field: Some(start),
                end_field: Some(end),
                type_variation_reference: 0,
            })),
        });
    }
    to_proto(f.data_type())
}

pub fn to_proto(t: &DataType) -> Result<ProtoType> {
    Ok(prim(match t {
        DataType::Null => Kind::Null(dt::Null::default()),
        DataType::Boolean => Kind::Boolean(dt::Boolean::default()),
        DataType::Int8 | DataType::UInt8 => Kind::Byte(dt::Byte::default()),
        DataType::Int16 | DataType::UInt16 => Kind::Short(dt::Short::default()),
        DataType::Int32 | DataType::UInt32 => Kind::Integer(dt::Integer::default()),
        DataType::Int64 | DataType::UInt64 => Kind::Long(dt::Long::default()),
        DataType::Float16 | DataType::Float32 => Kind::Float(dt::Float::default()),
        DataType::Float64 => Kind::Double(dt::Double::default()),
        DataType::Decimal32(p, s)
        | DataType::Decimal64(p, s)
        | DataType::Decimal128(p, s)
        | DataType::Decimal256(p, s) => Kind::Decimal(dt::Decimal {
            precision: Some(i32::from(*p)),
            scale: Some(i32::from(*s)),
            type_variation_reference: 0,
        }),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            Kind::String(dt::String::default())
        }
        DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_) => Kind::Binary(dt::Binary::default()),
        DataType::Date32 | DataType::Date64 => Kind::Date(dt::Date::default()),
        DataType::Timestamp(_, Some(_)) => Kind::Timestamp(dt::Timestamp::default()),
        DataType::Timestamp(_, None) => Kind::TimestampNtz(dt::TimestampNtz::default()),
        DataType::Time32(_) | DataType::Time64(_) => Kind::Time(dt::Time {
            precision: Some(TIME_PRECISION),
            type_variation_reference: 0,
        }),
        DataType::Duration(_) | DataType::Interval(IntervalUnit::DayTime) => {
            Kind::DayTimeInterval(dt::DayTimeInterval {
                start_field: Some(0),
                end_field: Some(3),
                type_variation_reference: 0,
            })
        }
        DataType::Interval(IntervalUnit::YearMonth) => {
            Kind::YearMonthInterval(dt::YearMonthInterval {
                start_field: Some(0),
                end_field: Some(1),
                type_variation_reference: 0,
            })
        }
        DataType::Interval(IntervalUnit::MonthDayNano) => {
            Kind::CalendarInterval(dt::CalendarInterval::default())
        }
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
            Kind::Array(Box::new(dt::Array {
                element_type: Some(Box::new(to_proto(f.data_type())?)),
                contains_null: f.is_nullable(),
                type_variation_reference: 0,
            }))
        }
        t if is_variant(t) => Kind::Variant(dt::Variant::default()),
        t if spatial_of(t).is_some() => match spatial_of(t) {
            Some((Spatial::Geography, srid)) => Kind::Geography(dt::Geography {
                srid,
                type_variation_reference: 0,
            }),
            _ => Kind::Geometry(dt::Geometry {
                srid: spatial_of(t).map_or(0, |(_, s)| s),
                type_variation_reference: 0,
            }),
        },
        DataType::Struct(fields) => Kind::Struct(dt::Struct {
            fields: fields
                .iter()
                .map(|f| {
                    Ok(dt::StructField {
                        name: f.name().clone(),
                        data_type: Some(field_type_proto(f)?),
                        nullable: f.is_nullable(),
                        metadata: f.metadata().get(SPARK_METADATA).cloned(),
                    })
                })
                .collect::<Result<_>>()?,
            type_variation_reference: 0,
        }),
        DataType::Map(entries, _) => {
            let (k, v) = map_entries(entries.data_type())?;
            Kind::Map(Box::new(dt::Map {
                key_type: Some(Box::new(to_proto(k.data_type())?)),
                value_type: Some(Box::new(to_proto(v.data_type())?)),
                value_contains_null: v.is_nullable(),
                type_variation_reference: 0,
            }))
        }
        DataType::Dictionary(_, v) => return to_proto(v),
        other => {
            return Err(Error::unsupported(format!(
                "arrow type {other} in a result"
            )));
        }
    }))
}

fn map_entries(entries: &DataType) -> Result<(&Field, &Field)> {
    match entries {
        DataType::Struct(f) if f.len() == 2 => Ok((&f[0], &f[1])),
        other => Err(Error::internal(format!("map entries of type {other}"))),
    }
}

/// Spark's `simpleString` of a type: what `df.dtypes` and `printSchema()` show.
pub fn simple_string(t: &DataType) -> String {
    match t {
        DataType::Null => "void".into(),
        DataType::Boolean => "boolean".into(),
        DataType::Int8 | DataType::UInt8 => "tinyint".into(),
        DataType::Int16 | DataType::UInt16 => "smallint".into(),
        DataType::Int32 | DataType::UInt32 => "int".into(),
        DataType::Int64 | DataType::UInt64 => "bigint".into(),
        DataType::Float16 | DataType::Float32 => "float".into(),
        DataType::Float64 => "double".into(),
        DataType::Decimal32(p, s)
        | DataType::Decimal64(p, s)
        | DataType::Decimal128(p, s)
        | DataType::Decimal256(p, s) => format!("decimal({p},{s})"),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "string".into(),
        DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_) => "binary".into(),
        DataType::Date32 | DataType::Date64 => "date".into(),
        DataType::Timestamp(_, Some(_)) => "timestamp".into(),
        DataType::Timestamp(_, None) => "timestamp_ntz".into(),
        DataType::Time32(_) | DataType::Time64(_) => format!("time({TIME_PRECISION})"),
        DataType::Duration(_) | DataType::Interval(IntervalUnit::DayTime) => {
            "interval day to second".into()
        }
        DataType::Interval(IntervalUnit::YearMonth) => "interval year to month".into(),
        DataType::Interval(IntervalUnit::MonthDayNano) => "interval".into(),
        t if is_variant(t) => "variant".into(),
        t if spatial_of(t).is_some() => match spatial_of(t) {
            Some((kind, crate::type_build::MIXED_SRID)) => format!("{}(any)", kind.name()),
            Some((kind, srid)) => format!("{}({srid})", kind.name()),
            None => "struct".into(),
        },
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
            format!("array<{}>", simple_string(f.data_type()))
        }
        DataType::Struct(fields) => format!(
            "struct<{}>",
            fields
                .iter()
                .map(|f| format!("{}:{}", f.name(), simple_string(f.data_type())))
                .collect::<Vec<_>>()
                .join(",")
        ),
        DataType::Map(entries, _) => match map_entries(entries.data_type()) {
            Ok((k, v)) => {
                format!(
                    "map<{},{}>",
                    simple_string(k.data_type()),
                    simple_string(v.data_type())
                )
            }
            Err(_) => "map".into(),
        },
        DataType::Dictionary(_, v) => simple_string(v),
        other => other.to_string().to_lowercase(),
    }
}

/// Spark's `sql` form of a type, used in expression names such as `CAST(a AS BIGINT)`.
pub fn sql_string(t: &DataType) -> String {
    match t {
        t if is_variant(t) || spatial_of(t).is_some() => simple_string(t).to_uppercase(),
        DataType::Struct(fields) => format!(
            "STRUCT<{}>",
            fields
                .iter()
                .map(|f| format!("{}: {}", f.name(), sql_string(f.data_type())))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        DataType::List(f) | DataType::LargeList(f) => {
            format!("ARRAY<{}>", sql_string(f.data_type()))
        }
        DataType::Map(entries, _) => match map_entries(entries.data_type()) {
            Ok((k, v)) => format!(
                "MAP<{}, {}>",
                sql_string(k.data_type()),
                sql_string(v.data_type())
            ),
            Err(_) => "MAP".into(),
        },
        other => simple_string(other).to_uppercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_nested_types() {
        let t = DataType::Struct(Fields::from(vec![
            Field::new("a", DataType::Int32, true),
            Field::new(
                "b",
                DataType::List(Arc::new(Field::new("element", DataType::Utf8, true))),
                false,
            ),
            Field::new("m", map(DataType::Utf8, DataType::Float64, true), true),
            Field::new("d", DataType::Decimal128(10, 2), true),
        ]));
        let back = from_proto(&to_proto(&t).ok().unwrap_or_default(), "UTC").ok();
        assert_eq!(back.as_ref().map(simple_string), Some(simple_string(&t)));
        assert_eq!(
            simple_string(&t),
            "struct<a:int,b:array<string>,m:map<string,double>,d:decimal(10,2)>"
        );
    }

    #[test]
    fn names_types_as_spark_does() {
        assert_eq!(simple_string(&DataType::Int64), "bigint");
        assert_eq!(sql_string(&DataType::Int64), "BIGINT");
        assert_eq!(simple_string(&timestamp("UTC")), "timestamp");
        assert_eq!(
            simple_string(&DataType::Timestamp(TimeUnit::Microsecond, None)),
            "timestamp_ntz"
        );
        assert!(decimal(39, 0).is_err());
    }
}
