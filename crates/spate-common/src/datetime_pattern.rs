//! Spark's datetime patterns (`yyyy-MM-dd`, `dd/MM/yyyy HH:mm:ss.SSS`, `MMM d, yyyy h:mm a`,
//! `yyyy-MM-dd'T'HH:mm:ssXXX`, ...) for parsing text into dates and timestamps, as the CSV
//! and JSON readers' `dateFormat` / `timestampFormat` options and `to_date(col, fmt)` use
//! them. Parsing is strict like Spark's: a field written with two or more letters needs exactly
//! that many digits (`MM` rejects `1`), one letter takes one or two digits (`yyyy` four, `y`
//! any), the whole text must match, and an impossible date (`2023-02-30`) does not parse.
//! The same patterns format (`date_format`, `from_unixtime`): numbers padded to the letter
//! count, `MMM`/`MMMM` and `EEE`/`EEEE` as English names, `S...` as the leading fraction
//! digits, `XXX` as `Z` or `+01:00`.

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike};

/// A compiled Spark datetime pattern.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DateTimePattern {
    items: Vec<Item>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Item {
    Literal(String),
    Number {
        field: Field,
        min: usize,
        max: usize,
    },
    MonthName {
        full: bool,
    },
    DayName {
        full: bool,
    },
    AmPm,
    Fraction {
        max: usize,
    },
    Offset {
        letter: char,
        count: usize,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Field {
    Year,
    TwoDigitYear,
    Month,
    Day,
    DayOfYear,
    Hour24,
    Hour12,
    Minute,
    Second,
}

/// What a text parsed into: a local date and time, and the offset in seconds east of UTC if
/// the text carried one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedDateTime {
    /// The local date and time.
    pub local: NaiveDateTime,
    /// The offset from UTC the text gave, in seconds.
    pub offset_seconds: Option<i32>,
}

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];
const DAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

impl DateTimePattern {
    /// Compiles a pattern; the error names the letter Spark would not accept.
    pub fn compile(pattern: &str) -> Result<Self, String> {
        let chars: Vec<char> = pattern.chars().collect();
        let mut items = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c == '\'' {
                let mut text = String::new();
                i += 1;
                if chars.get(i) == Some(&'\'') {
                    items.push(Item::Literal("'".into()));
                    i += 1;
                    continue;
                }
                while i < chars.len() {
                    if chars[i] == '\'' {
                        if chars.get(i + 1) == Some(&'\'') {
                            text.push('\'');
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    text.push(chars[i]);
                    i += 1;
                }
                i += 1;
                items.push(Item::Literal(text));
                continue;
            }
            if !c.is_ascii_alphabetic() {
                items.push(Item::Literal(c.to_string()));
                i += 1;
                continue;
            }
            let mut count = 1;
            while chars.get(i + count) == Some(&c) {
                count += 1;
            }
            i += count;
            let number = |field: Field| {
                let (min, max) = if count == 1 { (1, 2) } else { (count, count) };
                Item::Number { field, min, max }
            };
            items.push(match c {
                'y' | 'u' => match count {
                    2 => Item::Number {
                        field: Field::TwoDigitYear,
                        min: 2,
                        max: 2,
                    },
                    1 => Item::Number {
                        field: Field::Year,
                        min: 1,
                        max: 9,
                    },
                    n => Item::Number {
                        field: Field::Year,
                        min: n,
                        max: n.max(9),
                    },
                },
                'M' | 'L' if count >= 3 => Item::MonthName { full: count >= 4 },
                'M' | 'L' => number(Field::Month),
                'd' => number(Field::Day),
                'D' => Item::Number {
                    field: Field::DayOfYear,
                    min: count,
                    max: 3,
                },
                'E' => Item::DayName { full: count >= 4 },
                'a' => Item::AmPm,
                'H' | 'k' => number(Field::Hour24),
                'h' | 'K' => number(Field::Hour12),
                'm' => number(Field::Minute),
                's' => number(Field::Second),
                'S' => Item::Fraction { max: count.min(9) },
                'X' | 'x' | 'Z' | 'O' => Item::Offset { letter: c, count },
                other => return Err(format!("unsupported pattern letter '{other}'")),
            });
        }
        Ok(Self { items })
    }

    /// Formats a local date and time that is `offset_seconds` east of UTC.
    pub fn format(&self, local: NaiveDateTime, offset_seconds: i32) -> String {
        let mut out = String::new();
        for item in &self.items {
            match item {
                Item::Literal(t) => out.push_str(t),
                Item::Number { field, min, .. } => {
                    let v: i64 = match field {
                        Field::Year => i64::from(local.year()),
                        Field::TwoDigitYear => i64::from(local.year().rem_euclid(100)),
                        Field::Month => i64::from(local.month()),
                        Field::Day => i64::from(local.day()),
                        Field::DayOfYear => i64::from(local.ordinal()),
                        Field::Hour24 => i64::from(local.hour()),
                        Field::Hour12 => i64::from((local.hour() + 11) % 12 + 1),
                        Field::Minute => i64::from(local.minute()),
                        Field::Second => i64::from(local.second()),
                    };
                    out.push_str(&format!("{v:0min$}"));
                }
                Item::MonthName { full } => {
                    let name = MONTHS[local.month0() as usize];
                    out.push_str(&capitalized(name, *full));
                }
                Item::DayName { full } => {
                    let name = DAYS[local.weekday().num_days_from_monday() as usize];
                    out.push_str(&capitalized(name, *full));
                }
                Item::AmPm => out.push_str(if local.hour() < 12 { "AM" } else { "PM" }),
                Item::Fraction { max } => {
                    let nanos = format!("{:09}", local.nanosecond() % 1_000_000_000);
                    out.push_str(&nanos[..*max]);
                }
                Item::Offset { letter, count } => {
                    out.push_str(&offset_text(*letter, *count, offset_seconds))
                }
            }
        }
        out
    }

    /// Parses `text`, or `None` when it does not match the pattern or names no real date.
    pub fn parse(&self, text: &str) -> Option<ParsedDateTime> {
        let mut p = Parsing::default();
        let mut rest = text;
        for item in &self.items {
            rest = p.take(item, rest)?;
        }
        if !rest.is_empty() {
            return None;
        }
        p.finish()
    }
}

#[derive(Default)]
struct Parsing {
    year: Option<i32>,
    month: Option<u32>,
    day: Option<u32>,
    day_of_year: Option<u32>,
    hour24: Option<u32>,
    hour12: Option<u32>,
    pm: Option<bool>,
    minute: u32,
    second: u32,
    nanos: u32,
    offset: Option<i32>,
}

fn capitalized(name: &str, full: bool) -> String {
    let text = if full { name } else { &name[..3] };
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

/// An offset as Spark prints it for `X`/`x`/`Z`/`O` (`X` prints zero as `Z`).
fn offset_text(letter: char, count: usize, offset_seconds: i32) -> String {
    let sign = if offset_seconds < 0 { '-' } else { '+' };
    let abs = offset_seconds.unsigned_abs();
    let (h, m) = (abs / 3600, abs / 60 % 60);
    match letter {
        'X' if offset_seconds == 0 => "Z".into(),
        'O' if offset_seconds == 0 => "GMT".into(),
        'O' if m == 0 => format!("GMT{sign}{h}"),
        'O' => format!("GMT{sign}{h}:{m:02}"),
        'Z' if count == 4 => format!("GMT{sign}{h:02}:{m:02}"),
        'Z' => format!("{sign}{h:02}{m:02}"),
        _ => match count {
            1 if m == 0 => format!("{sign}{h:02}"),
            1 | 2 => format!("{sign}{h:02}{m:02}"),
            _ => format!("{sign}{h:02}:{m:02}"),
        },
    }
}

impl ParsedDateTime {
    /// Microseconds since the epoch: the text's own offset if it had one, else the local time
    /// in `zone` (UTC when there is none).
    pub fn to_micros<Z: chrono::TimeZone>(&self, zone: Option<&Z>) -> Option<i64> {
        let utc = match (self.offset_seconds, zone) {
            (Some(o), _) => self.local - chrono::Duration::seconds(i64::from(o)),
            (None, Some(z)) => z.from_local_datetime(&self.local).earliest()?.naive_utc(),
            (None, None) => self.local,
        };
        Some(utc.and_utc().timestamp_micros())
    }
}

impl Parsing {
    fn take<'t>(&mut self, item: &Item, text: &'t str) -> Option<&'t str> {
        match item {
            Item::Literal(l) => text.strip_prefix(l.as_str()),
            Item::Number { field, min, max } => {
                let (value, rest) = digits(text, *min, *max)?;
                let v = u32::try_from(value).ok()?;
                match field {
                    Field::Year => self.year = Some(i32::try_from(value).ok()?),
                    Field::TwoDigitYear => self.year = Some(2000 + i32::try_from(value).ok()?),
                    Field::Month => self.month = Some(v),
                    Field::Day => self.day = Some(v),
                    Field::DayOfYear => self.day_of_year = Some(v),
                    Field::Hour24 => self.hour24 = Some(v),
                    Field::Hour12 => self.hour12 = Some(v),
                    Field::Minute => self.minute = v,
                    Field::Second => self.second = v,
                }
                Some(rest)
            }
            Item::MonthName { full } => {
                let (i, rest) = name(text, &MONTHS, *full)?;
                self.month = Some(u32::try_from(i).ok()? + 1);
                Some(rest)
            }
            Item::DayName { full } => name(text, &DAYS, *full).map(|(_, rest)| rest),
            Item::AmPm => {
                let head = text.get(..2)?.to_ascii_lowercase();
                self.pm = Some(match head.as_str() {
                    "am" => false,
                    "pm" => true,
                    _ => return None,
                });
                Some(&text[2..])
            }
            Item::Fraction { max } => {
                let end = text
                    .bytes()
                    .take(*max)
                    .take_while(u8::is_ascii_digit)
                    .count();
                if end == 0 {
                    return None;
                }
                let mut nanos: u32 = text[..end].parse().ok()?;
                for _ in end..9 {
                    nanos *= 10;
                }
                self.nanos = nanos;
                Some(&text[end..])
            }
            Item::Offset { letter, count } => {
                let (offset, rest) = offset(text, *letter, *count)?;
                self.offset = Some(offset);
                Some(rest)
            }
        }
    }

    fn finish(self) -> Option<ParsedDateTime> {
        let year = self.year.unwrap_or(1970);
        let date = match self.day_of_year {
            Some(doy) if self.month.is_none() => NaiveDate::from_yo_opt(year, doy)?,
            _ => NaiveDate::from_ymd_opt(year, self.month.unwrap_or(1), self.day.unwrap_or(1))?,
        };
        let hour = match (self.hour24, self.hour12, self.pm) {
            (Some(h), _, _) => h,
            (None, Some(h), pm) if (1..=12).contains(&h) => {
                (h % 12) + if pm == Some(true) { 12 } else { 0 }
            }
            (None, Some(_), _) => return None,
            (None, None, Some(true)) => 12,
            (None, None, _) => 0,
        };
        let time = NaiveTime::from_hms_nano_opt(hour, self.minute, self.second, self.nanos)?;
        Some(ParsedDateTime {
            local: NaiveDateTime::new(date, time),
            offset_seconds: self.offset,
        })
    }
}

/// Parses text the way Spark does without a pattern (as `CAST(text AS TIMESTAMP)` does):
/// `yyyy[-[m]m[-[d]d]]`, then optionally ` ` or `T` and `[h]h:[m]m[:[s]s[.fraction]]`, then
/// optionally `Z`, `UTC` or an offset `+hh[[:]mm]`. For a date (`date_only`) anything after
/// the day that starts with ` ` or `T` is ignored.
pub fn parse_spark_default(text: &str, date_only: bool) -> Option<ParsedDateTime> {
    let text = text.trim();
    let mut p = Parsing::default();
    let (year, mut rest) = digits(text, 4, 7)?;
    p.year = Some(i32::try_from(year).ok()?);
    for slot in [&mut p.month, &mut p.day] {
        match rest.strip_prefix('-') {
            Some(r) => {
                let (v, r) = digits(r, 1, 2)?;
                *slot = Some(u32::try_from(v).ok()?);
                rest = r;
            }
            None => break,
        }
    }
    if let Some(r) = rest.strip_prefix([' ', 'T']).filter(|_| p.day.is_some()) {
        if date_only {
            rest = "";
        } else {
            let (h, r) = digits(r, 1, 2)?;
            let (m, r) = digits(r.strip_prefix(':')?, 1, 2)?;
            p.hour24 = Some(u32::try_from(h).ok()?);
            p.minute = u32::try_from(m).ok()?;
            rest = r;
            if let Some(r) = rest.strip_prefix(':') {
                let (sec, r) = digits(r, 1, 2)?;
                p.second = u32::try_from(sec).ok()?;
                rest = r;
                if let Some(r) = rest.strip_prefix('.') {
                    rest = p.take(&Item::Fraction { max: 9 }, r)?;
                }
            }
            let zone = rest.trim_start();
            if zone == "UTC" || zone == "Z" {
                p.offset = Some(0);
                rest = "";
            } else if !zone.is_empty() {
                let (o, r) = offset(zone, 'x', 3)?;
                p.offset = Some(o);
                rest = r;
            }
        }
    }
    if !rest.is_empty() {
        return None;
    }
    p.finish()
}

fn digits(text: &str, min: usize, max: usize) -> Option<(i64, &str)> {
    let n = text
        .bytes()
        .take(max)
        .take_while(u8::is_ascii_digit)
        .count();
    if n < min {
        return None;
    }
    Some((text[..n].parse().ok()?, &text[n..]))
}

fn name<'t>(text: &'t str, names: &[&str], full: bool) -> Option<(usize, &'t str)> {
    let lower = text.to_ascii_lowercase();
    names.iter().enumerate().find_map(|(i, n)| {
        let candidate = if full { n } else { &n[..3] };
        lower
            .starts_with(candidate)
            .then(|| (i, &text[candidate.len()..]))
    })
}

/// Offsets as `X` (`Z` or `+01`, `+0130`, `+01:30`), `x` (never `Z`), `Z` (`+0130`, or
/// `+01:30` with `ZZZZZ`) and `O` (`GMT+1`).
fn offset(text: &str, letter: char, count: usize) -> Option<(i32, &str)> {
    if matches!(letter, 'X' | 'Z')
        && let Some(rest) = text.strip_prefix('Z')
    {
        return Some((0, rest));
    }
    let text = if letter == 'O' {
        text.strip_prefix("GMT")?
    } else {
        text
    };
    let sign = match text.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let body = &text[1..];
    let (hours, rest) = digits(body, 1, 2)?;
    let (minutes, rest) = match rest.strip_prefix(':') {
        Some(r) => digits(r, 2, 2)?,
        None if count > 1 || letter == 'Z' => digits(rest, 2, 2).unwrap_or((0, rest)),
        None => (0, rest),
    };
    let seconds = i32::try_from(hours * 3600 + minutes * 60).ok()?;
    Some((sign * seconds, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_as_spark() -> Result<(), String> {
        let t = NaiveDate::from_ymd_opt(2024, 3, 5)
            .and_then(|d| d.and_hms_milli_opt(14, 7, 9, 345))
            .ok_or("bad date")?;
        let f = |p: &str, off: i32| DateTimePattern::compile(p).map(|c| c.format(t, off));
        assert_eq!(f("yyyy-MM-dd HH:mm:ss", 0)?, "2024-03-05 14:07:09");
        assert_eq!(f("yyyy/MM/dd HH:mm:ss.SSS", 0)?, "2024/03/05 14:07:09.345");
        assert_eq!(f("EEE, MMM d yyyy hh a", 0)?, "Tue, Mar 5 2024 02 PM");
        assert_eq!(f("EEEE MMMM yy D", 0)?, "Tuesday March 24 65");
        assert_eq!(
            f("yyyy-MM-dd'T'HH:mm:ss.SSSXXX", 0)?,
            "2024-03-05T14:07:09.345Z"
        );
        assert_eq!(f("HH:mmXXX", 3600)?, "14:07+01:00");
        assert_eq!(f("HH:mm Z", -16200)?, "14:07 -0430");
        Ok(())
    }

    fn parse(pattern: &str, text: &str) -> Option<String> {
        let p = DateTimePattern::compile(pattern).ok()?;
        p.parse(text).map(|d| {
            let mut s = d.local.format("%Y-%m-%d %H:%M:%S%.f").to_string();
            if let Some(o) = d.offset_seconds {
                s.push_str(&format!(" {o}"));
            }
            s
        })
    }

    #[test]
    fn numeric_fields_are_strict_about_width() {
        assert_eq!(
            parse("dd/MM/yyyy", "05/01/2024").as_deref(),
            Some("2024-01-05 00:00:00")
        );
        assert_eq!(parse("dd/MM/yyyy", "5/1/2024"), None);
        assert_eq!(
            parse("d/M/yyyy", "5/12/2024").as_deref(),
            Some("2024-12-05 00:00:00")
        );
        assert_eq!(parse("yyyy-MM-dd", "2024-01-05 10:00"), None);
        assert_eq!(parse("yyyy-MM-dd", "2023-02-30"), None);
        assert_eq!(
            parse("yy-MM-dd", "24-03-01").as_deref(),
            Some("2024-03-01 00:00:00")
        );
    }

    #[test]
    fn spark_default_forms() {
        let show = |t: &str, date_only: bool| {
            parse_spark_default(t, date_only).map(|d| {
                format!(
                    "{} {:?}",
                    d.local.format("%Y-%m-%d %H:%M:%S%.f"),
                    d.offset_seconds
                )
            })
        };
        assert_eq!(
            show("2024-01-05 10:30", false).as_deref(),
            Some("2024-01-05 10:30:00 None")
        );
        assert_eq!(
            show("2024-1-5T7:08:09.25Z", false).as_deref(),
            Some("2024-01-05 07:08:09.250 Some(0)")
        );
        assert_eq!(
            show("2024-01-05 10:30:00+01:00", false).as_deref(),
            Some("2024-01-05 10:30:00 Some(3600)")
        );
        assert_eq!(
            show("2024-01", false).as_deref(),
            Some("2024-01-01 00:00:00 None")
        );
        assert_eq!(
            show("2024-01-05 10:30", true).as_deref(),
            Some("2024-01-05 00:00:00 None")
        );
        assert_eq!(show("01/05/2024 10:30:15", false), None);
        assert_eq!(show("2024-01-05 10", false), None);
    }

    #[test]
    fn times_names_fractions_and_offsets() {
        assert_eq!(
            parse("MM/dd/yyyy HH:mm:ss.SSS", "12/31/2023 23:59:59.5").as_deref(),
            Some("2023-12-31 23:59:59.500")
        );
        assert_eq!(
            parse("MMM d, yyyy h:mm a", "Jan 7, 2024 3:04 PM").as_deref(),
            Some("2024-01-07 15:04:00")
        );
        assert_eq!(
            parse("yyyy-MM-dd'T'HH:mm:ssXXX", "2024-01-05T10:30:00+01:30").as_deref(),
            Some("2024-01-05 10:30:00 5400")
        );
        assert_eq!(
            parse("yyyy-MM-dd'T'HH:mm:ssX", "2024-01-05T10:30:00Z").as_deref(),
            Some("2024-01-05 10:30:00 0")
        );
        assert_eq!(parse("h:mm a", "13:00 PM"), None);
        assert!(DateTimePattern::compile("yyyy-MM-dd q").is_err());
    }
}
