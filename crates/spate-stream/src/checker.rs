//! Spark's rules on which streaming queries may start (its `UnsupportedOperationChecker`), for
//! what Spate runs: output modes against aggregations, chains of stateful operators where no
//! operator under another can emit late rows, no sorts or limits on a stream except where Spark allows them, the joins of a stream with a
//! static table Spark allows, and joins of two streams in append mode whose outer side can
//! forget its rows; for the continuous trigger, only rate streams with projections and
//! filters; for the real-time trigger, Spark's allowlisted sinks in update mode (and, when it
//! runs, Kafka streams only). Each refusal is Spark's error class and message.

use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::logical_expr::{Join, JoinType, LogicalPlan};
use spate_common::{Error, Result};
use spate_plan::streaming::{
    DeduplicateNode, StreamingScanNode, WatermarkNode, as_node, is_streaming,
};

use crate::join_watermark::JoinWatermarks;
use crate::stateful::{OutputMode, stateful_nodes, watermark_nodes};

/// Spark's error for a streaming query its checker refuses.
pub(crate) fn refused(message: impl Into<String>) -> Error {
    Error::analysis("_LEGACY_ERROR_TEMP_3102", format!("{};", message.into()))
}

fn output_mode_error(mode: OutputMode, what: &str) -> Error {
    Error::analysis(
        "STREAMING_OUTPUT_MODE.UNSUPPORTED_OPERATION",
        format!(
            "Invalid streaming output mode: {}. This output mode is not supported for {what} on streaming DataFrames/DataSets.",
            mode.name()
        ),
    )
}

/// Spark's checks of a streaming query before it starts (its `UnsupportedOperationChecker`),
/// for what Spate runs: `has_watermarked_aggregate` says whether the aggregation (if any)
/// groups by a watermarked event time or a window over one.
pub(crate) fn check(
    plan: &LogicalPlan,
    mode: OutputMode,
    has_watermarked_aggregate: bool,
) -> Result<()> {
    let nodes = stateful_nodes(plan)?;
    let aggregates = nodes
        .iter()
        .filter(|n| matches!(n, LogicalPlan::Aggregate(_)))
        .count();
    if mode == OutputMode::Complete && aggregates == 0 {
        return Err(output_mode_error(mode, "no streaming aggregations"));
    }
    if mode == OutputMode::Append && aggregates > 0 && !has_watermarked_aggregate {
        return Err(output_mode_error(
            mode,
            "streaming aggregations without watermark",
        ));
    }
    let sessions = nodes
        .iter()
        .any(|n| matches!(n, LogicalPlan::Aggregate(a) if crate::session::is_session_aggregate(a)));
    if mode == OutputMode::Update && sessions {
        return Err(output_mode_error(
            mode,
            "session window streaming aggregations",
        ));
    }
    // Spark 3.4+ chains stateful operators (each with its own watermark), unless one under
    // another may emit rows late for it: an aggregation outside append mode
    let late_below = nodes.iter().any(|n| {
        let mut below = false;
        let _ = n.apply(|p| {
            if !std::ptr::eq(p, n) && is_stateful_aggregate(p) && mode != OutputMode::Append {
                below = true;
                return Ok(TreeNodeRecursion::Stop);
            }
            Ok(TreeNodeRecursion::Continue)
        });
        below
    });
    if late_below {
        return Err(refused(
            "Detected pattern of possible 'correctness' issue due to global watermark. The query contains stateful operation which can emit rows older than the current watermark plus allowed late record delay, which are \"late rows\" in downstream stateful operations and these rows can be discarded. Please refer the programming guide doc for more details. If you understand the possible risk of correctness issue and still need to run the query, you can disable this check by setting the config `spark.sql.streaming.statefulOperator.checkCorrectness.enabled` to false.",
        ));
    }
    let watermarked = !watermark_nodes(plan).is_empty();
    let mut problem = None;
    plan.apply(|p| {
        let found = match p {
            LogicalPlan::Sort(s) if is_streaming(&s.input) => {
                let over_aggregate = mode == OutputMode::Complete && aggregates > 0;
                (!over_aggregate).then(|| refused(
                    "Sorting is not supported on streaming DataFrames/Datasets, unless it is on aggregated DataFrame/Dataset in Complete output mode",
                ))
            }
            LogicalPlan::Limit(l) if is_streaming(&l.input) => {
                Some(Error::unsupported("a limit on a stream"))
            }
            LogicalPlan::Window(w)
                if is_streaming(&w.input)
                    && !crate::session::is_session_expansion(&w.window_expr) =>
            {
                Some(refused(
                    "Non-time-based windows are not supported on streaming DataFrames/Datasets",
                ))
            }
            LogicalPlan::Join(j) => {
                let (left, right) = (is_streaming(&j.left), is_streaming(&j.right));
                match (left, right, j.join_type) {
                    (true, true, _) => check_join(j, mode).err(),
                    (true, false, JoinType::Inner | JoinType::Left | JoinType::LeftSemi | JoinType::LeftAnti)
                    | (false, true, JoinType::Inner | JoinType::Right) => None,
                    (true, false, _) | (false, true, _) => Some(refused(format!(
                        "{} join with a streaming DataFrame/Dataset on the {} and a static DataFrame/Dataset on the {} is not supported",
                        join_name(j.join_type),
                        if left { "left" } else { "right" },
                        if left { "right" } else { "left" },
                    ))),
                    (false, false, _) => None,
                }
            }
            _ => match as_node::<DeduplicateNode>(p) {
                Some(d) if d.within_watermark && !watermarked => Some(refused(
                    "dropDuplicatesWithinWatermark is not supported on streaming DataFrames/DataSets without watermark",
                )),
                _ => None,
            },
        };
        if found.is_some() {
            problem = found;
            return Ok(TreeNodeRecursion::Stop);
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    match problem {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

fn join_name(t: JoinType) -> &'static str {
    match t {
        JoinType::Inner => "Inner",
        JoinType::Left => "LeftOuter",
        JoinType::Right => "RightOuter",
        JoinType::Full => "FullOuter",
        JoinType::LeftSemi | JoinType::RightSemi => "LeftSemi",
        JoinType::LeftAnti | JoinType::RightAnti => "LeftAnti",
        JoinType::LeftMark | JoinType::RightMark => "ExistenceJoin",
    }
}

/// Spark's checks of a join of two streams: append mode only, and an outer side that can
/// forget its rows.
fn check_join(join: &Join, mode: OutputMode) -> Result<()> {
    if mode != OutputMode::Append {
        let name = if mode == OutputMode::Update {
            "Update"
        } else {
            "Complete"
        };
        return Err(refused(format!(
            "Join between two streaming DataFrames/Datasets is not supported in {name} output mode, only in Append output mode"
        )));
    }
    let marks = JoinWatermarks::of(join);
    let (name, evictable) = match join.join_type {
        JoinType::Inner => return Ok(()),
        JoinType::Left => ("LeftOuter", marks.left.is_some()),
        JoinType::Right => ("RightOuter", marks.right.is_some()),
        JoinType::Full => ("FullOuter", marks.left.is_some() && marks.right.is_some()),
        JoinType::LeftSemi => ("LeftSemi", marks.left.is_some()),
        JoinType::LeftAnti => {
            return Err(refused(
                "LeftAnti joins with a streaming DataFrame/Dataset on the right are not supported",
            ));
        }
        other => {
            return Err(Error::unsupported(format!(
                "a {other} join of two streams (inner, outer and left semi joins are supported)"
            )));
        }
    };
    if evictable {
        return Ok(());
    }
    Err(refused(format!(
        "Stream-stream {name} join between two streaming DataFrame/Datasets is not supported without a watermark in the join keys, or a watermark on the nullable side and an appropriate range condition"
    )))
}

/// Spark's checks of a query under the continuous trigger: only projections and filters of
/// a rate or Kafka stream (Spark's other sources are `StreamingRelation`s there), the first
/// other node from the bottom refused by its Spark name.
pub(crate) fn check_continuous(plan: &LogicalPlan) -> Result<()> {
    fn spark_name(plan: &LogicalPlan) -> Option<&'static str> {
        if let Some(scan) = as_node::<StreamingScanNode>(plan) {
            return (!matches!(scan.format.as_str(), "rate" | "kafka"))
                .then_some("StreamingRelation");
        }
        if as_node::<WatermarkNode>(plan).is_some() {
            return Some("EventTimeWatermark");
        }
        if as_node::<DeduplicateNode>(plan).is_some() {
            return Some("Deduplicate");
        }
        match plan {
            LogicalPlan::Projection(_) | LogicalPlan::Filter(_) | LogicalPlan::SubqueryAlias(_) => {
                None
            }
            LogicalPlan::Aggregate(_) => Some("Aggregate"),
            LogicalPlan::Join(_) => Some("Join"),
            LogicalPlan::Sort(_) => Some("Sort"),
            LogicalPlan::Limit(_) => Some("GlobalLimit"),
            LogicalPlan::Union(_) => Some("Union"),
            LogicalPlan::Distinct(_) => Some("Distinct"),
            LogicalPlan::Window(_) => Some("Window"),
            LogicalPlan::Repartition(_) => Some("Repartition"),
            _ => Some("this"),
        }
    }
    fn visit(plan: &LogicalPlan) -> Result<()> {
        for input in plan.inputs() {
            visit(input)?;
        }
        match spark_name(plan) {
            Some(name) if is_streaming(plan) => Err(refused(format!(
                "Continuous processing does not support {name} operations."
            ))),
            _ => Ok(()),
        }
    }
    visit(plan)
}

fn is_stateful_aggregate(plan: &LogicalPlan) -> bool {
    matches!(plan, LogicalPlan::Aggregate(a) if is_streaming(&a.input))
}

/// Spark's checks of a real-time query (`trigger(realTime=...)`) when it starts: a sink on
/// its allowlist, then update mode.
pub(crate) fn check_real_time(sink: &crate::sink::Sink, mode: OutputMode) -> Result<()> {
    if let Some(class) = sink.real_time_refusal() {
        return Err(Error::Runtime {
            exception: "java.lang.IllegalArgumentException",
            class: "STREAMING_REAL_TIME_MODE.OPERATOR_OR_SINK_NOT_IN_ALLOWLIST".into(),
            message: format!(
                "Streaming real-time mode has the following limitation: The sink(s): {class} is not in the sink allowlist for Real-Time Mode. To bypass this check, set spark.sql.streaming.realTimeMode.allowlistCheck to false. By changing this, you agree to run the query at your own risk."
            ),
        });
    }
    let name = match mode {
        OutputMode::Update => return Ok(()),
        OutputMode::Append => "Append",
        OutputMode::Complete => "Complete",
    };
    Err(Error::analysis(
        "STREAMING_REAL_TIME_MODE.OUTPUT_MODE_NOT_SUPPORTED",
        format!(
            "Streaming real-time mode has the following limitation: The output mode {name} is not supported. To work around this limitation, set the output mode to Update. In the future, {name} may be supported."
        ),
    ))
}

/// Spark's failure of a real-time query over a stream it does not read in real time (every
/// stream but Kafka's).
pub(crate) fn real_time_source_error(source: &crate::source::Source) -> Error {
    Error::analysis(
        "STREAMING_REAL_TIME_MODE.INPUT_STREAM_NOT_SUPPORTED",
        format!(
            "Streaming real-time mode has the following limitation: The input stream {} is not supported in Real-time Mode.",
            source.spark_class()
        ),
    )
}
