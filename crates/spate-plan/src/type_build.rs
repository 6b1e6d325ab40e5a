//! Spark's parameterized types as Arrow types: `timestamp` in the session time zone,
//! `decimal(p, s)` within Spark's precision, `map` with Spark's entry names. The leaves of the
//! type code: the DDL parser and the protocol conversion both build on them.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Fields, TimeUnit};
use spate_common::{Error, Result};

/// Arrow's timestamp type for Spark's TIMESTAMP in the given session time zone.
pub fn timestamp(tz: &str) -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some(tz.into()))
}

/// Arrow's decimal for Spark's decimal(p, s), checked against Spark's limit of 38 digits.
pub fn decimal(precision: i32, scale: i32) -> Result<DataType> {
    if !(1..=38).contains(&precision) || scale < 0 || scale > precision {
        return Err(Error::analysis(
            "INVALID_PARAMETER_VALUE",
            format!(
                "decimal({precision},{scale}) is invalid: precision must be 1..38 and 0 <= scale <= precision"
            ),
        ));
    }
    Ok(DataType::Decimal128(precision as u8, scale as i8))
}

/// The field metadata PySpark reads to know an Arrow struct is a VARIANT (on `metadata`).
const VARIANT_MARK: &str = "variant";

/// Arrow's form of Spark's VARIANT, as PySpark reads it: a struct of the encoded `value` and
/// `metadata` bytes, the latter marked `variant: true`.
pub fn variant() -> DataType {
    let mark = std::collections::HashMap::from([(VARIANT_MARK.to_string(), "true".to_string())]);
    DataType::Struct(Fields::from(vec![
        Field::new("value", DataType::Binary, false),
        Field::new("metadata", DataType::Binary, false).with_metadata(mark),
    ]))
}

/// Whether `t` is Spark's VARIANT (see [`variant`]).
pub fn is_variant(t: &DataType) -> bool {
    match t {
        DataType::Struct(fields) => {
            fields.len() == 2
                && fields[0].name() == "value"
                && fields[1].name() == "metadata"
                && fields[1].metadata().get(VARIANT_MARK).map(String::as_str) == Some("true")
        }
        _ => false,
    }
}

/// Spark's spatial types: GEOMETRY (planar) and GEOGRAPHY (on the sphere).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Spatial {
    Geometry,
    Geography,
}

impl Spatial {
    /// The type's name, lower case (`geometry`), also the field metadata key that marks it.
    pub fn name(self) -> &'static str {
        match self {
            Spatial::Geometry => "geometry",
            Spatial::Geography => "geography",
        }
    }
}

/// The SRID of a spatial type whose values may each have their own (`geometry(any)`).
pub const MIXED_SRID: i32 = -1;

/// Arrow's form of Spark's GEOMETRY(srid) / GEOGRAPHY(srid), as PySpark reads it: a struct of
/// the value's `srid` and its `wkb` bytes, the latter marked with the kind and the type's SRID.
pub fn spatial(kind: Spatial, srid: i32) -> DataType {
    let mark = std::collections::HashMap::from([
        (kind.name().to_string(), "true".to_string()),
        ("srid".to_string(), srid.to_string()),
    ]);
    DataType::Struct(Fields::from(vec![
        Field::new("srid", DataType::Int32, false),
        Field::new("wkb", DataType::Binary, false).with_metadata(mark),
    ]))
}

/// The kind and SRID of a spatial type (see [`spatial`]).
pub fn spatial_of(t: &DataType) -> Option<(Spatial, i32)> {
    let DataType::Struct(fields) = t else {
        return None;
    };
    if fields.len() != 2 || fields[0].name() != "srid" || fields[1].name() != "wkb" {
        return None;
    }
    let meta = fields[1].metadata();
    let kind = [Spatial::Geometry, Spatial::Geography]
        .into_iter()
        .find(|k| meta.get(k.name()).map(String::as_str) == Some("true"))?;
    Some((kind, meta.get("srid")?.parse().ok()?))
}

/// Arrow's map type with Spark's entry names.
pub fn map(key: DataType, value: DataType, value_nullable: bool) -> DataType {
    let entries = Fields::from(vec![
        Field::new("key", key, false),
        Field::new("value", value, value_nullable),
    ]);
    DataType::Map(
        Arc::new(Field::new("entries", DataType::Struct(entries), false)),
        false,
    )
}
