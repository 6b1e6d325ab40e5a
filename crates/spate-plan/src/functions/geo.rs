//! Spark's spatial functions over GEOMETRY and GEOGRAPHY values (`type_build::spatial`: the
//! value's SRID and its well-known binary): `st_geomfromwkb(wkb[, srid])`,
//! `st_geogfromwkb(wkb)`, `st_asbinary(geo[, 'NDR' | 'XDR'])`, `st_srid(geo)` and
//! `st_setsrid(geo, srid)`.
//!
//! As in Spark 4.2: the WKB is read whole (points, line strings, polygons, their multi forms
//! and collections, with Z and M coordinates in ISO or EWKB codes; bytes after the geometry
//! are not read) and kept little-endian; a buffer that ends early or a geography coordinate
//! off the globe is `WKB_PARSE_ERROR`; SRIDs are those Spark knows (0, 3857 and 4326; a
//! geography's only 4326), anything else `ST_INVALID_SRID_VALUE`; an endianness other than
//! NDR or XDR is `ST_INVALID_ENDIANNESS_VALUE`.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, BinaryBuilder, Int32Array, Int32Builder, StructArray,
};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::datatypes::{DataType, Int32Type};
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility, cast,
};
use datafusion::scalar::ScalarValue;
use spate_common::{Error, Result};

use super::{Arg, CallContext, arg_arrays, arg_type, string_literal, wrong_args};
use crate::type_build::{MIXED_SRID, Spatial, spatial, spatial_of};

/// The functions this module resolves, for SQL planning (see `crate::sql_functions`).
pub(super) const SQL_NAMES: &[&str] = &[
    "st_geomfromwkb",
    "st_geogfromwkb",
    "st_asbinary",
    "st_srid",
    "st_setsrid",
];

/// The SRIDs Spark knows, and whether each is geographic.
const SRIDS: &[(i32, bool)] = &[(0, false), (3857, false), (4326, true)];

/// Whether a value of `kind` may have SRID `srid`.
fn srid_allowed(kind: Spatial, srid: i32) -> bool {
    SRIDS
        .iter()
        .any(|(s, geographic)| *s == srid && (kind == Spatial::Geometry || *geographic))
}

fn bad_srid(srid: i32) -> Error {
    Error::Runtime {
        exception: "org.apache.spark.SparkIllegalArgumentException",
        class: "ST_INVALID_SRID_VALUE".into(),
        message: format!(
            "Invalid or unsupported SRID (spatial reference identifier) value: {srid}."
        ),
    }
}

fn wkb_error(what: String) -> Error {
    Error::Runtime {
        exception: "org.apache.spark.SparkIllegalArgumentException",
        class: "WKB_PARSE_ERROR".into(),
        message: format!("Error parsing WKB: {what}"),
    }
}

/// What a [`Geo`] function computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Op {
    /// Reads WKB into a value of this kind (with the SRID column).
    From(Spatial),
    /// Writes the WKB, big-endian when true.
    AsBinary(bool),
    Srid,
    /// Gives the value the SRID column (checked against the kind).
    SetSrid(Spatial),
}

/// Resolves the spatial functions.
pub(super) fn resolve(
    name: &str,
    args: &[Arg],
    cx: &CallContext<'_>,
) -> Result<Option<(Expr, String)>> {
    if !SQL_NAMES.contains(&name) {
        return Ok(None);
    }
    let spatial_arg = |a: &Arg| -> Result<(Spatial, i32)> {
        let t = arg_type(a, cx)?;
        spatial_of(&t).ok_or_else(|| {
            Error::analysis(
                "DATATYPE_MISMATCH.UNEXPECTED_INPUT_TYPE",
                format!(
                    "Cannot resolve \"{name}({})\": the first parameter requires a GEOMETRY or GEOGRAPHY value, however \"{}\" has the type \"{}\".",
                    a.name,
                    a.name,
                    crate::types::sql_string(&t)
                ),
            )
        })
    };
    // an untyped NULL where a spatial value is wanted: a null of the result (`st_srid(NULL)`)
    if let Some(first) = args.first()
        && matches!(name, "st_asbinary" | "st_srid")
        && arg_type(first, cx)? == DataType::Null
    {
        let t = if name == "st_srid" {
            DataType::Int32
        } else {
            DataType::Binary
        };
        let label = super::default_name(name, args, false);
        return Ok(Some((
            Expr::Literal(ScalarValue::try_from(&t)?, None),
            label,
        )));
    }
    let (op, exprs, label, result) = match (name, args) {
        ("st_geogfromwkb", [wkb]) => (
            Op::From(Spatial::Geography),
            vec![
                cast(wkb.expr.clone(), DataType::Binary),
                datafusion::logical_expr::lit(4326),
            ],
            format!("st_geogfromwkb({})", wkb.name),
            spatial(Spatial::Geography, 4326),
        ),
        ("st_geomfromwkb", [wkb, rest @ ..]) if rest.len() <= 1 => {
            let (srid_expr, srid_name, srid) = match rest.first() {
                None => (datafusion::logical_expr::lit(0), "0".to_string(), 0),
                Some(s) => match &s.expr {
                    Expr::Literal(v, _) => {
                        let n = literal_int(v).ok_or_else(|| bad_srid(-1))?;
                        if !srid_allowed(Spatial::Geometry, n) {
                            return Err(bad_srid(n));
                        }
                        (s.expr.clone(), s.name.clone(), n)
                    }
                    _ => (s.expr.clone(), s.name.clone(), MIXED_SRID),
                },
            };
            (
                Op::From(Spatial::Geometry),
                vec![
                    cast(wkb.expr.clone(), DataType::Binary),
                    cast(srid_expr, DataType::Int32),
                ],
                format!("st_geomfromwkb({}, {srid_name})", wkb.name),
                spatial(Spatial::Geometry, srid),
            )
        }
        ("st_asbinary", [geo, rest @ ..]) if rest.len() <= 1 => {
            spatial_arg(geo)?;
            let order = match rest.first() {
                Some(e) => string_literal(name, "endianness", e)?,
                None => "NDR".to_string(),
            };
            let big = match order.to_ascii_uppercase().as_str() {
                "NDR" => false,
                "XDR" => true,
                _ => {
                    return Err(Error::Runtime {
                        exception: "org.apache.spark.SparkIllegalArgumentException",
                        class: "ST_INVALID_ENDIANNESS_VALUE".into(),
                        message: format!(
                            "Endianness '{order}' must be either 'NDR' (little-endian) or 'XDR' (big-endian)."
                        ),
                    });
                }
            };
            (
                Op::AsBinary(big),
                vec![geo.expr.clone()],
                format!("st_asbinary({}, {order})", geo.name),
                DataType::Binary,
            )
        }
        ("st_srid", [geo]) => {
            spatial_arg(geo)?;
            (
                Op::Srid,
                vec![geo.expr.clone()],
                format!("st_srid({})", geo.name),
                DataType::Int32,
            )
        }
        ("st_setsrid", [geo, srid]) => {
            let (kind, _) = spatial_arg(geo)?;
            let type_srid = match &srid.expr {
                Expr::Literal(v, _) => {
                    let n = literal_int(v).ok_or_else(|| bad_srid(-1))?;
                    if !srid_allowed(kind, n) {
                        return Err(bad_srid(n));
                    }
                    n
                }
                _ => MIXED_SRID,
            };
            (
                Op::SetSrid(kind),
                vec![geo.expr.clone(), cast(srid.expr.clone(), DataType::Int32)],
                format!("st_setsrid({}, {})", geo.name, srid.name),
                spatial(kind, type_srid),
            )
        }
        _ => return Err(wrong_args(name, "1 or 2", args.len())),
    };
    let udf = ScalarUDF::new_from_impl(Geo {
        name: name.to_string(),
        op,
        result,
        signature: Signature::any(exprs.len(), Volatility::Immutable),
    });
    Ok(Some((udf.call(exprs), label)))
}

fn literal_int(v: &ScalarValue) -> Option<i32> {
    match v {
        ScalarValue::Int8(Some(i)) => Some(i32::from(*i)),
        ScalarValue::Int16(Some(i)) => Some(i32::from(*i)),
        ScalarValue::Int32(Some(i)) => Some(*i),
        ScalarValue::Int64(Some(i)) => i32::try_from(*i).ok(),
        _ => None,
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Geo {
    name: String,
    op: Op,
    result: DataType,
    signature: Signature,
}

/// A spatial column of `(srid, wkb)` rows of type `t`.
fn spatial_column(t: &DataType, rows: Vec<Option<(i32, Vec<u8>)>>) -> DfResult<ArrayRef> {
    let DataType::Struct(fields) = t else {
        return Err(datafusion::error::DataFusionError::Internal(
            "a spatial type is a struct".into(),
        ));
    };
    let mut srids = Int32Builder::new();
    let mut wkbs = BinaryBuilder::new();
    let valid: Vec<bool> = rows.iter().map(Option::is_some).collect();
    for row in rows {
        let (srid, wkb) = row.unwrap_or_default();
        srids.append_value(srid);
        wkbs.append_value(wkb);
    }
    Ok(Arc::new(StructArray::try_new(
        fields.clone(),
        vec![Arc::new(srids.finish()), Arc::new(wkbs.finish())],
        Some(NullBuffer::from(valid)),
    )?))
}

fn parts(array: &ArrayRef) -> DfResult<(&Int32Array, &BinaryArray, &StructArray)> {
    let s = array.as_struct_opt().ok_or_else(|| {
        datafusion::error::DataFusionError::Execution("expected a spatial value".into())
    })?;
    Ok((
        s.column(0).as_primitive::<Int32Type>(),
        s.column(1).as_binary::<i32>(),
        s,
    ))
}

impl ScalarUDFImpl for Geo {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DfResult<DataType> {
        Ok(self.result.clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let arrays = arg_arrays(&args)?;
        let rows = args.number_rows;
        let out: ArrayRef = match self.op {
            Op::From(kind) => {
                let wkb = arrays[0].as_binary::<i32>();
                let srid = arrays[1].as_primitive::<Int32Type>();
                let mut out = Vec::with_capacity(rows);
                for i in 0..rows {
                    if wkb.is_null(i) || srid.is_null(i) {
                        out.push(None);
                        continue;
                    }
                    if !srid_allowed(kind, srid.value(i)) {
                        return Err(bad_srid(srid.value(i)).into());
                    }
                    let normal = convert(wkb.value(i), false, kind == Spatial::Geography)
                        .map_err(wkb_error)?;
                    out.push(Some((srid.value(i), normal)));
                }
                spatial_column(&self.result, out)?
            }
            Op::AsBinary(big) => {
                let (_, wkb, s) = parts(&arrays[0])?;
                let mut out = BinaryBuilder::new();
                for i in 0..rows {
                    if s.is_null(i) {
                        out.append_null();
                    } else {
                        out.append_value(convert(wkb.value(i), big, false).map_err(wkb_error)?);
                    }
                }
                Arc::new(out.finish())
            }
            Op::Srid => {
                let (srid, _, s) = parts(&arrays[0])?;
                Arc::new(
                    (0..rows)
                        .map(|i| (!s.is_null(i)).then(|| srid.value(i)))
                        .collect::<Int32Array>(),
                )
            }
            Op::SetSrid(kind) => {
                let (_, wkb, s) = parts(&arrays[0])?;
                let srid = arrays[1].as_primitive::<Int32Type>();
                let mut out = Vec::with_capacity(rows);
                for i in 0..rows {
                    if s.is_null(i) || srid.is_null(i) {
                        out.push(None);
                        continue;
                    }
                    if !srid_allowed(kind, srid.value(i)) {
                        return Err(bad_srid(srid.value(i)).into());
                    }
                    out.push(Some((srid.value(i), wkb.value(i).to_vec())));
                }
                spatial_column(&self.result, out)?
            }
        };
        Ok(ColumnarValue::Array(out))
    }
}

/// Reads one WKB geometry and writes it in the byte order asked (big-endian when `big`),
/// checking geography coordinates when `geographic`. The error says what and where.
fn convert(input: &[u8], big: bool, geographic: bool) -> std::result::Result<Vec<u8>, String> {
    let mut r = Reader {
        input,
        at: 0,
        big: false,
        out: Vec::with_capacity(input.len()),
        out_big: big,
        geographic,
    };
    r.geometry(0)?;
    Ok(r.out)
}

struct Reader<'a> {
    input: &'a [u8],
    at: usize,
    /// The byte order of the geometry being read.
    big: bool,
    out: Vec<u8>,
    out_big: bool,
    geographic: bool,
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self, start: usize) -> std::result::Result<[u8; N], String> {
        let bytes = self
            .input
            .get(self.at..self.at + N)
            .and_then(|b| <[u8; N]>::try_from(b).ok())
            .ok_or_else(|| format!("Unexpected end of WKB buffer at position {start}"))?;
        self.at += N;
        Ok(bytes)
    }

    fn u32(&mut self, start: usize) -> std::result::Result<u32, String> {
        let b = self.take::<4>(start)?;
        let v = if self.big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        };
        self.out.extend(if self.out_big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        });
        Ok(v)
    }

    fn f64(&mut self, start: usize) -> std::result::Result<f64, String> {
        let b = self.take::<8>(start)?;
        let v = if self.big {
            f64::from_be_bytes(b)
        } else {
            f64::from_le_bytes(b)
        };
        self.out.extend(if self.out_big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        });
        Ok(v)
    }

    fn points(&mut self, n: u32, dims: usize, start: usize) -> std::result::Result<(), String> {
        for _ in 0..n {
            let at = self.at;
            let x = self.f64(start)?;
            let y = self.f64(start)?;
            for _ in 2..dims {
                self.f64(start)?;
            }
            let on_globe = (x.is_nan() && y.is_nan())
                || ((-180.0..=180.0).contains(&x) && (-90.0..=90.0).contains(&y));
            if self.geographic && !on_globe {
                return Err(format!("Invalid coordinate value found at position {at}"));
            }
        }
        Ok(())
    }

    fn geometry(&mut self, depth: usize) -> std::result::Result<(), String> {
        let start = self.at;
        if depth > 64 {
            return Err(format!("Geometry nested too deeply at position {start}"));
        }
        let [order] = self.take::<1>(start)?;
        self.big = match order {
            0 => true,
            1 => false,
            other => return Err(format!("Invalid byte order {other} at position {start}")),
        };
        self.out.push(if self.out_big { 0 } else { 1 });
        let code = self.u32(start)?;
        // ISO codes (1000 Z, 2000 M, 3000 ZM) or EWKB flags
        let (z, m) = (code & 0x8000_0000 != 0, code & 0x4000_0000 != 0);
        let iso = code & 0x0FFF_FFFF;
        let (base, iso_z, iso_m) = (
            iso % 1000,
            matches!(iso / 1000, 1 | 3),
            matches!(iso / 1000, 2 | 3),
        );
        let dims = 2 + usize::from(z || iso_z) + usize::from(m || iso_m);
        match base {
            1 => self.points(1, dims, start),
            2 => {
                let n = self.u32(start)?;
                self.points(n, dims, start)
            }
            3 => {
                let rings = self.u32(start)?;
                for _ in 0..rings {
                    let n = self.u32(start)?;
                    self.points(n, dims, start)?;
                }
                Ok(())
            }
            4..=7 => {
                let n = self.u32(start)?;
                let outer = self.big;
                for _ in 0..n {
                    self.geometry(depth + 1)?;
                }
                self.big = outer;
                Ok(())
            }
            other => Err(format!(
                "Invalid or unsupported type {other} at position {start}"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .filter_map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
            .collect()
    }

    #[test]
    fn wkb_changes_byte_order_and_back() {
        let point = hex("0101000000000000000000F03F0000000000000040");
        let big = convert(&point, true, false);
        assert_eq!(big, Ok(hex("00000000013FF00000000000004000000000000000")));
        assert_eq!(big.and_then(|b| convert(&b, false, false)), Ok(point));
        let zero = "0".repeat(16);
        let line = hex(&format!(
            "010200000002000000{zero}{zero}{zero}000000000000F03F"
        ));
        assert_eq!(convert(&line, true, false).map(|b| b.len()), Ok(line.len()));
    }

    #[test]
    fn bad_wkb_is_named_with_its_position() {
        assert_eq!(
            convert(&hex("0102"), false, false),
            Err("Unexpected end of WKB buffer at position 0".into())
        );
        let off_globe = hex("010100000000000000000069400000000000000040");
        assert!(convert(&off_globe, false, false).is_ok());
        assert_eq!(
            convert(&off_globe, false, true),
            Err("Invalid coordinate value found at position 5".into())
        );
    }
}
