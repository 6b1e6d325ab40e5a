//! Spark's text rendering of values and tables: how `df.show()` prints cells (`NULL`, Java
//! doubles, `[1, 2]`, `{a -> 1}`, `{1, x}`, timestamps in the session time zone) and lays out
//! the bordered table, with truncation, right alignment and the vertical form.

use chrono::{DateTime, NaiveDate, TimeZone};
use datafusion::arrow::array::{Array, ArrayRef, RecordBatch};
use datafusion::scalar::ScalarValue;

pub use crate::java_text::java_double;
use crate::java_text::java_float;

/// Formats one value as Spark's `show()` and `CAST(x AS STRING)` do.
pub fn format_scalar(v: &ScalarValue, tz: &str) -> String {
    if v.is_null() {
        return "NULL".into();
    }
    match v {
        ScalarValue::Utf8(Some(s))
        | ScalarValue::LargeUtf8(Some(s))
        | ScalarValue::Utf8View(Some(s)) => s.clone(),
        ScalarValue::Float32(Some(f)) => java_float(*f),
        ScalarValue::Float64(Some(f)) => java_double(*f),
        ScalarValue::Date32(Some(d)) => NaiveDate::from_num_days_from_ce_opt(d + 719_163)
            .map_or_else(|| d.to_string(), |d| d.format("%Y-%m-%d").to_string()),
        ScalarValue::TimestampMicrosecond(Some(us), zone) => {
            format_timestamp(*us, zone.as_deref().map(|_| tz))
        }
        ScalarValue::TimestampMillisecond(Some(ms), zone) => {
            format_timestamp(ms * 1000, zone.as_deref().map(|_| tz))
        }
        ScalarValue::TimestampSecond(Some(s), zone) => {
            format_timestamp(s * 1_000_000, zone.as_deref().map(|_| tz))
        }
        ScalarValue::TimestampNanosecond(Some(ns), zone) => {
            format_timestamp(ns / 1000, zone.as_deref().map(|_| tz))
        }
        ScalarValue::Binary(Some(b))
        | ScalarValue::LargeBinary(Some(b))
        | ScalarValue::BinaryView(Some(b)) => {
            format!(
                "[{}]",
                b.iter()
                    .map(|x| format!("{x:02X}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        }
        ScalarValue::List(a) => format_list(a.value(0), tz),
        ScalarValue::LargeList(a) => format_list(a.value(0), tz),
        ScalarValue::FixedSizeList(a) => format_list(a.value(0), tz),
        ScalarValue::Struct(s) if crate::type_build::is_variant(s.data_type()) => {
            crate::variant_json::cell_json(s, 0, tz).unwrap_or_else(|| "?".into())
        }
        ScalarValue::Struct(s) => {
            let parts: Vec<String> = s.columns().iter().map(|c| format_cell(c, 0, tz)).collect();
            format!("{{{}}}", parts.join(", "))
        }
        ScalarValue::Map(m) => {
            let entries = m.value(0);
            let keys = entries.column(0);
            let values = entries.column(1);
            let parts: Vec<String> = (0..entries.len())
                .map(|i| {
                    format!(
                        "{} -> {}",
                        format_cell(keys, i, tz),
                        format_cell(values, i, tz)
                    )
                })
                .collect();
            format!("{{{}}}", parts.join(", "))
        }
        ScalarValue::Time64Nanosecond(Some(ns)) => time_of_day(*ns),
        ScalarValue::Time64Microsecond(Some(us)) => time_of_day(us * 1000),
        ScalarValue::DurationMicrosecond(Some(us)) => day_time_interval(*us),
        ScalarValue::IntervalYearMonth(Some(m)) => {
            let sign = if *m < 0 { "-" } else { "" };
            let m = m.unsigned_abs();
            format!("INTERVAL '{sign}{}-{}' YEAR TO MONTH", m / 12, m % 12)
        }
        ScalarValue::IntervalMonthDayNano(Some(v)) => {
            calendar_interval(v.months, v.days, v.nanoseconds / 1000)
        }
        other => other.to_string(),
    }
}

/// Seconds with up to six decimals and no trailing zeros (Java's
/// `BigDecimal.valueOf(micros, 6).stripTrailingZeros().toPlainString()`).
fn seconds_text(micros: i64) -> String {
    let sign = if micros < 0 { "-" } else { "" };
    let m = micros.unsigned_abs();
    let (whole, frac) = (m / 1_000_000, m % 1_000_000);
    if frac == 0 {
        format!("{sign}{whole}")
    } else {
        let digits = format!("{frac:06}");
        format!("{sign}{whole}.{}", digits.trim_end_matches('0'))
    }
}

/// A time of day as Spark prints a `time(6)`: `HH:mm:ss`, then the fraction of the second
/// without trailing zeros (`06:30:45.887`, `14:30:00.5`).
pub fn time_of_day(nanos: i64) -> String {
    let micros = nanos.div_euclid(1000);
    let (hours, rest) = (micros / 3_600_000_000, micros % 3_600_000_000);
    let (minutes, rest) = (rest / 60_000_000, rest % 60_000_000);
    let pad = if rest < 10_000_000 { "0" } else { "" };
    format!("{hours:02}:{minutes:02}:{pad}{}", seconds_text(rest))
}

/// A day-time interval as Spark prints one: `INTERVAL '1 12:30:01.001001' DAY TO SECOND`.
fn day_time_interval(micros: i64) -> String {
    let sign = if micros < 0 { "-" } else { "" };
    let m = micros.unsigned_abs();
    let day = 86_400_000_000u64;
    let (days, rest) = (m / day, m % day);
    let (hours, rest) = (rest / 3_600_000_000, rest % 3_600_000_000);
    let (minutes, rest) = (rest / 60_000_000, rest % 60_000_000);
    let seconds = seconds_text(rest as i64);
    let pad = if rest < 10_000_000 { "0" } else { "" };
    format!("INTERVAL '{sign}{days} {hours:02}:{minutes:02}:{pad}{seconds}' DAY TO SECOND")
}

/// A calendar interval as Spark's `CalendarInterval.toString`: its non-zero units, largest
/// first (`1 years 2 months 3 days 4 hours 5 minutes 6.5 seconds`), `0 seconds` when empty.
fn calendar_interval(months: i32, days: i32, micros: i64) -> String {
    let mut parts = Vec::new();
    let mut unit = |value: i64, name: &str| {
        if value != 0 {
            parts.push(format!("{value} {name}"));
        }
    };
    unit(i64::from(months / 12), "years");
    unit(i64::from(months % 12), "months");
    unit(i64::from(days), "days");
    unit(micros / 3_600_000_000, "hours");
    unit(micros % 3_600_000_000 / 60_000_000, "minutes");
    let rest = micros % 60_000_000;
    if rest != 0 {
        parts.push(format!("{} seconds", seconds_text(rest)));
    }
    if parts.is_empty() {
        "0 seconds".into()
    } else {
        parts.join(" ")
    }
}

fn format_list(values: ArrayRef, tz: &str) -> String {
    let parts: Vec<String> = (0..values.len())
        .map(|i| format_cell(&values, i, tz))
        .collect();
    format!("[{}]", parts.join(", "))
}

/// Formats row `row` of `array`.
pub fn format_cell(array: &ArrayRef, row: usize, tz: &str) -> String {
    if array.is_null(row) {
        return "NULL".into();
    }
    match ScalarValue::try_from_array(array, row) {
        Ok(v) => format_scalar(&v, tz),
        Err(_) => "?".into(),
    }
}

/// Formats microseconds since the epoch; `tz` is the zone to show an instant in, `None` for a
/// timestamp without time zone.
pub fn format_timestamp(us: i64, tz: Option<&str>) -> String {
    let secs = us.div_euclid(1_000_000);
    let micros = us.rem_euclid(1_000_000);
    let Some(utc) = DateTime::from_timestamp(secs, (micros * 1000) as u32) else {
        return us.to_string();
    };
    let naive = match tz.and_then(|z| z.parse::<chrono_tz::Tz>().ok()) {
        Some(zone) => zone.from_utc_datetime(&utc.naive_utc()).naive_local(),
        None => match tz.and_then(parse_offset) {
            Some(offset) => offset.from_utc_datetime(&utc.naive_utc()).naive_local(),
            None => utc.naive_utc(),
        },
    };
    let base = naive.format("%Y-%m-%d %H:%M:%S").to_string();
    if micros == 0 {
        base
    } else {
        let frac = format!("{micros:06}");
        format!("{base}.{}", frac.trim_end_matches('0'))
    }
}

fn parse_offset(s: &str) -> Option<chrono::FixedOffset> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("utc") || s == "Z" {
        return chrono::FixedOffset::east_opt(0);
    }
    let sign = if s.starts_with('-') { -1 } else { 1 };
    let body = s.trim_start_matches(['+', '-']);
    let (h, m) = body.split_once(':').unwrap_or((body, "0"));
    let secs = h.parse::<i32>().ok()? * 3600 + m.parse::<i32>().ok()? * 60;
    chrono::FixedOffset::east_opt(sign * secs)
}

/// The first `num_rows` rows as cut cell text, and whether there were more.
fn cells(
    batches: &[RecordBatch],
    num_rows: usize,
    truncate: usize,
    tz: &str,
) -> (Vec<Vec<String>>, bool) {
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut total = 0;
    for b in batches {
        for r in 0..b.num_rows() {
            total += 1;
            if rows.len() < num_rows {
                rows.push(
                    b.columns()
                        .iter()
                        .zip(b.schema().fields())
                        .map(|(c, f)| cut(&format_field_cell(c, f, r, tz), truncate))
                        .collect(),
                );
            }
        }
    }
    (rows, total > num_rows)
}

/// A cell of a column whose field says more than its type: a year-month interval's fields.
fn format_field_cell(
    array: &ArrayRef,
    field: &datafusion::arrow::datatypes::Field,
    row: usize,
    tz: &str,
) -> String {
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::{DataType, IntervalUnit, IntervalYearMonthType};
    if matches!(
        array.data_type(),
        DataType::Interval(IntervalUnit::YearMonth)
    ) && field
        .metadata()
        .contains_key(crate::functions::ym_interval::FIELDS_KEY)
        && array.is_valid(row)
    {
        let months = array.as_primitive::<IntervalYearMonthType>().value(row);
        return crate::functions::ym_interval::show(
            months,
            crate::functions::ym_interval::fields_of(field),
        );
    }
    format_cell(array, row, tz)
}

fn more_rows_note(num_rows: usize) -> String {
    let noun = if num_rows == 1 { "row" } else { "rows" };
    format!("only showing top {num_rows} {noun}\n")
}

/// Renders rows as the HTML table of Spark's `_repr_html_` (eager evaluation in notebooks).
pub fn html_string(
    batches: &[RecordBatch],
    names: &[String],
    num_rows: usize,
    truncate: usize,
    tz: &str,
) -> String {
    let (rows, has_more) = cells(batches, num_rows, truncate, tz);
    let line = |cells: &[String], tag: &str| {
        let inner: Vec<String> = cells.iter().map(|c| escape_html(c)).collect();
        format!(
            "<tr><{tag}>{}</{tag}></tr>\n",
            inner.join(&format!("</{tag}><{tag}>"))
        )
    };
    let mut out = String::from("<table border='1'>\n");
    out.push_str(&line(names, "th"));
    for row in &rows {
        out.push_str(&line(row, "td"));
    }
    out.push_str("</table>\n");
    if has_more {
        out.push_str(&more_rows_note(num_rows));
    }
    out
}

fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            other => out.push(other),
        }
    }
    out
}

/// Renders rows as Spark's `show()` does. `truncate` is the cell width limit (0 for none); the
/// header keeps whole names, as Spark's `Dataset.showString` does.
pub fn show_string(
    batches: &[RecordBatch],
    names: &[String],
    num_rows: usize,
    truncate: usize,
    vertical: bool,
    tz: &str,
) -> String {
    let (rows, has_more) = cells(batches, num_rows, truncate, tz);
    // Spark cuts cell values to `truncate`, never the column names
    let mut out = String::new();
    if vertical {
        let name_width = names.iter().map(|n| width(n)).max().unwrap_or(0);
        let value_width = rows.iter().flatten().map(|v| width(v)).max().unwrap_or(0);
        for (i, row) in rows.iter().enumerate() {
            let head = format!("-RECORD {i}");
            let line_width = name_width + value_width + 5;
            out.push_str(&format!(
                "{head}{}\n",
                "-".repeat(line_width.saturating_sub(width(&head)))
            ));
            for (n, v) in names.iter().zip(row) {
                out.push_str(&format!(
                    " {} | {}\n",
                    pad_right(n, name_width),
                    pad_right(v, value_width)
                ));
            }
        }
        if rows.is_empty() {
            out.push_str("(0 rows)\n");
        }
    } else {
        let mut widths: Vec<usize> = names.iter().map(|n| width(n).max(3)).collect();
        for row in &rows {
            for (w, v) in widths.iter_mut().zip(row) {
                *w = (*w).max(width(v));
            }
        }
        let sep: String = format!(
            "+{}+\n",
            widths
                .iter()
                .map(|w| "-".repeat(*w))
                .collect::<Vec<_>>()
                .join("+")
        );
        let line = |cells: &[String]| {
            let parts: Vec<String> = cells
                .iter()
                .zip(&widths)
                .map(|(c, w)| {
                    if truncate > 0 {
                        pad_left(c, *w)
                    } else {
                        pad_right(c, *w)
                    }
                })
                .collect();
            format!("|{}|\n", parts.join("|"))
        };
        out.push_str(&sep);
        out.push_str(&line(names));
        out.push_str(&sep);
        for row in &rows {
            out.push_str(&line(row));
        }
        out.push_str(&sep);
    }
    if has_more {
        out.push_str(&more_rows_note(num_rows));
    }
    out
}

fn width(s: &str) -> usize {
    s.chars().count()
}

fn cut(s: &str, truncate: usize) -> String {
    if truncate == 0 || width(s) <= truncate {
        return s.to_string();
    }
    if truncate < 4 {
        s.chars().take(truncate).collect()
    } else {
        format!("{}...", s.chars().take(truncate - 3).collect::<String>())
    }
}

fn pad_left(s: &str, w: usize) -> String {
    format!("{}{s}", " ".repeat(w.saturating_sub(width(s))))
}

fn pad_right(s: &str, w: usize) -> String {
    format!("{s}{}", " ".repeat(w.saturating_sub(width(s))))
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_print_as_sparks() {
        let nanos = |h: i64, m: i64, s: i64, ns: i64| ((h * 60 + m) * 60 + s) * 1_000_000_000 + ns;
        assert_eq!(time_of_day(nanos(13, 8, 15, 0)), "13:08:15");
        assert_eq!(time_of_day(nanos(6, 30, 45, 887_000_000)), "06:30:45.887");
        assert_eq!(time_of_day(nanos(14, 30, 0, 500_000_000)), "14:30:00.5");
        assert_eq!(time_of_day(nanos(0, 0, 0, 1_000)), "00:00:00.000001");
        assert_eq!(
            time_of_day(nanos(23, 59, 59, 999_999_999)),
            "23:59:59.999999"
        );
    }

    #[test]
    fn intervals_print_as_sparks() {
        use super::{calendar_interval, day_time_interval};
        let hms: i64 = (12 * 3600 + 30 * 60 + 1) * 1_000_000 + 1_001;
        assert_eq!(
            day_time_interval(86_400_000_000 + hms),
            "INTERVAL '1 12:30:01.001001' DAY TO SECOND"
        );
        assert_eq!(
            day_time_interval(-1_000_000),
            "INTERVAL '-0 00:00:01' DAY TO SECOND"
        );
        assert_eq!(
            calendar_interval(1211, 8, hms),
            "100 years 11 months 8 days 12 hours 30 minutes 1.001001 seconds"
        );
        assert_eq!(calendar_interval(0, 0, 0), "0 seconds");
    }

    use super::*;

    #[test]
    fn formats_timestamps_in_zone() {
        assert_eq!(format_timestamp(0, Some("UTC")), "1970-01-01 00:00:00");
        assert_eq!(format_timestamp(1_500_000, None), "1970-01-01 00:00:01.5");
        assert_eq!(
            format_timestamp(0, Some("America/Los_Angeles")),
            "1969-12-31 16:00:00"
        );
    }

    #[test]
    fn truncates_like_spark() {
        assert_eq!(
            cut("abcdefghijklmnopqrstuvwxyz", 20),
            "abcdefghijklmnopq..."
        );
        assert_eq!(cut("abc", 20), "abc");
    }

    #[test]
    fn keeps_whole_column_names_and_cuts_cells()
    -> std::result::Result<(), Box<dyn std::error::Error>> {
        use datafusion::arrow::array::{ArrayRef, StringArray};
        use std::sync::Arc;
        let col: ArrayRef = Arc::new(StringArray::from(vec!["abcdefghijklmnopqrstuvwxyz"]));
        let batch = RecordBatch::try_from_iter([("approx_count_distinct(value)", col)])?;
        let names = vec!["approx_count_distinct(value)".to_string()];
        // Spark: the header is whole, the 26-character cell is cut to 20
        assert_eq!(
            show_string(&[batch], &names, 20, 20, false, "UTC"),
            "+----------------------------+\n\
             |approx_count_distinct(value)|\n\
             +----------------------------+\n\
             |        abcdefghijklmnopq...|\n\
             +----------------------------+\n"
        );
        Ok(())
    }
}
