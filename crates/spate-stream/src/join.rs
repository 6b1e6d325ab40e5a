//! Stream-stream joins (inner, left, right and full outer, left semi), as Spark's
//! `StreamingSymmetricHashJoinExec` runs them: each side keeps the rows it has seen in its
//! state, so that a row arriving later on the other side still finds them.
//!
//! Per batch: input rows at or below the previous batch's watermark on a side with a
//! watermarked column are late and dropped. The new left rows join the right side's state;
//! then the left state with the new left rows joins the new right rows — so each pair is
//! produced once, in the batch where its second row arrives. A new row is stored unless its
//! side is inner and would forget it at once; a stored row remembers whether it ever matched. Then each side
//! forgets what the watermark passed ([`crate::join_watermark`]), and the outer side(s) emit
//! their forgotten rows that never matched, with nulls for the other side. A left semi join
//! emits a left row once, in the batch where it first finds a match. The join condition
//! runs as DataFusion's own join over the rows involved, so any condition a batch join takes
//! works. Progress counts as Spark does: rows stored (updated), rows in both states (total),
//! late rows dropped, and rows removed — those the outer side forgets are not counted.
//!
//! State: one store per side (`state/0/left`, `state/0/right` in the checkpoint), a row per
//! stored input row, keyed by a row id (the state's version in the high bits, the row's place
//! in its batch in the low ones, so a batch run again gets the same ids), with the side's
//! columns and the matched flag as its value.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use datafusion::arrow::array::{
    Array, ArrayRef, BooleanArray, Int64Array, RecordBatch, UInt32Array, new_null_array,
};
use datafusion::arrow::compute::{concat_batches, take_record_batch};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::DFSchema;
use datafusion::execution::SessionState;
use datafusion::logical_expr::{Join, JoinType, LogicalPlan};
use spate_common::{Error, Result};

use crate::join_watermark::{Eviction, JoinWatermarks};
use crate::micro_batch::rows_plan_with;
use crate::stateful::{
    BoxFuture, OperatorMetrics, OperatorState, StatefulOperator, Watermarks, at_or_below, event_ms,
    output_schema, renamed,
};

const ROW_ID: &str = "__spate_row_id";
const MATCHED: &str = "__spate_matched";

/// A side's rows: its columns, then the row ids and matched flags.
struct SideRows {
    columns: RecordBatch,
    ids: Int64Array,
    matched: BooleanArray,
}

impl SideRows {
    fn take(&self, rows: &[u32]) -> Result<Self> {
        let idx = UInt32Array::from(rows.to_vec());
        Ok(Self {
            columns: take_record_batch(&self.columns, &idx)?,
            ids: Int64Array::from(
                rows.iter()
                    .map(|i| self.ids.value(*i as usize))
                    .collect::<Vec<_>>(),
            ),
            matched: rows
                .iter()
                .map(|i| Some(self.matched.value(*i as usize)))
                .collect(),
        })
    }

    fn concat(a: &Self, b: &Self) -> Result<Self> {
        let schema = a.columns.schema();
        Ok(Self {
            columns: concat_batches(&schema, [&a.columns, &b.columns])?,
            ids: a.ids.iter().chain(b.ids.iter()).collect(),
            matched: a.matched.iter().chain(b.matched.iter()).collect(),
        })
    }
}

/// A stream-stream join (see the module's documentation).
pub struct StreamingJoin {
    join_type: JoinType,
    marks: JoinWatermarks,
    left: OperatorState,
    right: OperatorState,
    metrics: OperatorMetrics,
}

/// The side's columns as an Arrow schema, every column nullable (null-extended rows too).
fn side_schema(schema: &DFSchema) -> SchemaRef {
    Arc::new(Schema::new(
        schema
            .fields()
            .iter()
            .map(|f| f.as_ref().clone().with_nullable(true))
            .collect::<Vec<Field>>(),
    ))
}

fn join_of(node: &LogicalPlan) -> Result<&Join> {
    match node {
        LogicalPlan::Join(j) => Ok(j),
        _ => Err(Error::internal("a stream-stream join that is not a join")),
    }
}

/// Rows of `rows` whose eviction column is at or below `bound` (none without an eviction).
fn forgettable(rows: &RecordBatch, eviction: Option<Eviction>, bound: i64) -> Result<Vec<bool>> {
    let Some(e) = eviction else {
        return Ok(vec![false; rows.num_rows()]);
    };
    let times = event_ms(rows.column(e.column))?;
    Ok((0..rows.num_rows())
        .map(|i| at_or_below(&times, i, bound + e.offset_ms))
        .collect())
}

impl StreamingJoin {
    /// The join `node` of two streams, its state under `store_dir` at `version`.
    pub fn new(
        node: &LogicalPlan,
        store_dir: Option<std::path::PathBuf>,
        partitions: usize,
        version: u64,
    ) -> Result<Self> {
        let join = join_of(node)?;
        let side = |name: &str| {
            OperatorState::new(
                store_dir.as_ref().map(|d| d.join(name)),
                partitions,
                version,
            )
        };
        Ok(Self {
            join_type: join.join_type,
            marks: JoinWatermarks::of(join),
            left: side("left"),
            right: side("right"),
            metrics: OperatorMetrics::default(),
        })
    }

    /// A side's state as rows.
    fn load(state: &mut OperatorState, schema: &SchemaRef) -> Result<SideRows> {
        let store = open(state, schema)?;
        let (keys, values) = store.entries()?;
        let n = schema.fields().len();
        let columns = RecordBatch::try_new_with_options(
            Arc::clone(schema),
            values[..n].to_vec(),
            &datafusion::arrow::array::RecordBatchOptions::new().with_row_count(Some(store.len())),
        )?;
        let as_ids = keys[0].as_any().downcast_ref::<Int64Array>().cloned();
        let as_matched = values[n].as_any().downcast_ref::<BooleanArray>().cloned();
        match (as_ids, as_matched) {
            (Some(ids), Some(matched)) => Ok(SideRows {
                columns,
                ids,
                matched,
            }),
            _ => Err(Error::internal("a join state of other types than its own")),
        }
    }

    async fn run(
        &mut self,
        state: &SessionState,
        node: &LogicalPlan,
        wm: Watermarks,
    ) -> Result<Vec<RecordBatch>> {
        let began = Instant::now();
        let join = join_of(node)?;
        let schemas = [
            side_schema(join.left.schema()),
            side_schema(join.right.schema()),
        ];
        let columns = [self.marks.left_column, self.marks.right_column];
        let evictions = [self.marks.left, self.marks.right];
        // the sides whose rows that never matched are emitted with nulls
        let outer = [
            matches!(self.join_type, JoinType::Left | JoinType::Full),
            matches!(self.join_type, JoinType::Right | JoinType::Full),
        ];
        let mut dropped = 0u64;
        let mut new = Vec::new();
        let mut old = Vec::new();
        let mut stored_new: Vec<Vec<u32>> = Vec::new();
        for (i, input) in [&join.left, &join.right].into_iter().enumerate() {
            let rows = spate_exec::collect(state, input, "stream-stream join: input").await?;
            let batch = crate::stateful::renamed(&schemas[i], rows)?;
            let batch = concat_batches(&schemas[i], &batch)?;
            // late rows go
            let keep: Vec<u32> = match columns[i] {
                Some(c) => {
                    let times = event_ms(batch.column(c))?;
                    (0..batch.num_rows() as u32)
                        .filter(|r| !at_or_below(&times, *r as usize, wm.late_ms))
                        .collect()
                }
                None => (0..batch.num_rows() as u32).collect(),
            };
            dropped += (batch.num_rows() - keep.len()) as u64;
            let batch = take_record_batch(&batch, &UInt32Array::from(keep))?;
            let side_state = if i == 0 {
                &mut self.left
            } else {
                &mut self.right
            };
            let base = (open(side_state, &schemas[i])?.version() as i64) << 32;
            let n = batch.num_rows();
            let rows = SideRows {
                columns: batch,
                ids: Int64Array::from((0..n as i64).map(|r| base + r).collect::<Vec<_>>()),
                matched: BooleanArray::from(vec![false; n]),
            };
            // a row its side would forget at once is not stored, unless the side is outer:
            // then it is forgotten (and emitted if it did not match) at the end of the batch
            let store: Vec<u32> = forgettable(&rows.columns, evictions[i], wm.evict_ms)?
                .iter()
                .enumerate()
                .filter(|(_, f)| outer[i] || !**f)
                .map(|(r, _)| r as u32)
                .collect();
            stored_new.push(store);
            old.push(Self::load(side_state, &schemas[i])?);
            new.push(rows);
        }
        let (new_right, new_left) = (new.pop(), new.pop());
        let (Some(new_left), Some(new_right)) = (new_left, new_right) else {
            return Err(Error::internal("a join without two sides"));
        };
        // the new left rows with the right state; then the left state, with the new left
        // rows it keeps, with the new right rows
        let semi = self.join_type == JoinType::LeftSemi;
        let mut out = Vec::new();
        let mut matched = [HashSet::new(), HashSet::new()];
        let (rows, lids, rids) = pairs(state, join, &new_left, &old[1]).await?;
        if semi {
            // a left row that found its match is emitted now and not kept
            let found: HashSet<i64> = lids.iter().copied().collect();
            stored_new[0].retain(|r| !found.contains(&new_left.ids.value(*r as usize)));
        }
        matched[0].extend(lids);
        matched[1].extend(rids);
        out.extend(rows);
        let left_kept = SideRows::concat(&old[0], &new_left.take(&stored_new[0])?)?;
        let (rows, lids, rids) = pairs(state, join, &left_kept, &new_right).await?;
        matched[0].extend(lids);
        matched[1].extend(rids);
        out.extend(rows);
        if semi {
            // each left row once, in the batch where it first finds a match
            let candidates = SideRows::concat(&old[0], &new_left)?;
            let first: Vec<u32> = (0..candidates.ids.len())
                .filter(|r| {
                    !candidates.matched.value(*r) && matched[0].contains(&candidates.ids.value(*r))
                })
                .map(|r| r as u32)
                .collect();
            out = vec![candidates.take(&first)?.columns];
        }
        let mut metrics = OperatorMetrics {
            dropped_by_watermark: dropped,
            partitions: self.left.partitions() as u64,
            ..OperatorMetrics::default()
        };
        // store the new rows and the old rows that matched now
        for (i, rows) in [&new_left, &new_right].into_iter().enumerate() {
            let side_state = if i == 0 {
                &mut self.left
            } else {
                &mut self.right
            };
            let store = open(side_state, &schemas[i])?;
            let kept = rows.take(&stored_new[i])?;
            let flags: BooleanArray = kept
                .ids
                .iter()
                .map(|id| id.map(|id| matched[i].contains(&id)))
                .collect();
            put(store, &kept, &flags)?;
            metrics.rows_updated += kept.ids.len() as u64;
            let newly: Vec<u32> = (0..old[i].ids.len())
                .filter(|r| !old[i].matched.value(*r) && matched[i].contains(&old[i].ids.value(*r)))
                .map(|r| r as u32)
                .collect();
            let now_matched = old[i].take(&newly)?;
            put(
                store,
                &now_matched,
                &BooleanArray::from(vec![true; newly.len()]),
            )?;
        }
        let removing = Instant::now();
        for i in 0..2 {
            let Some(eviction) = evictions[i] else {
                continue;
            };
            let side_state = if i == 0 {
                &mut self.left
            } else {
                &mut self.right
            };
            let store = open(side_state, &schemas[i])?;
            let n = schemas[i].fields().len();
            let gone = store.evict(|_, values| {
                let rows = RecordBatch::try_new(Arc::clone(&schemas[i]), values[..n].to_vec())?;
                forgettable(&rows, Some(eviction), wm.evict_ms)
            })?;
            if outer[i] {
                let (_, values) = store.columns(gone.iter().map(|(k, v)| (k, v)))?;
                let rows = RecordBatch::try_new(Arc::clone(&schemas[i]), values[..n].to_vec())?;
                let flags = values[n]
                    .as_any()
                    .downcast_ref::<BooleanArray>()
                    .ok_or_else(|| Error::internal("a matched flag that is not a boolean"))?;
                let lone: Vec<u32> = (0..flags.len())
                    .filter(|r| !flags.value(*r))
                    .map(|r| r as u32)
                    .collect();
                let lone = take_record_batch(&rows, &UInt32Array::from(lone))?;
                out.push(null_extended(&lone, i, &schemas)?);
            } else {
                metrics.rows_removed += gone.len() as u64;
            }
        }
        for (side_state, schema) in [
            (&mut self.left, &schemas[0]),
            (&mut self.right, &schemas[1]),
        ] {
            let store = open(side_state, schema)?;
            metrics.rows_total += store.len() as u64;
            metrics.memory_bytes += store.memory_bytes() as u64;
        }
        metrics.updates_ms = removing.duration_since(began).as_millis() as u64;
        metrics.removals_ms = removing.elapsed().as_millis() as u64;
        self.metrics = metrics;
        renamed(&output_schema(node), out)
    }
}

/// A side's store: a row id per row, its columns and matched flag as the value.
fn open<'a>(
    state: &'a mut OperatorState,
    schema: &SchemaRef,
) -> Result<&'a mut crate::state::StateStore> {
    let mut values: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    values.push(Field::new(MATCHED, DataType::Boolean, true));
    state.store(
        Arc::new(Schema::new(vec![Field::new(
            ROW_ID,
            DataType::Int64,
            false,
        )])),
        Arc::new(Schema::new(values)),
    )
}

/// Puts `rows` with `flags` as their matched flags.
fn put(store: &mut crate::state::StateStore, rows: &SideRows, flags: &BooleanArray) -> Result<()> {
    if rows.ids.is_empty() {
        return Ok(());
    }
    let keys = store.key_rows(&[Arc::new(rows.ids.clone()) as ArrayRef])?;
    let mut columns = rows.columns.columns().to_vec();
    columns.push(Arc::new(flags.clone()));
    let values = store.value_rows(&columns)?;
    for r in 0..rows.ids.len() {
        store.put(keys.row(r).owned(), values.row(r).owned());
    }
    Ok(())
}

/// Side `side`'s `rows` with nulls for the other side's columns, in the join's column order.
fn null_extended(rows: &RecordBatch, side: usize, schemas: &[SchemaRef; 2]) -> Result<RecordBatch> {
    let nulls = |schema: &SchemaRef| -> Vec<ArrayRef> {
        schema
            .fields()
            .iter()
            .map(|f| new_null_array(f.data_type(), rows.num_rows()))
            .collect()
    };
    let mut columns = if side == 0 {
        rows.columns().to_vec()
    } else {
        nulls(&schemas[0])
    };
    if side == 0 {
        columns.extend(nulls(&schemas[1]));
    } else {
        columns.extend(rows.columns().iter().cloned());
    }
    let fields: Vec<Field> = schemas
        .iter()
        .flat_map(|s| s.fields().iter().map(|f| f.as_ref().clone()))
        .collect();
    Ok(RecordBatch::try_new_with_options(
        Arc::new(Schema::new(fields)),
        columns,
        &datafusion::arrow::array::RecordBatchOptions::new().with_row_count(Some(rows.num_rows())),
    )?)
}

/// The pairs of `left` and `right` rows the join's condition takes: the joined rows, and the
/// ids of the left and right rows of each.
async fn pairs(
    state: &SessionState,
    join: &Join,
    left: &SideRows,
    right: &SideRows,
) -> Result<(Vec<RecordBatch>, Vec<i64>, Vec<i64>)> {
    if left.ids.is_empty() || right.ids.is_empty() {
        return Ok((Vec::new(), Vec::new(), Vec::new()));
    }
    let plan = |rows: &SideRows, schema: &DFSchema, id: &str| -> Result<LogicalPlan> {
        let mut columns = rows.columns.columns().to_vec();
        columns.push(Arc::new(rows.ids.clone()));
        let mut fields: Vec<Field> = rows
            .columns
            .schema()
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        fields.push(Field::new(id, DataType::Int64, false));
        let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?;
        rows_plan_with(schema, vec![batch], &[id])
    };
    let l = plan(left, join.left.schema(), "__spate_left_id")?;
    let r = plan(right, join.right.schema(), "__spate_right_id")?;
    let joined = LogicalPlan::Join(Join::try_new(
        Arc::new(l),
        Arc::new(r),
        join.on.clone(),
        join.filter.clone(),
        JoinType::Inner,
        join.join_constraint,
        join.null_equality,
        false,
    )?);
    let batches = spate_exec::collect(state, &joined, "stream-stream join").await?;
    let nl = left.columns.num_columns();
    let nr = right.columns.num_columns();
    let (mut lids, mut rids, mut out) = (Vec::new(), Vec::new(), Vec::new());
    for b in batches {
        let ids = |i: usize| -> Result<Vec<i64>> {
            let a = b
                .column(i)
                .as_any()
                .downcast_ref::<Int64Array>()
                .ok_or_else(|| Error::internal("a row id that is not a long"))?;
            Ok(a.values().to_vec())
        };
        lids.extend(ids(nl)?);
        rids.extend(ids(nl + 1 + nr)?);
        let mut columns: Vec<ArrayRef> = b.columns()[..nl].to_vec();
        columns.extend(b.columns()[nl + 1..nl + 1 + nr].iter().cloned());
        let fields: Vec<Field> = b
            .schema()
            .fields()
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != nl && *i != nl + 1 + nr)
            .map(|(_, f)| f.as_ref().clone().with_nullable(true))
            .collect();
        out.push(RecordBatch::try_new_with_options(
            Arc::new(Schema::new(fields)),
            columns,
            &datafusion::arrow::array::RecordBatchOptions::new().with_row_count(Some(b.num_rows())),
        )?);
    }
    Ok((out, lids, rids))
}

impl StatefulOperator for StreamingJoin {
    fn name(&self) -> &'static str {
        "symmetricHashJoin"
    }

    fn evicts_by_watermark(&self) -> bool {
        self.marks.left.is_some() || self.marks.right.is_some()
    }

    fn output_watermark(&self, input_ms: i64) -> i64 {
        // a pair can be as old as the older side's state bound
        [self.marks.left, self.marks.right]
            .iter()
            .flatten()
            .map(|e| input_ms + e.offset_ms)
            .min()
            .unwrap_or(input_ms)
    }

    fn process<'a>(
        &'a mut self,
        state: &'a SessionState,
        node: &'a LogicalPlan,
        watermarks: Watermarks,
    ) -> BoxFuture<'a, Result<Vec<RecordBatch>>> {
        Box::pin(self.run(state, node, watermarks))
    }

    fn commit(&mut self) -> Result<()> {
        let began = Instant::now();
        self.left.commit()?;
        self.right.commit()?;
        self.metrics.commit_ms = began.elapsed().as_millis() as u64;
        Ok(())
    }

    fn metrics(&self) -> OperatorMetrics {
        self.metrics.clone()
    }
}
