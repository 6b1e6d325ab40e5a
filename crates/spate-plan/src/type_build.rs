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
