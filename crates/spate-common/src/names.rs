//! Name helpers with Spark's rules: case-insensitive matching (Spark's default
//! `spark.sql.caseSensitive=false`), backtick quoting of identifiers, and "did you mean"
//! suggestions ranked by edit distance, as Spark's UNRESOLVED_COLUMN error lists them.

/// Quotes an identifier with backticks the way Spark prints it in messages.
pub fn quote(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// Splits a multi-part name (`a.b`, `` `a.b`.c ``) into its parts, honouring backticks.
pub fn split_name(name: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut in_quotes = false;
    let mut chars = name.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '`' if in_quotes && chars.peek() == Some(&'`') => {
                current.push('`');
                chars.next();
            }
            '`' => in_quotes = !in_quotes,
            '.' if !in_quotes => parts.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    parts.push(current);
    parts
}

/// Escapes regex metacharacters so `s` matches itself literally.
pub fn regex_escape(s: &str) -> String {
    s.chars()
        .map(|c| {
            if "\\.^$|?*+()[]{}".contains(c) {
                format!("\\{c}")
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Levenshtein distance between two strings.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            let v = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
            cur.push(v);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The candidates ordered by closeness to `name` (at most five), quoted, as Spark suggests them.
pub fn suggestions<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let lower = name.to_lowercase();
    let mut ranked: Vec<(usize, &str)> = candidates
        .into_iter()
        .map(|c| (edit_distance(&lower, &c.to_lowercase()), c))
        .collect();
    ranked.sort_by_key(|(d, _)| *d);
    ranked.into_iter().take(5).map(|(_, c)| quote(c)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_quoted_names() {
        assert_eq!(split_name("a.b"), vec!["a", "b"]);
        assert_eq!(split_name("`a.b`.c"), vec!["a.b", "c"]);
        assert_eq!(split_name("`a``b`"), vec!["a`b"]);
    }

    #[test]
    fn suggests_the_closest_first() {
        let s = suggestions("close_price", ["open", "close", "volume"]);
        assert_eq!(s[0], "`close`");
    }
}
