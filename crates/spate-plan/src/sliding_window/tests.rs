//! Window aggregates through [`super::SlidingWindows`] against the frames' definitions,
//! evaluated row by row in the test: ROWS and RANGE frames, both orders and null placements,
//! null keys, values and partitions, peers, batches of 7 rows (partitions and peer groups
//! span batches), and a window without partition keys.

use std::collections::HashSet;
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, Float64Array, Int64Array, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Float64Type, Int64Type, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::execution::SessionStateBuilder;
use datafusion::physical_plan::displayable;
use datafusion::prelude::{SessionConfig, SessionContext, col};

use crate::functions::approx_distinct::{fresh_estimate, hashes};

/// One input row: id, partition, order key, value, string.
#[derive(Debug, Clone)]
struct Row {
    id: i64,
    p: Option<i64>,
    k: Option<i64>,
    x: Option<f64>,
    s: Option<String>,
}

fn rows() -> Vec<Row> {
    let mut state = 42u64;
    let mut next = move |m: u64| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) % m
    };
    (0..900)
        .map(|id| {
            let p = match next(9) {
                0 => None,
                v => Some(v as i64 % 4),
            };
            let k = (next(10) != 0).then(|| next(60) as i64);
            let x = (next(5) != 0).then(|| next(1000) as f64 / 8.0 - 40.0);
            let s = (next(7) != 0).then(|| format!("s{}", next(25)));
            Row { id, p, k, x, s }
        })
        .collect()
}

fn context(rows: &[Row], sliding: bool) -> datafusion::error::Result<SessionContext> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("p", DataType::Int64, true),
        Field::new("k", DataType::Int64, true),
        Field::new("x", DataType::Float64, true),
        Field::new("s", DataType::Utf8, true),
    ]));
    let batches = rows
        .chunks(7)
        .map(|c| {
            RecordBatch::try_new(
                Arc::clone(&schema),
                vec![
                    Arc::new(Int64Array::from_iter_values(c.iter().map(|r| r.id))),
                    Arc::new(c.iter().map(|r| r.p).collect::<Int64Array>()),
                    Arc::new(c.iter().map(|r| r.k).collect::<Int64Array>()),
                    Arc::new(c.iter().map(|r| r.x).collect::<Float64Array>()),
                    Arc::new(c.iter().map(|r| r.s.clone()).collect::<StringArray>()),
                ],
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    let config = SessionConfig::new()
        .with_batch_size(7)
        .with_target_partitions(2);
    let mut builder = SessionStateBuilder::new()
        .with_config(config)
        .with_default_features();
    if sliding {
        let mut rules = datafusion::physical_optimizer::optimizer::PhysicalOptimizer::new().rules;
        rules.push(Arc::new(super::SlidingWindows));
        builder = builder.with_physical_optimizer_rules(rules);
    }
    let ctx = SessionContext::new_with_state(builder.build());
    ctx.register_udaf(datafusion::logical_expr::AggregateUDF::from(
        crate::functions::ApproxCountDistinct::new(),
    ));
    ctx.register_table("t", Arc::new(MemTable::try_new(schema, vec![batches])?))?;
    Ok(ctx)
}

/// A frame as the SQL standard (and Spark) defines it, for one window.
struct Window {
    over: &'static str,
    partitioned: bool,
    /// ROWS (by id, unique) or RANGE (by k)
    range: bool,
    descending: bool,
    nulls_first: bool,
    /// None: unbounded preceding
    preceding: Option<i64>,
}

/// `a` sorts before `b` in the window's order.
fn key_order(w: &Window, a: Option<i64>, b: Option<i64>) -> std::cmp::Ordering {
    use std::cmp::Ordering::*;
    match (a, b) {
        (None, None) => Equal,
        (None, Some(_)) => {
            if w.nulls_first {
                Less
            } else {
                Greater
            }
        }
        (Some(_), None) => {
            if w.nulls_first {
                Greater
            } else {
                Less
            }
        }
        (Some(a), Some(b)) => {
            if w.descending {
                b.cmp(&a)
            } else {
                a.cmp(&b)
            }
        }
    }
}

/// The rows of `row`'s frame.
fn frame<'a>(w: &Window, all: &'a [Row], row: &Row) -> Vec<&'a Row> {
    let mut part: Vec<&Row> = all
        .iter()
        .filter(|r| !w.partitioned || r.p == row.p)
        .collect();
    if !w.range {
        part.sort_by_key(|r| r.id);
        let at = part.iter().position(|r| r.id == row.id).unwrap_or(0);
        let from = w.preceding.map_or(0, |n| at.saturating_sub(n as usize));
        return part[from..=at].to_vec();
    }
    part.into_iter()
        .filter(|r| {
            // in the frame: not after the current row's last peer...
            if key_order(w, r.k, row.k) == std::cmp::Ordering::Greater {
                return false;
            }
            // ...and not before its start
            match (w.preceding, row.k, r.k) {
                (None, _, _) => true,
                (Some(_), None, other) => other.is_none(),
                (Some(_), Some(_), None) => false,
                (Some(n), Some(cur), Some(v)) => {
                    if w.descending {
                        v <= cur + n
                    } else {
                        v >= cur - n
                    }
                }
            }
        })
        .collect()
}

const WINDOWS: &[Window] = &[
    Window {
        over: "PARTITION BY p ORDER BY k ASC NULLS FIRST RANGE BETWEEN 5 PRECEDING AND CURRENT ROW",
        partitioned: true,
        range: true,
        descending: false,
        nulls_first: true,
        preceding: Some(5),
    },
    Window {
        over: "PARTITION BY p ORDER BY k DESC NULLS LAST RANGE BETWEEN 5 PRECEDING AND CURRENT ROW",
        partitioned: true,
        range: true,
        descending: true,
        nulls_first: false,
        preceding: Some(5),
    },
    Window {
        over: "PARTITION BY p ORDER BY k ASC NULLS LAST RANGE BETWEEN 12 PRECEDING AND CURRENT ROW",
        partitioned: true,
        range: true,
        descending: false,
        nulls_first: false,
        preceding: Some(12),
    },
    Window {
        over: "PARTITION BY p ORDER BY k DESC NULLS FIRST RANGE BETWEEN CURRENT ROW AND CURRENT ROW",
        partitioned: true,
        range: true,
        descending: true,
        nulls_first: true,
        preceding: Some(0),
    },
    Window {
        over: "PARTITION BY p ORDER BY k ASC NULLS FIRST RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW",
        partitioned: true,
        range: true,
        descending: false,
        nulls_first: true,
        preceding: None,
    },
    Window {
        over: "ORDER BY k ASC NULLS FIRST RANGE BETWEEN 3 PRECEDING AND CURRENT ROW",
        partitioned: false,
        range: true,
        descending: false,
        nulls_first: true,
        preceding: Some(3),
    },
    Window {
        over: "PARTITION BY p ORDER BY id ROWS BETWEEN 13 PRECEDING AND CURRENT ROW",
        partitioned: true,
        range: false,
        descending: false,
        nulls_first: true,
        preceding: Some(13),
    },
    Window {
        over: "PARTITION BY p ORDER BY id ROWS BETWEEN CURRENT ROW AND CURRENT ROW",
        partitioned: true,
        range: false,
        descending: false,
        nulls_first: true,
        preceding: Some(0),
    },
    Window {
        over: "PARTITION BY p ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW",
        partitioned: true,
        range: false,
        descending: false,
        nulls_first: true,
        preceding: None,
    },
];

fn close(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0),
        _ => false,
    }
}

#[tokio::test]
async fn frames_are_computed_as_defined() -> datafusion::error::Result<()> {
    let all = rows();
    let ctx = context(&all, true)?;
    let s_hashes =
        hashes(&(Arc::new(all.iter().map(|r| r.s.clone()).collect::<StringArray>()) as _))?;
    for w in WINDOWS {
        let over = w.over;
        let sql = format!(
            "SELECT id, count(*) OVER ({over}), count(x) OVER ({over}), sum(x) OVER ({over}), \
             avg(x) OVER ({over}), approx_count_distinct(s) OVER ({over}) FROM t"
        );
        let df = ctx.sql(&sql).await?;
        let plan = df.clone().create_physical_plan().await?;
        let shown = displayable(plan.as_ref()).indent(true).to_string();
        assert!(shown.contains("SlidingWindowAggExec"), "{over}:\n{shown}");
        assert!(!shown.contains("BoundedWindowAggExec"), "{over}:\n{shown}");
        let mut seen = 0;
        for batch in df.collect().await? {
            let ids = batch.column(0).as_primitive::<Int64Type>();
            for i in 0..batch.num_rows() {
                let row = &all[ids.value(i) as usize];
                let f = frame(w, &all, row);
                let values: Vec<f64> = f.iter().filter_map(|r| r.x).collect();
                let sum = (!values.is_empty()).then(|| values.iter().sum::<f64>());
                let avg = sum.map(|s| s / values.len() as f64);
                let distinct: HashSet<u64> =
                    f.iter().filter_map(|r| s_hashes[r.id as usize]).collect();
                let int = |c: usize| batch.column(c).as_primitive::<Int64Type>().value(i);
                let dbl = |c: usize| {
                    let a = batch.column(c).as_primitive::<Float64Type>();
                    a.is_valid(i).then(|| a.value(i))
                };
                let at = format!("{over}, row {row:?}");
                assert_eq!(int(1), f.len() as i64, "count(*) {at}");
                assert_eq!(int(2), values.len() as i64, "count(x) {at}");
                assert!(close(dbl(3), sum), "sum {:?} != {sum:?} {at}", dbl(3));
                assert!(close(dbl(4), avg), "avg {:?} != {avg:?} {at}", dbl(4));
                assert_eq!(
                    int(5),
                    fresh_estimate(9, distinct),
                    "approx_count_distinct {at}"
                );
                seen += 1;
            }
        }
        assert_eq!(seen, all.len(), "{over}");
    }
    Ok(())
}

#[tokio::test]
async fn other_windows_stay_datafusions() -> datafusion::error::Result<()> {
    let ctx = context(&rows(), true)?;
    for sql in [
        // a frame that ends after the current row, a function that is not an aggregate, an
        // aggregate it does not compute
        "SELECT sum(x) OVER (PARTITION BY p ORDER BY k ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING) FROM t",
        "SELECT row_number() OVER (PARTITION BY p ORDER BY k) FROM t",
        "SELECT max(x) OVER (PARTITION BY p ORDER BY k RANGE BETWEEN 2 PRECEDING AND CURRENT ROW) FROM t",
        "SELECT sum(k) OVER (PARTITION BY p ORDER BY k RANGE BETWEEN 2 PRECEDING AND CURRENT ROW) FROM t",
    ] {
        let plan = ctx.sql(sql).await?.create_physical_plan().await?;
        let shown = displayable(plan.as_ref()).indent(true).to_string();
        assert!(!shown.contains("SlidingWindowAggExec"), "{sql}:\n{shown}");
        assert!(shown.contains("WindowAggExec"), "{sql}:\n{shown}");
    }
    Ok(())
}

#[tokio::test]
async fn answers_equal_datafusions_own() -> datafusion::error::Result<()> {
    // The same windows without the rule: DataFusion's operators give the same counts and
    // estimates, and sums and averages to the last few digits.
    let all = rows();
    let (ours, theirs) = (context(&all, true)?, context(&all, false)?);
    let sql = "SELECT id, count(x) OVER w, avg(x) OVER w, approx_count_distinct(s) OVER w \
               FROM t WINDOW w AS (PARTITION BY p ORDER BY k RANGE BETWEEN 7 PRECEDING AND CURRENT ROW) \
               ORDER BY id";
    let a = ours.sql(sql).await?.collect().await?;
    let b = theirs.sql(sql).await?.collect().await?;
    let a = datafusion::arrow::compute::concat_batches(&a[0].schema(), &a)?;
    let b = datafusion::arrow::compute::concat_batches(&b[0].schema(), &b)?;
    assert_eq!(a.num_rows(), all.len());
    assert_eq!(a.column(0), b.column(0));
    assert_eq!(a.column(1), b.column(1));
    assert_eq!(a.column(3), b.column(3));
    let (x, y) = (
        a.column(2).as_primitive::<Float64Type>(),
        b.column(2).as_primitive::<Float64Type>(),
    );
    for i in 0..x.len() {
        let (p, q) = (
            x.is_valid(i).then(|| x.value(i)),
            y.is_valid(i).then(|| y.value(i)),
        );
        assert!(close(p, q), "row {i}: {p:?} vs {q:?}");
    }
    Ok(())
}

#[tokio::test]
async fn rows_held_count_against_the_memory_pool() -> datafusion::error::Result<()> {
    // 20,000 peers of one key in one partition: a RANGE frame's end is the last of them, so
    // every row waits for the last batch, in a pool of 256 KiB. The limited session reads them
    // declared sorted, in one partition, so no sort or exchange ahead of the window holds
    // memory too (a sort's merge could otherwise run out first)
    let all: Vec<Row> = (0..20_000)
        .map(|id| Row {
            id,
            p: Some(0),
            k: Some(1),
            x: Some(id as f64),
            s: None,
        })
        .collect();
    let ctx = context(&all, true)?;
    let state = ctx.state();
    let runtime = datafusion::execution::runtime_env::RuntimeEnvBuilder::new()
        .with_memory_limit(256 * 1024, 1.0)
        .build_arc()?;
    // (the catalog, shared with `ctx`, is kept: a config that creates one would replace it)
    let config = state
        .config()
        .clone()
        .with_target_partitions(1)
        .with_create_default_catalog_and_schema(false);
    let limited = SessionContext::new_with_state(
        SessionStateBuilder::new_from_existing(state)
            .with_config(config)
            .with_runtime_env(runtime)
            .build(),
    );
    let rows = ctx.table("t").await?.collect().await?;
    let order = vec![vec![col("p").sort(true, false), col("k").sort(true, false)]];
    limited.register_table(
        "sorted",
        Arc::new(MemTable::try_new(rows[0].schema(), vec![rows])?.with_sort_order(order)),
    )?;
    let sql = "SELECT sum(x) OVER (PARTITION BY p ORDER BY k RANGE BETWEEN 1 PRECEDING AND CURRENT ROW) FROM t";
    let on_sorted = sql.replace("FROM t", "FROM sorted");
    let shown = displayable(
        limited
            .sql(&on_sorted)
            .await?
            .create_physical_plan()
            .await?
            .as_ref(),
    )
    .indent(true)
    .to_string();
    assert!(
        !shown.contains("SortExec") && !shown.contains("RepartitionExec"),
        "{shown}"
    );
    let Err(err) = limited.sql(&on_sorted).await?.collect().await else {
        return Err(datafusion::error::DataFusionError::Execution(
            "20,000 waiting rows fit in 256 KiB".into(),
        ));
    };
    let message = err.to_string();
    assert!(
        message.contains("Resources exhausted") && message.contains("SlidingWindowAggExec"),
        "{message}"
    );
    // with room, every row's frame is all 20,000 rows
    let out = ctx.sql(sql).await?.collect().await?;
    let total: f64 = (0..20_000).map(f64::from).sum();
    for b in out {
        let v = b.column(0).as_primitive::<Float64Type>();
        assert!((0..v.len()).all(|i| v.value(i) == total));
    }
    Ok(())
}

#[tokio::test]
async fn windows_one_above_the_other_become_one_operator() -> datafusion::error::Result<()> {
    // seed 002's shape: one window per withColumn, each a layer over the previous; the three
    // over the same window become one operator; a different frame and an aggregate of another
    // window's result stay operators of their own; answers as DataFusion's own operators give
    let all = rows();
    let (ours, theirs) = (context(&all, true)?, context(&all, false)?);
    let w = "PARTITION BY p ORDER BY k RANGE BETWEEN 7 PRECEDING AND CURRENT ROW";
    let sql = format!(
        "SELECT id, c, a, d, e, f FROM ( \
           SELECT *, avg(CAST(c AS DOUBLE)) OVER ({w}) AS f FROM ( \
             SELECT *, sum(x) OVER (PARTITION BY p ORDER BY k ROWS BETWEEN 3 PRECEDING AND CURRENT ROW) AS e FROM ( \
               SELECT *, approx_count_distinct(s) OVER ({w}) AS d FROM ( \
                 SELECT *, avg(x) OVER ({w}) AS a FROM ( \
                   SELECT id, p, k, x, s, count(*) OVER ({w}) AS c FROM t))))) ORDER BY id"
    );
    let df = ours.sql(&sql).await?;
    let plan = df.clone().create_physical_plan().await?;
    let shown = displayable(plan.as_ref()).indent(true).to_string();
    assert_eq!(shown.matches("SlidingWindowAggExec").count(), 3, "{shown}");
    assert!(!shown.contains("BoundedWindowAggExec"), "{shown}");
    let merged = shown
        .lines()
        .find(|l| l.contains("SlidingWindowAggExec") && l.contains("count(Int64(1))"))
        .unwrap_or_default();
    assert!(
        merged.contains("avg(") && merged.contains("approx_count_distinct("),
        "{shown}"
    );
    let a = df.collect().await?;
    let b = theirs.sql(&sql).await?.collect().await?;
    let a = datafusion::arrow::compute::concat_batches(&a[0].schema(), &a)?;
    let b = datafusion::arrow::compute::concat_batches(&b[0].schema(), &b)?;
    assert_eq!(a.schema(), b.schema());
    assert_eq!(a.num_rows(), all.len());
    for c in [0, 1, 3] {
        assert_eq!(a.column(c), b.column(c), "column {c}");
    }
    for c in [2, 4, 5] {
        let (x, y) = (
            a.column(c).as_primitive::<Float64Type>(),
            b.column(c).as_primitive::<Float64Type>(),
        );
        for i in 0..x.len() {
            let (p, q) = (
                x.is_valid(i).then(|| x.value(i)),
                y.is_valid(i).then(|| y.value(i)),
            );
            assert!(close(p, q), "column {c} row {i}: {p:?} vs {q:?}");
        }
    }
    Ok(())
}
