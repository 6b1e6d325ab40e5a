//! `LIKE` patterns made of plain text between `%`s — `'%special%requests%'` (TPC-H q13),
//! `'%Customer%Complaints%'` (q16), `'ab%cd'` — are matched by finding their pieces in order.
//! DataFusion's `LikeExpr` hands such a pattern to arrow, which compiles it into a regex for
//! every batch it evaluates: in q13 that compilation (the regex crate builds a full DFA, as a
//! dependency enables it) was a quarter of the query's instructions, more than the search.
//!
//! After the physical optimizer, [`SegmentedLikes`] replaces each such `LikeExpr` in filters
//! and projections with a [`SegmentLikeExpr`], which prepares one substring finder per piece
//! once. It shows itself as the `LikeExpr` it replaces, so plans read the same. Left to arrow:
//! patterns with `_` or an escape (`\`), `ILIKE`, patterns that are not a literal, and the
//! patterns arrow already matches without a regex (no `%`, or one piece: `a%`, `%a`, `%a%`).
//!
//! A match: the first piece starts the value unless the pattern starts with `%`, the last ends
//! it unless the pattern ends with `%`, and the pieces appear in order without overlapping;
//! taking each piece's first occurrence after the previous one is a match whenever any is.
//! `%` matches any characters, line breaks included, as in Spark.

use std::fmt::{self, Formatter};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray};
use datafusion::arrow::buffer::BooleanBuffer;
use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DataFusionError, Result as DfResult, ScalarValue};
use datafusion::logical_expr::ColumnarValue;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::{LikeExpr, Literal};
use datafusion::physical_expr::projection::ProjectionExpr;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::filter::{FilterExec, FilterExecBuilder};
use datafusion::physical_plan::projection::ProjectionExec;
use memchr::memmem::Finder;

/// Replaces the `LikeExpr`s of filters and projections whose pattern is plain pieces between
/// `%`s with [`SegmentLikeExpr`]s.
#[derive(Debug)]
pub struct SegmentedLikes;

impl PhysicalOptimizerRule for SegmentedLikes {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        Ok(plan
            .transform_up(|node| {
                if let Some(filter) = node.downcast_ref::<FilterExec>() {
                    let schema = filter.input().schema();
                    let predicate = rewrite(filter.predicate(), &schema)?;
                    if !predicate.transformed {
                        return Ok(Transformed::no(node));
                    }
                    let rebuilt = FilterExecBuilder::from(filter)
                        .with_predicate(predicate.data)
                        .build()?;
                    return Ok(Transformed::yes(Arc::new(rebuilt) as Arc<dyn ExecutionPlan>));
                }
                if let Some(projection) = node.downcast_ref::<ProjectionExec>() {
                    let schema = projection.input().schema();
                    let mut changed = false;
                    let mut exprs = Vec::with_capacity(projection.expr().len());
                    for e in projection.expr() {
                        let new = rewrite(&e.expr, &schema)?;
                        changed |= new.transformed;
                        exprs.push(ProjectionExpr::new(new.data, e.alias.clone()));
                    }
                    if !changed {
                        return Ok(Transformed::no(node));
                    }
                    let rebuilt = ProjectionExec::try_new_with_schema_metadata(
                        exprs,
                        Arc::clone(projection.input()),
                        &projection.schema(),
                    )?;
                    return Ok(Transformed::yes(Arc::new(rebuilt) as Arc<dyn ExecutionPlan>));
                }
                Ok(Transformed::no(node))
            })?
            .data)
    }

    fn name(&self) -> &str {
        "segmented_likes"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// `expr` with every eligible `LikeExpr` in it replaced.
fn rewrite(
    expr: &Arc<dyn PhysicalExpr>,
    schema: &Schema,
) -> DfResult<Transformed<Arc<dyn PhysicalExpr>>> {
    Arc::clone(expr).transform_up(|e| {
        let Some(like) = e.downcast_ref::<LikeExpr>() else {
            return Ok(Transformed::no(e));
        };
        match SegmentLikeExpr::try_from_like(like, schema)? {
            Some(fast) => Ok(Transformed::yes(Arc::new(fast) as Arc<dyn PhysicalExpr>)),
            None => Ok(Transformed::no(e)),
        }
    })
}

/// A `LIKE` pattern's pieces (the text between its `%`s), one prepared finder each.
#[derive(Debug, Clone)]
struct Matcher {
    /// A finder per non-empty piece, in order.
    finders: Vec<Finder<'static>>,
    /// The first piece must start the value (the pattern does not start with `%`).
    anchored_start: bool,
    /// The last piece must end the value (the pattern does not end with `%`).
    anchored_end: bool,
}

impl Matcher {
    /// The matcher of `pattern`, when it is plain text between `%`s that arrow would match
    /// with a regex: at least two pieces, no `_`, no escape.
    fn of(pattern: &str) -> Option<Self> {
        if pattern.contains(['_', '\\']) {
            return None;
        }
        let finders: Vec<Finder<'static>> = pattern
            .split('%')
            .filter(|p| !p.is_empty())
            .map(|p| Finder::new(p.as_bytes()).into_owned())
            .collect();
        (finders.len() >= 2).then(|| Self {
            finders,
            anchored_start: !pattern.starts_with('%'),
            anchored_end: !pattern.ends_with('%'),
        })
    }

    fn matches(&self, value: &str) -> bool {
        let bytes = value.as_bytes();
        let mut finders = self.finders.as_slice();
        let (mut from, mut to) = (0, bytes.len());
        if self.anchored_start {
            let Some((first, rest)) = finders.split_first() else {
                return false;
            };
            if !bytes.starts_with(first.needle()) {
                return false;
            }
            from = first.needle().len();
            finders = rest;
        }
        if self.anchored_end {
            let Some((last, rest)) = finders.split_last() else {
                return false;
            };
            let piece = last.needle();
            if !bytes.ends_with(piece) || bytes.len() - piece.len() < from {
                return false;
            }
            to = bytes.len() - piece.len();
            finders = rest;
        }
        for finder in finders {
            match finder.find(&bytes[from..to]) {
                Some(at) => from += at + finder.needle().len(),
                None => return false,
            }
        }
        true
    }
}

/// A `LikeExpr` (or `NOT LIKE`) whose pattern is plain pieces between `%`s, matched by
/// finding them ([`Matcher`]).
#[derive(Debug, Clone)]
pub struct SegmentLikeExpr {
    expr: Arc<dyn PhysicalExpr>,
    /// The pattern literal, kept to show the expression as the `LikeExpr` it replaced.
    pattern: Arc<dyn PhysicalExpr>,
    negated: bool,
    matcher: Matcher,
}

impl SegmentLikeExpr {
    /// The replacement of `like`, if its pattern is a literal of pieces, it is case sensitive
    /// and its input is a string column of `schema`.
    fn try_from_like(like: &LikeExpr, schema: &Schema) -> DfResult<Option<Self>> {
        if like.case_insensitive() {
            return Ok(None);
        }
        let Some(literal) = like.pattern().downcast_ref::<Literal>() else {
            return Ok(None);
        };
        let text = match literal.value() {
            ScalarValue::Utf8(Some(s))
            | ScalarValue::LargeUtf8(Some(s))
            | ScalarValue::Utf8View(Some(s)) => s,
            _ => return Ok(None),
        };
        let string_input = matches!(
            like.expr().data_type(schema)?,
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
        );
        Ok(Matcher::of(text)
            .filter(|_| string_input)
            .map(|matcher| Self {
                expr: Arc::clone(like.expr()),
                pattern: Arc::clone(like.pattern()),
                negated: like.negated(),
                matcher,
            }))
    }

    fn op_name(&self) -> &str {
        if self.negated { "NOT LIKE" } else { "LIKE" }
    }

    /// The match of each value, null where the value is null.
    fn match_array(&self, values: &ArrayRef) -> DfResult<BooleanArray> {
        let test = |v: &str| self.matcher.matches(v) != self.negated;
        let bits = match values.data_type() {
            DataType::Utf8 => {
                let a = values.as_string::<i32>();
                BooleanBuffer::collect_bool(a.len(), |i| test(a.value(i)))
            }
            DataType::LargeUtf8 => {
                let a = values.as_string::<i64>();
                BooleanBuffer::collect_bool(a.len(), |i| test(a.value(i)))
            }
            DataType::Utf8View => {
                let a = values.as_string_view();
                BooleanBuffer::collect_bool(a.len(), |i| test(a.value(i)))
            }
            other => {
                return Err(DataFusionError::Internal(format!(
                    "bug: LIKE over pieces evaluated on {other}"
                )));
            }
        };
        Ok(BooleanArray::new(bits, values.logical_nulls()))
    }
}

impl fmt::Display for SegmentLikeExpr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.expr, self.op_name(), self.pattern)
    }
}

impl PartialEq for SegmentLikeExpr {
    fn eq(&self, other: &Self) -> bool {
        self.negated == other.negated
            && self.expr.eq(&other.expr)
            && self.pattern.eq(&other.pattern)
    }
}

impl Eq for SegmentLikeExpr {}

impl Hash for SegmentLikeExpr {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.expr.hash(state);
        self.pattern.hash(state);
        self.negated.hash(state);
    }
}

impl PhysicalExpr for SegmentLikeExpr {
    fn data_type(&self, _input_schema: &Schema) -> DfResult<DataType> {
        Ok(DataType::Boolean)
    }

    fn nullable(&self, input_schema: &Schema) -> DfResult<bool> {
        self.expr.nullable(input_schema)
    }

    fn evaluate(&self, batch: &RecordBatch) -> DfResult<ColumnarValue> {
        match self.expr.evaluate(batch)? {
            ColumnarValue::Array(values) => {
                Ok(ColumnarValue::Array(Arc::new(self.match_array(&values)?)))
            }
            ColumnarValue::Scalar(value) => {
                let one = self.match_array(&value.to_array_of_size(1)?)?;
                Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&one, 0)?))
            }
        }
    }

    fn children(&self) -> Vec<&Arc<dyn PhysicalExpr>> {
        vec![&self.expr, &self.pattern]
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn PhysicalExpr>>,
    ) -> DfResult<Arc<dyn PhysicalExpr>> {
        let [expr, pattern]: [Arc<dyn PhysicalExpr>; 2] = children
            .try_into()
            .map_err(|_| DataFusionError::Internal("bug: LIKE takes two children".into()))?;
        if !pattern.eq(&self.pattern) {
            // a new pattern is the LikeExpr's business
            return Ok(Arc::new(LikeExpr::new(self.negated, false, expr, pattern)));
        }
        Ok(Arc::new(Self {
            expr,
            pattern,
            negated: self.negated,
            matcher: self.matcher.clone(),
        }))
    }

    fn fmt_sql(&self, f: &mut Formatter<'_>) -> fmt::Result {
        self.expr.fmt_sql(f)?;
        write!(f, " {} ", self.op_name())?;
        self.pattern.fmt_sql(f)
    }
}

#[cfg(test)]
mod tests {
    use super::Matcher;

    /// `LIKE` by definition: `%` any run of characters, the rest literal (no `_` here).
    fn like(value: &str, pattern: &str) -> bool {
        let parts: Vec<&str> = pattern.split('%').collect();
        fn rest(value: &str, parts: &[&str], at_start: bool) -> bool {
            match parts {
                [] => value.is_empty(),
                [only] if !at_start => value.ends_with(only),
                [only] => value == *only,
                [head, tail @ ..] if at_start => {
                    value.starts_with(head) && rest(&value[head.len()..], tail, false)
                }
                [head, tail @ ..] => (0..=value.len())
                    .filter(|i| value.is_char_boundary(*i))
                    .any(|i| {
                        value[i..].starts_with(head) && rest(&value[i + head.len()..], tail, false)
                    }),
            }
        }
        rest(value, &parts, true)
    }

    #[test]
    fn pieces_match_as_like_defines() -> Result<(), String> {
        let patterns = [
            "%special%requests%",
            "special%requests",
            "%ab%ab",
            "ab%ab%",
            "ab%ba",
            "a%a",
            "%a%%b%",
            "é%ü%",
        ];
        let values = [
            "",
            "special requests",
            "specialrequests",
            "requests special",
            "the special, careful requests sleep",
            "special request",
            "ab",
            "aba",
            "abab",
            "ababab",
            "aXb",
            "a",
            "aa",
            "a\nb",
            "éü",
            "xéyüz",
        ];
        for p in patterns {
            let matcher = Matcher::of(p).ok_or(p)?;
            for v in values {
                assert_eq!(matcher.matches(v), like(v, p), "{v:?} LIKE {p:?}");
            }
        }
        Ok(())
    }

    #[test]
    fn only_patterns_arrow_would_compile_are_taken() -> Result<(), String> {
        for p in [
            "abc", "ab%", "%ab", "%ab%", "%%ab%%", "a_%b%", "a\\%b%c", "%",
        ] {
            assert!(Matcher::of(p).is_none(), "{p}");
        }
        let q13 = Matcher::of("%special%requests%").ok_or("q13")?;
        let pieces: Vec<&[u8]> = q13.finders.iter().map(|f| f.needle()).collect();
        assert_eq!(pieces, [b"special".as_slice(), b"requests".as_slice()]);
        assert!(!q13.anchored_start && !q13.anchored_end);
        Ok(())
    }
}
