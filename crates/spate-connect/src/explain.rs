//! `df.explain()` in Spark's words. The physical plan is drawn as Spark draws its own — one
//! operator a line, children under `+- ` (the last) and `:- ` (the others) — with Spark's
//! name for each of Spate's operators where Spark has one: `Project`, `Filter`,
//! `BroadcastHashJoin` (a hash join that collects one side), `ShuffledHashJoin`,
//! `SortMergeJoin`, `BroadcastNestedLoopJoin`, `HashAggregate`, `Sort`, `Exchange` (with
//! Spark's partitioning names), `LocalTableScan`, `FileScan`, `Range`, `InMemoryTableScan`
//! (a cached DataFrame), `Union`, `Window`, `GlobalLimit`/`LocalLimit`; an operator Spark
//! lacks keeps DataFusion's one-line description. Column references are shown by name.
//!
//! The modes: `simple` (the physical plan), `extended` (DataFusion's parsed, analyzed and
//! optimized logical plans, then the physical plan), `cost` (the optimized logical plan with
//! the estimated size and rows of its result — DataFusion estimates them on the physical plan
//! — then the physical plan), `formatted` (the outline, numbered, then each operator's
//! DataFusion details), `codegen` (as `simple`: Spate generates no code).

use std::fmt::Write;
use std::sync::Arc;

use datafusion::common::JoinType;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::physical_plan::FileScanConfig;
use datafusion::datasource::source::DataSourceExec;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::aggregates::AggregateExec;
use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
use datafusion::physical_plan::filter::FilterExec;
use datafusion::physical_plan::joins::{
    CrossJoinExec, HashJoinExec, NestedLoopJoinExec, PartitionMode, SortMergeJoinExec,
};
use datafusion::physical_plan::limit::{GlobalLimitExec, LocalLimitExec};
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::repartition::RepartitionExec;
use datafusion::physical_plan::sorts::sort::SortExec;
use datafusion::physical_plan::statistics::{StatisticsArgs, StatisticsContext};
use datafusion::physical_plan::union::UnionExec;
use datafusion::physical_plan::{ExecutionPlan, Partitioning, displayable};
use spark_connect_proto::spark::connect::analyze_plan_request::explain::ExplainMode;
use spate_common::Result;
use spate_exec::QueryScope;
use spate_session::Session;

/// The text of `explain(mode)` for the resolved plan `p`.
pub(crate) async fn explain(session: &Session, p: &LogicalPlan, mode: i32) -> Result<String> {
    let state = session.state(QueryScope::default())?;
    let optimized = state.optimize(p)?;
    let physical = spate_exec::physical_plan(&state, p).await?;
    let tree = spark_tree(&physical);
    let mode = ExplainMode::try_from(mode).unwrap_or(ExplainMode::Simple);
    Ok(match mode {
        ExplainMode::Extended => format!(
            "== Parsed Logical Plan ==\n{}\n\n== Analyzed Logical Plan ==\n{}\n\n== Optimized Logical Plan ==\n{}\n\n== Physical Plan ==\n{tree}\n",
            p.display_indent(),
            p.display_indent_schema(),
            optimized.display_indent(),
        ),
        ExplainMode::Cost => {
            let stats =
                StatisticsContext::new().compute(physical.as_ref(), &StatisticsArgs::new())?;
            let size = stats
                .total_byte_size
                .get_value()
                .map_or("unknown".to_string(), |b| format!("{b} B"));
            let rows = stats
                .num_rows
                .get_value()
                .map_or(String::new(), |r| format!(", rowCount={r}"));
            let mut lines = optimized.display_indent().to_string();
            let first_end = lines.find('\n').unwrap_or(lines.len());
            lines.insert_str(
                first_end,
                &format!(", Statistics(sizeInBytes={size}{rows})"),
            );
            format!("== Optimized Logical Plan ==\n{lines}\n\n== Physical Plan ==\n{tree}\n")
        }
        ExplainMode::Formatted => {
            let mut out = format!("== Physical Plan ==\n{}\n\n", numbered_tree(&physical));
            let mut n = 0;
            details(&physical, &mut n, &mut out);
            out
        }
        _ => format!("== Physical Plan ==\n{tree}\n"),
    })
}

/// The plan drawn as Spark's `treeString`.
pub(crate) fn spark_tree(plan: &Arc<dyn ExecutionPlan>) -> String {
    let mut out = String::new();
    draw(plan, &mut Vec::new(), &mut out, &mut |p| spark_line(p));
    out.trim_end().to_string()
}

/// The outline of `formatted`: each line numbered as its details below are.
fn numbered_tree(plan: &Arc<dyn ExecutionPlan>) -> String {
    let mut n = 0;
    let mut out = String::new();
    draw(plan, &mut Vec::new(), &mut out, &mut |p| {
        n += 1;
        format!("{} ({n})", spark_name(p))
    });
    out.trim_end().to_string()
}

fn details(plan: &Arc<dyn ExecutionPlan>, n: &mut usize, out: &mut String) {
    for p in shown(plan) {
        *n += 1;
        let _ = writeln!(
            out,
            "({n}) {}\n{}\n",
            spark_name(&p),
            displayable(p.as_ref()).one_line().to_string().trim_end()
        );
        for child in p.children() {
            details(child, n, out);
        }
    }
}

/// `plan`, or the operators under it when it is one Spark does not show (batch coalescing,
/// the compaction of a join's build side).
fn shown(plan: &Arc<dyn ExecutionPlan>) -> Vec<Arc<dyn ExecutionPlan>> {
    if plan.name() == "CoalesceBatchesExec" || plan.name() == spate_plan::compact_views::NAME {
        return plan.children().into_iter().flat_map(shown).collect();
    }
    vec![Arc::clone(plan)]
}

/// Draws `plan` under the branches in `last` (whether each ancestor was its parent's last
/// child), a line per operator; a join that also projects is drawn as Spark plans it, a
/// `Project` above the join.
fn draw(
    plan: &Arc<dyn ExecutionPlan>,
    last: &mut Vec<bool>,
    out: &mut String,
    line: &mut dyn FnMut(&Arc<dyn ExecutionPlan>) -> String,
) {
    for p in shown(plan) {
        let projects = p
            .downcast_ref::<HashJoinExec>()
            .is_some_and(HashJoinExec::contains_projection);
        let depth = last.len();
        if projects {
            branch(last, out);
            let _ = writeln!(out, "Project {}", columns(&p));
            last.push(true);
        }
        branch(last, out);
        out.push_str(&line(&p));
        out.push('\n');
        let children: Vec<_> = p.children().into_iter().flat_map(shown).collect();
        let count = children.len();
        for (i, child) in children.iter().enumerate() {
            last.push(i + 1 == count);
            draw(child, last, out, line);
            last.pop();
        }
        last.truncate(depth);
    }
}

/// The tree's branches in front of a line at the depth of `last`.
fn branch(last: &[bool], out: &mut String) {
    if let Some((me, above)) = last.split_last() {
        for l in above {
            out.push_str(if *l { "   " } else { ":  " });
        }
        out.push_str(if *me { "+- " } else { ":- " });
    }
}

/// An expression as Spark shows it: columns by name (`name`, not DataFusion's `name@1`).
fn expr(e: &Arc<dyn PhysicalExpr>) -> String {
    let text = e.to_string();
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '@' && chars.peek().is_some_and(char::is_ascii_digit) {
            while chars.peek().is_some_and(char::is_ascii_digit) {
                chars.next();
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn list(items: impl IntoIterator<Item = String>) -> String {
    format!("[{}]", items.into_iter().collect::<Vec<_>>().join(", "))
}

fn join_type(t: JoinType) -> &'static str {
    match t {
        JoinType::Inner => "Inner",
        JoinType::Left => "LeftOuter",
        JoinType::Right => "RightOuter",
        JoinType::Full => "FullOuter",
        JoinType::LeftSemi => "LeftSemi",
        JoinType::LeftAnti => "LeftAnti",
        JoinType::RightSemi => "RightSemi",
        JoinType::RightAnti => "RightAnti",
        JoinType::LeftMark => "ExistenceJoin",
        JoinType::RightMark => "ExistenceJoin",
    }
}

fn columns(plan: &Arc<dyn ExecutionPlan>) -> String {
    list(plan.schema().fields().iter().map(|f| f.name().clone()))
}

/// Spark's name of an operator (for the outline of `formatted`).
fn spark_name(p: &Arc<dyn ExecutionPlan>) -> String {
    spark_line(p)
        .split([' ', '('])
        .next()
        .unwrap_or_default()
        .to_string()
}

/// One operator's line, in Spark's words where Spark has the operator.
fn spark_line(p: &Arc<dyn ExecutionPlan>) -> String {
    if let Some(x) = p.downcast_ref::<ProjectionExec>() {
        return format!(
            "Project {}",
            list(x.expr().iter().map(|e| {
                let shown = expr(&e.expr);
                if shown == e.alias {
                    shown
                } else {
                    format!("{shown} AS {}", e.alias)
                }
            }))
        );
    }
    if let Some(x) = p.downcast_ref::<FilterExec>() {
        return format!("Filter {}", expr(x.predicate()));
    }
    if let Some(x) = p.downcast_ref::<HashJoinExec>() {
        let keys = |left: bool| list(x.on().iter().map(|(l, r)| expr(if left { l } else { r })));
        return match x.partition_mode() {
            PartitionMode::CollectLeft => format!(
                "BroadcastHashJoin {}, {}, {}, BuildLeft, false",
                keys(true),
                keys(false),
                join_type(*x.join_type())
            ),
            _ => format!(
                "ShuffledHashJoin {}, {}, {}, BuildLeft",
                keys(true),
                keys(false),
                join_type(*x.join_type())
            ),
        };
    }
    if let Some(x) = p.downcast_ref::<SortMergeJoinExec>() {
        let keys = |left: bool| list(x.on().iter().map(|(l, r)| expr(if left { l } else { r })));
        return format!(
            "SortMergeJoin {}, {}, {}",
            keys(true),
            keys(false),
            join_type(x.join_type())
        );
    }
    if p.is::<CrossJoinExec>() {
        return "BroadcastNestedLoopJoin BuildLeft, Cross".into();
    }
    if let Some(x) = p.downcast_ref::<spate_plan::cross_join::StreamMajorCrossJoinExec>() {
        return format!("BroadcastNestedLoopJoin {}, Cross", x.build_side_label());
    }
    if let Some(x) = p.downcast_ref::<NestedLoopJoinExec>() {
        let condition = x.filter().map(|f| format!(", {}", expr(f.expression())));
        return format!(
            "BroadcastNestedLoopJoin BuildLeft, {}{}",
            join_type(*x.join_type()),
            condition.unwrap_or_default()
        );
    }
    if let Some(x) = p.downcast_ref::<AggregateExec>() {
        let keys = list(x.group_expr().expr().iter().map(|(e, _)| expr(e)));
        let partial = matches!(
            x.mode(),
            datafusion::physical_plan::aggregates::AggregateMode::Partial
        );
        let functions = list(x.aggr_expr().iter().map(|a| {
            if partial {
                format!("partial_{}", a.name())
            } else {
                a.name().to_string()
            }
        }));
        return format!("HashAggregate(keys={keys}, functions={functions})");
    }
    if let Some(x) = p.downcast_ref::<SortExec>() {
        let keys = list(x.expr().iter().map(|s| {
            let dir = if s.options.descending { "DESC" } else { "ASC" };
            let nulls = if s.options.nulls_first {
                "NULLS FIRST"
            } else {
                "NULLS LAST"
            };
            format!("{} {dir} {nulls}", expr(&s.expr))
        }));
        return format!("Sort {keys}, {}", !x.preserve_partitioning());
    }
    if let Some(x) = p.downcast_ref::<RepartitionExec>() {
        return match x.partitioning() {
            Partitioning::Hash(keys, n) => {
                format!(
                    "Exchange hashpartitioning({}, {n})",
                    keys.iter().map(expr).collect::<Vec<_>>().join(", ")
                )
            }
            Partitioning::RoundRobinBatch(n) => format!("Exchange RoundRobinPartitioning({n})"),
            other => format!("Exchange {other}"),
        };
    }
    if p.is::<CoalescePartitionsExec>() || p.name() == "OrderedCoalesceExec" {
        return "Exchange SinglePartition".into();
    }
    if let Some(x) = p.downcast_ref::<GlobalLimitExec>() {
        return format!("GlobalLimit {}", x.fetch().map_or(-1, |f| f as i64));
    }
    if let Some(x) = p.downcast_ref::<LocalLimitExec>() {
        return format!("LocalLimit {}", x.fetch());
    }
    if p.is::<UnionExec>() {
        return "Union".into();
    }
    if p.is::<spate_plan::cache_scan::InMemoryTableScanExec>() {
        return format!("InMemoryTableScan {}", columns(p));
    }
    if let Some(x) = p.downcast_ref::<DataSourceExec>() {
        let source = x.data_source();
        if source.downcast_ref::<MemorySourceConfig>().is_some() {
            return format!("LocalTableScan {}", columns(p));
        }
        if let Some(files) = source.downcast_ref::<FileScanConfig>() {
            return format!(
                "FileScan {} {}",
                files.file_source().file_type(),
                columns(p)
            );
        }
    }
    let one_line = displayable(p.as_ref()).one_line().to_string();
    let one_line = one_line.trim_end();
    if p.name() == "LazyMemoryExec"
        && let Some(range) = one_line.split("range: ").nth(1)
    {
        let bounds: Vec<&str> = range
            .trim_end_matches(']')
            .split(", ")
            .filter(|part| !part.starts_with("batch_size"))
            .collect();
        return format!("Range ({})", bounds.join(", "));
    }
    if p.name().contains("WindowAggExec") {
        return format!("Window {}", columns(p));
    }
    one_line.to_string()
}
