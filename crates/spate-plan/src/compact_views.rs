//! The string columns a join builds on are kept in one buffer. Parquet scans read strings as
//! views (`Utf8View`): each value is a 16-byte view pointing into one of the array's data
//! buffers. A hash, cross or nested-loop join concatenates every batch of its build side into
//! one, and arrow's concatenation of view arrays keeps each input array's buffers, so a build
//! side of N batches holds at least N buffers per string column. Every batch the join emits
//! takes rows from that array, and arrow's `take` of a view array clones its whole buffer list
//! (an atomic increment per buffer, each buffer's count in a cache line of its own, and the
//! same again when the batch is dropped). In TPC-H q18 at SF10 (customer names carried into
//! the build side of the join with lineitem: 7.5M rows, over 900 batches per partition,
//! probed by 60M rows) cloning and dropping buffer lists was a quarter of the query's CPU.
//!
//! After the physical optimizer, [`CompactBuildViews`] puts a [`CompactViewsExec`] over the
//! build side (the left input) of every such join whose rows carry a view column. It gathers
//! its input partition as the join would (reserving the batches it holds in the memory pool),
//! concatenates them and copies the values of each view column into one buffer (arrow's `gc`;
//! more than one only past 2 GiB), and hands the join that one batch, whose concatenation is
//! then free. The join's output then clones one buffer per string column. Views nested in
//! structs or lists are left as they are. Spark has no such operator; `explain()` leaves it out
//! as it leaves out batch coalescing.

use std::fmt::Formatter;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, GenericByteViewArray, RecordBatch};
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::{ByteViewType, DataType, SchemaRef};
use datafusion::arrow::record_batch::RecordBatchOptions;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::utils::memory::RecordBatchMemoryCounter;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::memory_pool::MemoryConsumer;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::joins::{CrossJoinExec, HashJoinExec, NestedLoopJoinExec};
use datafusion::physical_plan::metrics::{BaselineMetrics, ExecutionPlanMetricsSet, MetricsSet};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties};
use futures::{StreamExt, TryStreamExt};

/// The operator's name, which `explain()` leaves out.
pub const NAME: &str = "CompactViewsExec";

/// Puts a [`CompactViewsExec`] over the build side of every hash, cross and nested-loop join
/// whose build rows carry a view column. Runs after the other physical rules.
#[derive(Debug, Default)]
pub struct CompactBuildViews;

impl PhysicalOptimizerRule for CompactBuildViews {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        Ok(plan
            .transform_up(|p| {
                let collects_left = p.downcast_ref::<HashJoinExec>().is_some()
                    || p.downcast_ref::<CrossJoinExec>().is_some()
                    || p.downcast_ref::<NestedLoopJoinExec>().is_some();
                let children: Vec<Arc<dyn ExecutionPlan>> =
                    p.children().into_iter().cloned().collect();
                let [left, right] = match <[_; 2]>::try_from(children) {
                    Ok(pair) if collects_left => pair,
                    _ => return Ok(Transformed::no(p)),
                };
                // planned again (delta-rs optimizes the plans it is handed): wrapped once
                if left.name() == NAME || !has_view_column(&left.schema()) {
                    return Ok(Transformed::no(p));
                }
                let left = Arc::new(CompactViewsExec::new(left)) as Arc<dyn ExecutionPlan>;
                #[expect(
                    deprecated,
                    reason = "the join's own properties follow from its new children"
                )]
                let join = p.with_new_children(vec![left, right])?;
                Ok(Transformed::yes(join))
            })?
            .data)
    }

    fn name(&self) -> &str {
        "compact_build_views"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

fn has_view_column(schema: &SchemaRef) -> bool {
    schema
        .fields()
        .iter()
        .any(|f| matches!(f.data_type(), DataType::Utf8View | DataType::BinaryView))
}

/// Gathers its input partition into one batch whose view columns each hold their values in one
/// buffer (see the module documentation). Rows, order and partitioning are its input's.
#[derive(Debug)]
pub struct CompactViewsExec {
    input: Arc<dyn ExecutionPlan>,
    metrics: ExecutionPlanMetricsSet,
}

impl CompactViewsExec {
    /// Gathers and compacts each partition of `input`.
    pub fn new(input: Arc<dyn ExecutionPlan>) -> Self {
        Self {
            input,
            metrics: ExecutionPlanMetricsSet::new(),
        }
    }
}

impl DisplayAs for CompactViewsExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut Formatter) -> std::fmt::Result {
        write!(f, "{NAME}")
    }
}

impl ExecutionPlan for CompactViewsExec {
    fn name(&self) -> &str {
        NAME
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.input.properties()
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
    }

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![false]
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> DfResult<TreeNodeRecursion>,
    ) -> DfResult<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        match children.pop() {
            Some(input) if children.is_empty() => Ok(Arc::new(Self::new(input))),
            _ => Err(DataFusionError::Internal(format!(
                "bug: {NAME} takes one child"
            ))),
        }
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> DfResult<SendableRecordBatchStream> {
        let baseline = BaselineMetrics::new(&self.metrics, partition);
        let reservation =
            MemoryConsumer::new(format!("{NAME}[{partition}]")).register(context.memory_pool());
        let mut input = self.input.execute(partition, context)?;
        let schema = input.schema();
        let gathered = futures::stream::once({
            let schema = Arc::clone(&schema);
            async move {
                let mut held = Vec::new();
                let mut counter = RecordBatchMemoryCounter::new();
                while let Some(batch) = input.next().await {
                    let batch = batch?;
                    reservation.try_grow(counter.count_batch(&batch))?;
                    held.push(batch);
                }
                let timer = baseline.elapsed_compute().timer();
                let one = gather(&schema, held)?;
                timer.done();
                // the join reserves what it holds
                reservation.free();
                if let Some(b) = &one {
                    baseline.record_output(b.num_rows());
                }
                baseline.done();
                Ok(one)
            }
        })
        .try_filter_map(|one| futures::future::ready(Ok(one)));
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, gathered)))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }
}

/// `batches` as one batch, each view column's values in one buffer; `None` for no batches.
/// The input batches are let go before the values are copied, so that their other columns
/// are not held beside both the concatenation and the copy.
fn gather(schema: &SchemaRef, batches: Vec<RecordBatch>) -> DfResult<Option<RecordBatch>> {
    let one = match batches.len() {
        0 => return Ok(None),
        1 => batches.into_iter().next(),
        _ => {
            let one = concat_batches(schema, &batches)?;
            drop(batches);
            Some(one)
        }
    };
    one.map(compact).transpose()
}

/// `batch` with each scattered view column copied into one buffer of its own.
fn compact(batch: RecordBatch) -> DfResult<RecordBatch> {
    let mut columns: Option<Vec<ArrayRef>> = None;
    for (i, column) in batch.columns().iter().enumerate() {
        let compacted = match column.data_type() {
            DataType::Utf8View => compacted(column.as_string_view()),
            DataType::BinaryView => compacted(column.as_binary_view()),
            _ => None,
        };
        if let Some(c) = compacted {
            columns.get_or_insert_with(|| batch.columns().to_vec())[i] = c;
        }
    }
    let Some(columns) = columns else {
        return Ok(batch);
    };
    let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    Ok(RecordBatch::try_new_with_options(
        batch.schema(),
        columns,
        &options,
    )?)
}

/// The array in one buffer of its own, if it points into several or into one mostly of other
/// values.
fn compacted<T: ByteViewType + ?Sized>(array: &GenericByteViewArray<T>) -> Option<ArrayRef> {
    let scattered = match array.data_buffers() {
        [] => false,
        [one] => one.len() > 2 * array.total_buffer_bytes_used(),
        _ => true,
    };
    scattered.then(|| Arc::new(array.gc()) as ArrayRef)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{BinaryViewArray, Int64Array, StringViewArray};
    use datafusion::arrow::compute::{concat, take};
    use datafusion::arrow::datatypes::{Field, Int64Type, Schema};
    use datafusion::datasource::MemTable;
    use datafusion::prelude::{SessionConfig, SessionContext};

    use crate::test_session::{Place, with_rule};

    /// Names long enough (over 12 bytes) to live in data buffers rather than in their views.
    fn names(from: usize, n: usize) -> Vec<String> {
        (from..from + n)
            .map(|i| format!("Customer#{i:09}"))
            .collect()
    }

    /// The arrays concatenated: each keeps its own buffers.
    fn joined(parts: &[ArrayRef]) -> DfResult<ArrayRef> {
        let refs: Vec<&dyn Array> = parts.iter().map(|a| a.as_ref()).collect();
        Ok(concat(&refs)?)
    }

    /// A view array of `values` whose views point into one buffer per value, each buffer
    /// exactly its value (so that nothing downstream finds it sparse and copies it).
    fn scattered(values: &[Option<&str>]) -> DfResult<ArrayRef> {
        let parts: Vec<ArrayRef> = values
            .iter()
            .map(|v| Arc::new(StringViewArray::from(vec![*v]).gc()) as ArrayRef)
            .collect();
        joined(&parts)
    }

    fn some(values: &[String]) -> Vec<Option<&str>> {
        values.iter().map(|v| Some(v.as_str())).collect()
    }

    fn one_column(name: &str, t: DataType, column: ArrayRef) -> DfResult<RecordBatch> {
        let schema = Arc::new(Schema::new(vec![Field::new(name, t, true)]));
        Ok(RecordBatch::try_new(schema, vec![column])?)
    }

    #[test]
    fn a_scattered_column_keeps_its_values_in_one_buffer() -> DfResult<()> {
        let values = names(0, 50);
        let column = scattered(&some(&values))?;
        assert_eq!(column.as_string_view().data_buffers().len(), 50);
        let ids: ArrayRef = Arc::new(Int64Array::from_iter_values(0..50));
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8View, false),
        ]));
        let out = compact(RecordBatch::try_new(
            schema,
            vec![Arc::clone(&ids), column],
        )?)?;
        let name = out.column(1).as_string_view();
        assert_eq!(name.data_buffers().len(), 1);
        assert_eq!(name.iter().collect::<Vec<_>>(), some(&values));
        // other columns are the very same arrays
        assert!(Arc::ptr_eq(out.column(0), &ids));
        Ok(())
    }

    #[test]
    fn nulls_inline_values_and_binary_views_come_through() -> DfResult<()> {
        let long = names(0, 6);
        let mut values = some(&long);
        values[2] = None;
        values[4] = Some("short"); // inline: 12 bytes or fewer
        let strings = scattered(&values)?;
        let bytes: Vec<Option<&[u8]>> = values.iter().map(|v| v.map(str::as_bytes)).collect();
        let parts: Vec<ArrayRef> = bytes
            .iter()
            .map(|v| Arc::new(BinaryViewArray::from(vec![*v]).gc()) as ArrayRef)
            .collect();
        let binaries = joined(&parts)?;
        let schema = Arc::new(Schema::new(vec![
            Field::new("s", DataType::Utf8View, true),
            Field::new("b", DataType::BinaryView, true),
        ]));
        let out = compact(RecordBatch::try_new(schema, vec![strings, binaries])?)?;
        let s = out.column(0).as_string_view();
        assert_eq!(s.iter().collect::<Vec<_>>(), values);
        assert_eq!(s.data_buffers().len(), 1);
        let b = out.column(1).as_binary_view();
        assert_eq!(b.iter().collect::<Vec<_>>(), bytes);
        assert_eq!(b.data_buffers().len(), 1);
        Ok(())
    }

    #[test]
    fn a_dense_column_passes_untouched() -> DfResult<()> {
        let dense: ArrayRef = Arc::new(StringViewArray::from_iter_values(names(0, 40).iter()).gc());
        let out = compact(one_column("name", DataType::Utf8View, Arc::clone(&dense))?)?;
        // the very same array: nothing copied
        assert!(Arc::ptr_eq(out.column(0), &dense));
        Ok(())
    }

    #[test]
    fn a_column_holding_a_sliver_of_a_buffer_gets_its_own() -> DfResult<()> {
        let values = names(0, 1000);
        let all = StringViewArray::from_iter_values(values.iter()).gc();
        // 10 rows taken from 1000: their views still point into the 1000 values' buffer
        let rows = Int64Array::from_iter_values((0..10).map(|i| i * 97));
        let picked = take(&all, &rows, None)?;
        assert_eq!(picked.as_string_view().data_buffers().len(), 1);
        let out = compact(one_column("name", DataType::Utf8View, picked)?)?;
        let name = out.column(0).as_string_view();
        assert_eq!(name.data_buffers()[0].len(), 10 * values[0].len());
        let expected: Vec<Option<&str>> = (0..10).map(|i| Some(values[i * 97].as_str())).collect();
        assert_eq!(name.iter().collect::<Vec<_>>(), expected);
        Ok(())
    }

    /// A table of `batches` batches of `rows` (id, name) rows whose names each sit in a
    /// buffer of their own, as the batches a join emits point into its build side's buffers.
    fn scattered_names(batches: usize, rows: usize) -> DfResult<MemTable> {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8View, false),
        ]));
        let mut parts = Vec::new();
        for b in 0..batches {
            let from = b * rows;
            let ids = Int64Array::from_iter_values((from..from + rows).map(|i| i as i64));
            let names = scattered(&some(&names(from, rows)))?;
            parts.push(RecordBatch::try_new(
                Arc::clone(&schema),
                vec![Arc::new(ids), names],
            )?);
        }
        MemTable::try_new(schema, vec![parts])
    }

    /// What a join that builds on 1000 scattered names (50 batches of 20, each name in a
    /// buffer of its own) and probes 5000 keys gives, with the rule or without: its plan, the
    /// number of buffers of the name column of each batch it emits, and the joined rows.
    async fn join_names(rule: bool) -> DfResult<(String, Vec<usize>, Vec<(i64, String)>)> {
        // the names are built on, as written
        let mut config = SessionConfig::new().with_target_partitions(1);
        config.options_mut().optimizer.join_reordering = false;
        let ctx = if rule {
            with_rule(
                config,
                Arc::new(CompactBuildViews),
                Place::After("SanityCheckPlan"),
            )
        } else {
            SessionContext::new_with_config(config)
        };
        ctx.register_table("names", Arc::new(scattered_names(50, 20)?))?;
        let keys = one_column(
            "k",
            DataType::Int64,
            Arc::new(Int64Array::from_iter_values(0..5000)),
        )?;
        let keys = MemTable::try_new(keys.schema(), vec![vec![keys]])?;
        ctx.register_table("keys", Arc::new(keys))?;
        let df = ctx
            .sql("SELECT n.id, n.name FROM names n JOIN keys ON keys.k = n.id")
            .await?;
        let plan = df.clone().create_physical_plan().await?;
        let shown = datafusion::physical_plan::displayable(plan.as_ref())
            .indent(true)
            .to_string();
        let mut buffers = Vec::new();
        let mut rows = Vec::new();
        for b in df.collect().await? {
            let name = b.column(1).as_string_view();
            buffers.push(name.data_buffers().len());
            let ids = b.column(0).as_primitive::<Int64Type>();
            rows.extend(
                ids.values()
                    .iter()
                    .zip(name.iter())
                    .map(|(id, name)| (*id, name.unwrap_or_default().to_string())),
            );
        }
        rows.sort();
        Ok((shown, buffers, rows))
    }

    #[tokio::test]
    async fn a_join_builds_on_one_buffer_per_string_column() -> DfResult<()> {
        let expected: Vec<(i64, String)> = (0..1000)
            .map(|i| (i as i64, format!("Customer#{i:09}")))
            .collect();
        let (shown, buffers, rows) = join_names(true).await?;
        let lines: Vec<&str> = shown.lines().collect();
        let join = lines.iter().position(|l| l.contains("HashJoinExec"));
        let compact = lines.iter().position(|l| l.contains(NAME));
        assert!(
            join.is_some() && compact == join.map(|j| j + 1),
            "over the build side:\n{shown}"
        );
        assert_eq!(rows, expected);
        assert!(buffers.iter().all(|&b| b == 1), "{buffers:?}");
        // without the rule, every batch the join emits points into all 1000 buffers
        let (shown, buffers, rows) = join_names(false).await?;
        assert!(!shown.contains(NAME), "{shown}");
        assert_eq!(rows, expected);
        assert!(buffers.iter().all(|&b| b == 1000), "{buffers:?}");
        Ok(())
    }
}
