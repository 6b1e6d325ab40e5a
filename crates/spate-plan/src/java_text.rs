//! Numbers as Java prints them (`Double.toString`, `Float.toString`): what Spark shows for
//! doubles and floats in `show()`, casts to string, names and JSON.

/// Formats a double the way Java's `Double.toString` does, which is what Spark prints.
pub fn java_double(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        };
    }
    let abs = v.abs();
    if abs == 0.0 || (1e-3..1e7).contains(&abs) {
        let s = format!("{v:?}");
        if s.contains('.') || s.contains('e') {
            s
        } else {
            format!("{s}.0")
        }
    } else {
        let s = format!("{v:e}");
        let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let mantissa = if mantissa.contains('.') {
            mantissa.to_string()
        } else {
            format!("{mantissa}.0")
        };
        format!("{mantissa}E{exp}")
    }
}

/// Formats a float the way Java's `Float.toString` does: its shortest digits.
pub fn java_float(f: f32) -> String {
    let s = java_double(f64::from(f));
    // f32 -> f64 widening shows noise digits; Java prints the shortest f32 representation.
    let short = format!("{f:?}");
    if s.contains('E') || short.contains('e') {
        s
    } else {
        short
    }
}
