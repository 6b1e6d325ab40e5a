//! Tests of [`super::TopRowsPerKey`] and [`super::WindowGroupLimitExec`]: plans and answers
//! against values computed here.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, Int64Array, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::physical_plan::displayable;
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::test_session::{Place, plan_and_pairs, with_rule};

fn context() -> datafusion::error::Result<SessionContext> {
    context_with(1000)
}

/// With `spark.sql.optimizer.windowGroupLimitThreshold` at `threshold`.
fn context_with(threshold: i64) -> datafusion::error::Result<SessionContext> {
    // 3000 rows: key p = i % 7, value v unique (a permutation of 0..3000)
    let schema = Arc::new(Schema::new(vec![
        Field::new("p", DataType::Int64, false),
        Field::new("v", DataType::Int64, false),
    ]));
    let n = 3000i64;
    let batches = (0..n)
        .collect::<Vec<_>>()
        .chunks(100)
        .map(|c| {
            RecordBatch::try_new(
                Arc::clone(&schema),
                vec![
                    Arc::new(Int64Array::from_iter_values(c.iter().map(|i| i % 7))),
                    Arc::new(Int64Array::from_iter_values(
                        c.iter().map(|i| (i * 1237) % n),
                    )),
                ],
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    let options = crate::options::SpateOptions {
        window_group_limit: usize::try_from(threshold).ok(),
        ..Default::default()
    };
    let ctx = with_rule(
        SessionConfig::new()
            .with_target_partitions(2)
            .with_batch_size(64)
            .with_option_extension(options),
        Arc::new(super::TopRowsPerKey),
        Place::Before(super::BEFORE_RULE),
    );
    ctx.register_table("t", Arc::new(MemTable::try_new(schema, vec![batches])?))?;
    let (schema, batches) = mixed_rows()?;
    ctx.register_table("u", Arc::new(MemTable::try_new(schema, vec![batches])?))?;
    Ok(ctx)
}

async fn plan_and_rows(sql: &str) -> datafusion::error::Result<(String, Vec<(i64, i64)>)> {
    plan_and_rows_in(context()?, sql).await
}

async fn plan_and_rows_in(
    ctx: SessionContext,
    sql: &str,
) -> datafusion::error::Result<(String, Vec<(i64, i64)>)> {
    plan_and_pairs(&ctx, sql).await
}

/// The values of key `p` in `t`, largest first, computed here.
fn values_down(p: i64) -> Vec<i64> {
    let mut vs: Vec<i64> = (0..3000i64)
        .filter(|i| i % 7 == p)
        .map(|i| (i * 1237) % 3000)
        .collect();
    vs.sort_by(|a, b| b.cmp(a));
    vs
}

/// The `k` largest values of each key.
fn expected(k: usize) -> Vec<(i64, i64)> {
    let mut out = Vec::new();
    for p in 0..7 {
        out.extend(values_down(p).into_iter().take(k).map(|v| (p, v)));
    }
    out.sort();
    out
}

#[tokio::test]
async fn first_rows_per_key_are_kept_by_the_group_limit() -> datafusion::error::Result<()> {
    for (filter, k) in [
        ("rn = 1", 1),
        ("1 = rn", 1),
        ("rn <= 3", 3),
        ("rn < 3", 2),
        ("4 >= rn", 4),
    ] {
        let sql = format!(
            "SELECT p, v FROM (SELECT p, v, row_number() OVER (PARTITION BY p ORDER BY v DESC) AS rn FROM t) WHERE {filter}"
        );
        let (plan, rows) = plan_and_rows(&sql).await?;
        assert!(plan.contains("WindowGroupLimitExec"), "{filter}:\n{plan}");
        assert!(!plan.contains("FilterExec"), "{filter}:\n{plan}");
        assert_eq!(rows, expected(k), "{filter}");
    }
    Ok(())
}

#[tokio::test]
async fn other_filters_and_windows_keep_their_plan() -> datafusion::error::Result<()> {
    let (top2, top1) = (expected(2), expected(1));
    let second: Vec<(i64, i64)> = top2.into_iter().filter(|r| !top1.contains(r)).collect();
    for (sql, want) in [
        // rn = 2 is not a prefix of each key's rows
        (
            "SELECT p, v FROM (SELECT p, v, row_number() OVER (PARTITION BY p ORDER BY v DESC) AS rn FROM t) WHERE rn = 2",
            &second,
        ),
        // another window value of the same operator sees every row of the key
        (
            "SELECT p, v, c FROM (SELECT p, v, row_number() OVER (PARTITION BY p ORDER BY v DESC) AS rn, \
             count(*) OVER (PARTITION BY p ORDER BY v DESC) AS c FROM t) WHERE rn = 1",
            &top1,
        ),
        // values are unique: rank 1 is each key's largest
        (
            "SELECT p, v FROM (SELECT p, v, rank() OVER (PARTITION BY p ORDER BY v DESC) AS rn FROM t) WHERE rn = 1",
            &top1,
        ),
    ] {
        let (plan, rows) = plan_and_rows(sql).await?;
        assert!(!plan.contains("WindowGroupLimitExec"), "{sql}:\n{plan}");
        assert_eq!(&rows, want, "{sql}");
    }
    Ok(())
}

#[tokio::test]
async fn limits_above_the_threshold_keep_the_sort() -> datafusion::error::Result<()> {
    let sql = "SELECT p, v FROM (SELECT p, v, row_number() OVER (PARTITION BY p ORDER BY v DESC) AS rn FROM t) WHERE rn <= 3";
    for (threshold, rewritten) in [(3, true), (2, false), (-1, false)] {
        let (plan, rows) = plan_and_rows_in(context_with(threshold)?, sql).await?;
        assert_eq!(
            plan.contains("WindowGroupLimitExec"),
            rewritten,
            "{threshold}:\n{plan}"
        );
        assert_eq!(rows, expected(3), "{threshold}");
    }
    Ok(())
}

/// Row `x` of table `u` (2000 rows, 64 per batch): string key `k1` (null every 41st row), int
/// key `k2`, order value `o` (50 values, many ties; null every 13th row), position `i`.
fn mixed_row(x: i64) -> (Option<String>, i64, Option<i64>, i64) {
    let k1 = (x % 41 != 0).then(|| format!("u{}", x % 37));
    let o = (x % 13 != 0).then_some((x * 7919) % 50);
    (k1, x % 3, o, x)
}

fn mixed_rows() -> datafusion::error::Result<(Arc<Schema>, Vec<RecordBatch>)> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("k1", DataType::Utf8, true),
        Field::new("k2", DataType::Int64, false),
        Field::new("o", DataType::Int64, true),
        Field::new("i", DataType::Int64, false),
    ]));
    let batches = (0..2000i64)
        .collect::<Vec<_>>()
        .chunks(64)
        .map(|c| {
            let rows: Vec<_> = c.iter().map(|&x| mixed_row(x)).collect();
            RecordBatch::try_new(
                Arc::clone(&schema),
                vec![
                    Arc::new(StringArray::from_iter(rows.iter().map(|r| r.0.clone()))),
                    Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1))),
                    Arc::new(Int64Array::from_iter(rows.iter().map(|r| r.2))),
                    Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.3))),
                ],
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((schema, batches))
}

type KeyedValue = (Option<String>, i64, Option<i64>);

/// `(k1, k2, o)` of the rows of `u` a query returns, sorted.
async fn keyed_values(
    ctx: &SessionContext,
    sql: &str,
) -> datafusion::error::Result<(String, Vec<KeyedValue>)> {
    let df = ctx.sql(sql).await?;
    let plan = df.clone().create_physical_plan().await?;
    let shown = displayable(plan.as_ref()).indent(true).to_string();
    let mut rows = Vec::new();
    for b in df.collect().await? {
        let k1 = b.column(0).as_string::<i32>();
        let k2 = b.column(1).as_primitive::<Int64Type>();
        let o = b.column(2).as_primitive::<Int64Type>();
        rows.extend((0..b.num_rows()).map(|i| {
            (
                k1.is_valid(i).then(|| k1.value(i).to_string()),
                k2.value(i),
                o.is_valid(i).then(|| o.value(i)),
            )
        }));
    }
    rows.sort();
    Ok((shown, rows))
}

/// Null keys form one partition; each key keeps its `k` first order values (ties are equal
/// values, so the values kept are known whichever tied row is kept), for both directions and
/// null placements, keys split over batches and partitions.
#[tokio::test]
async fn first_rows_of_string_and_null_keys_with_ties() -> datafusion::error::Result<()> {
    let ctx = context()?;
    for (descending, nulls_first) in [(false, false), (false, true), (true, true), (true, false)] {
        for k in [1usize, 3, 100] {
            let dir = if descending { "DESC" } else { "ASC" };
            let nulls = if nulls_first { "FIRST" } else { "LAST" };
            let sql = format!(
                "SELECT k1, k2, o FROM (SELECT k1, k2, o, row_number() OVER \
                 (PARTITION BY k1, k2 ORDER BY o {dir} NULLS {nulls}) AS rn FROM u) WHERE rn <= {k}"
            );
            let (plan, rows) = keyed_values(&ctx, &sql).await?;
            assert!(plan.contains("WindowGroupLimitExec"), "{sql}:\n{plan}");
            let mut groups: std::collections::BTreeMap<(Option<String>, i64), Vec<Option<i64>>> =
                Default::default();
            for x in 0..2000 {
                let (k1, k2, o, _) = mixed_row(x);
                groups.entry((k1, k2)).or_default().push(o);
            }
            let mut expected = Vec::new();
            for ((k1, k2), mut os) in groups {
                os.sort_by(|a, b| match (a, b) {
                    (None, None) => std::cmp::Ordering::Equal,
                    (None, Some(_)) if nulls_first => std::cmp::Ordering::Less,
                    (None, Some(_)) => std::cmp::Ordering::Greater,
                    (Some(_), None) if nulls_first => std::cmp::Ordering::Greater,
                    (Some(_), None) => std::cmp::Ordering::Less,
                    (Some(a), Some(b)) if descending => b.cmp(a),
                    (Some(a), Some(b)) => a.cmp(b),
                });
                expected.extend(os.into_iter().take(k).map(|o| (k1.clone(), k2, o)));
            }
            expected.sort();
            assert_eq!(rows, expected, "{sql}");
        }
    }
    Ok(())
}

/// Input already sorted by the keys for another window (seed 002's range windows before its
/// latest row per user) is not sorted again: the only sort is the first window's.
#[tokio::test]
async fn input_clustered_by_another_window_is_not_sorted_again() -> datafusion::error::Result<()> {
    let ctx = context()?;
    let sql = "SELECT k2, o, s FROM (SELECT k2, o, s, row_number() OVER (PARTITION BY k2 ORDER BY o DESC NULLS LAST, i) AS rn \
               FROM (SELECT k2, o, i, sum(i) OVER (PARTITION BY k2 ORDER BY i) AS s FROM u)) WHERE rn = 1";
    let df = ctx.sql(sql).await?;
    let plan = df.clone().create_physical_plan().await?;
    let shown = displayable(plan.as_ref()).indent(true).to_string();
    assert!(shown.contains("WindowGroupLimitExec"), "{shown}");
    assert_eq!(shown.matches("SortExec").count(), 1, "{shown}");
    let mut rows = Vec::new();
    for b in df.collect().await? {
        let (k2, o, s) = (
            b.column(0).as_primitive::<Int64Type>(),
            b.column(1).as_primitive::<Int64Type>(),
            b.column(2).as_primitive::<Int64Type>(),
        );
        rows.extend((0..b.num_rows()).map(|r| (k2.value(r), o.value(r), s.value(r))));
    }
    rows.sort();
    // per k2: the largest o, the first such row by i, with the running sum of i up to it
    let mut expected = Vec::new();
    for key in 0..3 {
        let all: Vec<_> = (0..2000).map(mixed_row).filter(|r| r.1 == key).collect();
        let top = all.iter().filter_map(|r| r.2).max().unwrap_or_default();
        let (_, _, _, at) = all
            .iter()
            .find(|r| r.2 == Some(top))
            .cloned()
            .unwrap_or_default();
        let s: i64 = all.iter().map(|r| r.3).filter(|i| *i <= at).sum();
        expected.push((key, top, s));
    }
    assert_eq!(rows, expected);
    Ok(())
}

/// The operator numbers the rows it keeps: the window operator is gone, and each key's rows
/// are numbered 1, 2, 3 from the largest value down.
#[tokio::test]
async fn kept_rows_are_numbered_in_order() -> datafusion::error::Result<()> {
    let ctx = context()?;
    let sql = "SELECT p, v, rn FROM (SELECT p, v, row_number() OVER (PARTITION BY p ORDER BY v DESC) AS rn FROM t) WHERE rn <= 3";
    let df = ctx.sql(sql).await?;
    let plan = df.clone().create_physical_plan().await?;
    let shown = displayable(plan.as_ref()).indent(true).to_string();
    assert!(shown.contains("WindowGroupLimitExec"), "{shown}");
    assert!(!shown.contains("WindowAggExec"), "{shown}");
    let mut rows = Vec::new();
    for b in df.collect().await? {
        let (p, v) = (
            b.column(0).as_primitive::<Int64Type>(),
            b.column(1).as_primitive::<Int64Type>(),
        );
        let rn = datafusion::arrow::compute::cast(b.column(2), &DataType::Int64)?;
        let rn = rn.as_primitive::<Int64Type>();
        rows.extend((0..b.num_rows()).map(|i| (p.value(i), rn.value(i), v.value(i))));
    }
    rows.sort();
    let mut expected = Vec::new();
    for p in 0..7 {
        expected.extend(
            values_down(p)
                .into_iter()
                .take(3)
                .zip(1..)
                .map(|(v, n)| (p, n, v)),
        );
    }
    assert_eq!(rows, expected);
    Ok(())
}
