//! The operator below each exchange of a skew-split join, and the sampler both share.
//! [`SkewSaltExec`] appends a salt column to its side's rows. On the side that holds the hot
//! keys, rows of a hot key take, in turn, the salts that route them to each output partition;
//! on the other side, a row of a hot key is copied once per salt of its key; every other row
//! takes salt 0. Joined on `(keys, salt)`, each row of the skewed side meets every match
//! exactly once, in whichever partition its salt sends it to.
//!
//! Which side is skewed and which keys are hot is decided once, before either side routes a
//! row, by the [`Sampler`]: it starts the input of each side that may be spread, reads the
//! first [`SAMPLE_ROWS`] rows of each of its partitions, and parks the streams (with the rows
//! it read) for the side's [`SkewSaltExec`]. The side whose hot keys hold the larger share of
//! its sample is spread. In the sample, keys are counted by the hash the exchange itself uses
//! (DataFusion's repartition hash), and the salts of a hot key are found by hashing
//! `(key, salt)` exactly as the exchange will; afterwards rows are matched to the few hot keys
//! by value, a vectorised comparison per key column, on both sides alike.

use std::collections::HashMap;
use std::fmt::{self, Formatter};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use datafusion::arrow::array::{Array, ArrayRef, BooleanArray, RecordBatch, Scalar, UInt32Array};
use datafusion::arrow::compute::kernels::boolean::and;
use datafusion::arrow::compute::kernels::cmp::not_distinct;
use datafusion::arrow::compute::{interleave, take_record_batch};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::hash_utils::create_hashes;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::{RecordBatchStream, SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_expr_common::utils::evaluate_expressions_to_arrays;
use datafusion::physical_plan::metrics::{
    BaselineMetrics, Count, ExecutionPlanMetricsSet, MetricBuilder, MetricsSet,
};
use datafusion::physical_plan::repartition::REPARTITION_RANDOM_STATE;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, ExecutionPlanProperties, Partitioning,
    PlanProperties,
};
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::{FutureExt, Stream, StreamExt};

/// The column both sides append, joined on beside the keys.
pub const SALT_COLUMN: &str = "__spate_salt";
/// Rows read from each partition of the skewed side before deciding which keys are hot.
pub const SAMPLE_ROWS: usize = 32 * 1024;
/// A key is hot when it holds more than half of one partition's fair share of the sample
/// (`1 / (2 * partitions)` of the rows) ...
const HOT_SHARE_DIVISOR: usize = 2;
/// ... and at least this many sampled rows (below that, nothing is worth splitting).
const MIN_HOT_ROWS: usize = 64;
/// Salts tried per partition when looking for one that routes a hot key to each partition.
const SALT_TRIES_PER_PARTITION: usize = 32;

/// Spark's test of a skewed partition, applied to the sample: a partition is skewed when it
/// holds more than `factor` times the median partition
/// (`spark.sql.adaptive.skewJoin.skewedPartitionFactor`) and more than `threshold` bytes
/// (`skewedPartitionThresholdInBytes`), its bytes estimated as its share of the sample times
/// the side's estimated size (`side_bytes`; unknown: the share alone decides).
#[derive(Debug, Clone, Copy)]
pub struct SkewTest {
    pub factor: f64,
    pub threshold: usize,
}

impl SkewTest {
    /// Which of the partitions whose sampled rows are `counts` are skewed.
    fn skewed(&self, counts: &[usize], side_bytes: Option<usize>) -> Vec<bool> {
        let total: usize = counts.iter().sum();
        let mut sorted = counts.to_vec();
        sorted.sort_unstable();
        let n = sorted.len();
        // Spark's median size: the middle one, or the mean of the two middle ones; at least 1
        let median = match n {
            0 => 1.0,
            _ if n.is_multiple_of(2) => ((sorted[n / 2] + sorted[n / 2 - 1]) as f64 / 2.0).max(1.0),
            _ => (sorted[n / 2] as f64).max(1.0),
        };
        counts
            .iter()
            .map(|&c| {
                let bytes = side_bytes.map(|b| b as f64 * c as f64 / total.max(1) as f64);
                c as f64 > self.factor * median && bytes.is_none_or(|b| b > self.threshold as f64)
            })
            .collect()
    }
}

/// One hot key: its values (one single-row array per key column) and the salts that route
/// it to every partition.
#[derive(Debug)]
struct HotKey {
    values: Vec<ArrayRef>,
    salts: Vec<u32>,
}

/// The hot keys found in a sample.
#[derive(Debug, Default)]
pub struct HotKeys {
    keys: Vec<HotKey>,
    /// The share of the sample the hot keys hold.
    share: f64,
}

impl HotKeys {
    /// Finds the hot keys of `keys` in the sampled `batches`, for an exchange into
    /// `partitions` partitions: keys that hold a good part of the sample and send their rows
    /// to a partition `test` calls skewed (`side_bytes`: the side's estimated size).
    fn find(
        keys: &[Arc<dyn PhysicalExpr>],
        batches: &[&RecordBatch],
        partitions: usize,
        test: SkewTest,
        side_bytes: Option<usize>,
    ) -> DfResult<Self> {
        if partitions < 2 {
            return Ok(Self::default());
        }
        let mut counts: HashMap<u64, (usize, usize, usize)> = HashMap::new();
        let mut key_columns = Vec::with_capacity(batches.len());
        let mut total = 0;
        for (b, batch) in batches.iter().enumerate() {
            let arrays = evaluate_expressions_to_arrays(keys, batch)?;
            for (row, hash) in hash_rows(&arrays, batch.num_rows())?
                .into_iter()
                .enumerate()
            {
                counts.entry(hash).or_insert((0, b, row)).0 += 1;
            }
            total += batch.num_rows();
            key_columns.push(arrays);
        }
        let mut per_partition = vec![0; partitions];
        for (hash, (n, _, _)) in &counts {
            per_partition[partition_of(*hash, partitions)] += n;
        }
        let skewed = test.skewed(&per_partition, side_bytes);
        let hot: Vec<(u64, usize, (usize, usize))> = counts
            .into_iter()
            .filter(|(hash, (n, _, _))| {
                *n >= MIN_HOT_ROWS
                    && n * HOT_SHARE_DIVISOR * partitions > total
                    && skewed[partition_of(*hash, partitions)]
            })
            .map(|(hash, (n, b, row))| (hash, n, (b, row)))
            .collect();
        if hot.is_empty() {
            return Ok(Self::default());
        }
        // One row of each hot key: the values the salts are tried with.
        let at: Vec<(usize, usize)> = hot.iter().map(|(_, _, at)| *at).collect();
        let mut values = Vec::with_capacity(keys.len());
        for k in 0..keys.len() {
            let columns: Vec<&dyn Array> = key_columns.iter().map(|c| c[k].as_ref()).collect();
            values.push(interleave(&columns, &at)?);
        }
        let mut found: Vec<Vec<Option<u32>>> = vec![vec![None; partitions]; hot.len()];
        let tries = u32::try_from(SALT_TRIES_PER_PARTITION * partitions).unwrap_or(u32::MAX);
        for salt in 0..tries {
            let mut arrays = values.clone();
            arrays.push(Arc::new(UInt32Array::from(vec![salt; hot.len()])));
            for (key, hash) in hash_rows(&arrays, hot.len())?.into_iter().enumerate() {
                found[key][partition_of(hash, partitions)].get_or_insert(salt);
            }
            if found.iter().flatten().all(Option::is_some) {
                break;
            }
        }
        let hot_rows: usize = hot.iter().map(|(_, n, _)| n).sum();
        let keys = found
            .into_iter()
            .enumerate()
            .map(|(i, salts)| HotKey {
                values: values.iter().map(|v| v.slice(i, 1)).collect(),
                salts: salts.into_iter().flatten().collect(),
            })
            .filter(|k| !k.salts.is_empty())
            .collect();
        Ok(Self {
            keys,
            share: hot_rows as f64 / total as f64,
        })
    }

    /// The number of hot keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no key is hot.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// For each row of `batch`, the hot key it holds (an index into `keys`), if any. Rows are
    /// compared by value, column by column (null equal to null, as the exchange hashes them).
    fn matches(
        &self,
        keys: &[Arc<dyn PhysicalExpr>],
        batch: &RecordBatch,
    ) -> DfResult<Vec<Option<usize>>> {
        let arrays = evaluate_expressions_to_arrays(keys, batch)?;
        let mut found = vec![None; batch.num_rows()];
        for (k, key) in self.keys.iter().enumerate() {
            let mut same: Option<BooleanArray> = None;
            for (array, value) in arrays.iter().zip(&key.values) {
                let eq = not_distinct(array, &Scalar::new(Arc::clone(value)))?;
                same = Some(match same {
                    Some(s) => and(&s, &eq)?,
                    None => eq,
                });
            }
            let Some(same) = same else { continue };
            if same.true_count() == 0 {
                continue;
            }
            for row in same.values().set_indices() {
                found[row] = Some(k);
            }
        }
        Ok(found)
    }
}

/// The repartition hash of each row of `arrays`, as DataFusion's hash exchange computes it.
fn hash_rows(arrays: &[ArrayRef], rows: usize) -> DfResult<Vec<u64>> {
    let mut hashes = vec![0; rows];
    create_hashes(arrays, REPARTITION_RANDOM_STATE.random_state(), &mut hashes)?;
    Ok(hashes)
}

/// The partition the hash exchange sends a row with this hash to.
fn partition_of(hash: u64, partitions: usize) -> usize {
    // The remainder is below `partitions`, which is a usize.
    (hash % partitions as u64) as usize
}

/// A stream parked by the sampler: the rows it read, and the rest.
type Parked = (Vec<RecordBatch>, SendableRecordBatchStream);

/// One side of the join, as the sampler sees it.
struct SideInput {
    /// The side's input (the child of its [`SkewSaltExec`]).
    input: Mutex<Arc<dyn ExecutionPlan>>,
    /// The join keys on this side.
    keys: Vec<Arc<dyn PhysicalExpr>>,
    /// Whether this side may be spread (and is therefore sampled).
    may_spread: bool,
    /// The side's estimated size in bytes, if known.
    bytes: Option<usize>,
    parked: Mutex<Vec<Option<Parked>>>,
}

/// What the sample decided: the side to spread (0 left, 1 right) and its hot keys.
#[derive(Debug, Default)]
struct Decision {
    spread: usize,
    hot: HotKeys,
}

/// Decides the hot keys once for both sides of one join; see the module documentation.
pub struct Sampler {
    sides: [SideInput; 2],
    /// The partitions of the exchanges above both sides.
    partitions: usize,
    test: SkewTest,
    decided: tokio::sync::OnceCell<Result<Arc<Decision>, Arc<DataFusionError>>>,
}

impl fmt::Debug for Sampler {
    fn fmt(&self, f: &mut Formatter) -> fmt::Result {
        f.debug_struct("Sampler")
            .field("partitions", &self.partitions)
            .finish_non_exhaustive()
    }
}

impl Sampler {
    /// A sampler for a join of `left` and `right` on `keys` (left keys, right keys), with
    /// exchanges into `partitions` partitions; `may_spread` tells which sides may be spread,
    /// `bytes` their estimated sizes, `test` which partitions count as skewed.
    pub fn new(
        inputs: [Arc<dyn ExecutionPlan>; 2],
        keys: [Vec<Arc<dyn PhysicalExpr>>; 2],
        may_spread: [bool; 2],
        bytes: [Option<usize>; 2],
        partitions: usize,
        test: SkewTest,
    ) -> Self {
        let [left, right] = inputs;
        let [left_keys, right_keys] = keys;
        let side = |input, keys, may_spread, bytes| SideInput {
            input: Mutex::new(input),
            keys,
            may_spread,
            bytes,
            parked: Mutex::new(Vec::new()),
        };
        Self {
            sides: [
                side(left, left_keys, may_spread[0], bytes[0]),
                side(right, right_keys, may_spread[1], bytes[1]),
            ],
            partitions,
            test,
            decided: tokio::sync::OnceCell::new(),
        }
    }

    /// The decision, sampled on first call.
    async fn decide(&self, ctx: &Arc<TaskContext>) -> DfResult<Arc<Decision>> {
        let decided = self
            .decided
            .get_or_init(|| async { self.sample(ctx).await.map(Arc::new).map_err(Arc::new) })
            .await;
        decided.clone().map_err(DataFusionError::Shared)
    }

    /// Samples the sides that may be spread, all at once, and spreads the one whose hot keys
    /// hold the larger share of its sample.
    async fn sample(&self, ctx: &Arc<TaskContext>) -> DfResult<Decision> {
        let sampled = self
            .sides
            .iter()
            .enumerate()
            .filter(|(_, side)| side.may_spread)
            .map(|(i, side)| async move {
                let input = Arc::clone(&*lock(&side.input)?);
                let parked = read_samples(&input, ctx).await?;
                let sample: Vec<&RecordBatch> = parked.iter().flat_map(|(b, _)| b).collect();
                let hot =
                    HotKeys::find(&side.keys, &sample, self.partitions, self.test, side.bytes)?;
                *lock(&side.parked)? = parked.into_iter().map(Some).collect();
                Ok::<_, DataFusionError>((i, hot))
            });
        let mut decision = Decision::default();
        for (i, hot) in futures::future::try_join_all(sampled).await? {
            if !hot.is_empty() && (decision.hot.is_empty() || hot.share > decision.hot.share) {
                decision = Decision { spread: i, hot };
            }
        }
        Ok(decision)
    }

    /// The rows of `side`'s partition `partition`: its parked stream where it was sampled.
    fn rows(
        &self,
        side: usize,
        partition: usize,
        ctx: Arc<TaskContext>,
    ) -> DfResult<BoxStream<'static, DfResult<RecordBatch>>> {
        let side = &self.sides[side];
        if !side.may_spread {
            return Ok(lock(&side.input)?.execute(partition, ctx)?.boxed());
        }
        let (sample, rest) = lock(&side.parked)?
            .get_mut(partition)
            .and_then(Option::take)
            .ok_or_else(|| {
                DataFusionError::Internal(format!(
                    "skew join: sampled partition {partition} was already read"
                ))
            })?;
        Ok(futures::stream::iter(sample.into_iter().map(Ok))
            .chain(rest)
            .boxed())
    }
}

/// Starts every partition of `input` and reads the first [`SAMPLE_ROWS`] rows of each.
async fn read_samples(
    input: &Arc<dyn ExecutionPlan>,
    ctx: &Arc<TaskContext>,
) -> DfResult<Vec<Parked>> {
    let reads = (0..input.output_partitioning().partition_count()).map(|i| {
        let stream = input.execute(i, Arc::clone(ctx));
        async move {
            let mut stream = stream?;
            let mut batches = Vec::new();
            let mut rows = 0;
            while rows < SAMPLE_ROWS {
                let Some(batch) = stream.next().await else {
                    break;
                };
                let batch = batch?;
                rows += batch.num_rows();
                batches.push(batch);
            }
            Ok::<Parked, DataFusionError>((batches, stream))
        }
    });
    futures::future::try_join_all(reads).await
}

fn lock<T>(m: &Mutex<T>) -> DfResult<std::sync::MutexGuard<'_, T>> {
    m.lock()
        .map_err(|_| DataFusionError::Internal("skew join: a sampler lock was poisoned".into()))
}

fn with_salts(schema: &SchemaRef, batch: &RecordBatch, salts: Vec<u32>) -> DfResult<RecordBatch> {
    let mut columns = batch.columns().to_vec();
    columns.push(Arc::new(UInt32Array::from(salts)));
    Ok(RecordBatch::try_new(Arc::clone(schema), columns)?)
}

/// Salts a batch of the spread side: rows of hot keys take their key's salts in turn.
fn spread(
    hot: &HotKeys,
    keys: &[Arc<dyn PhysicalExpr>],
    next: &mut usize,
    batch: &RecordBatch,
) -> DfResult<(Vec<u32>, usize)> {
    let mut spread = 0;
    let salts = hot
        .matches(keys, batch)?
        .into_iter()
        .map(|key| match key {
            Some(k) => {
                let salts = &hot.keys[k].salts;
                *next = next.wrapping_add(1);
                spread += 1;
                salts[*next % salts.len()]
            }
            None => 0,
        })
        .collect();
    Ok((salts, spread))
}

/// Salts a batch of the copying side: rows of hot keys are copied once per salt of their key.
fn copy(
    hot: &HotKeys,
    keys: &[Arc<dyn PhysicalExpr>],
    batch: &RecordBatch,
) -> DfResult<(RecordBatch, Vec<u32>, usize)> {
    let found = hot.matches(keys, batch)?;
    if found.iter().all(Option::is_none) {
        return Ok((batch.clone(), vec![0; batch.num_rows()], 0));
    }
    let mut rows = Vec::with_capacity(batch.num_rows());
    let mut salts = Vec::with_capacity(batch.num_rows());
    let mut copied = 0;
    for (row, key) in (0u32..).zip(found) {
        match key {
            Some(k) => {
                let key_salts = &hot.keys[k].salts;
                copied += key_salts.len();
                for salt in key_salts {
                    rows.push(row);
                    salts.push(*salt);
                }
            }
            None => {
                rows.push(row);
                salts.push(0);
            }
        }
    }
    let batch = take_record_batch(batch, &UInt32Array::from(rows))?;
    Ok((batch, salts, copied))
}

/// One side of a skew-split join: its rows with the salt column. See the module docs.
#[derive(Debug)]
pub struct SkewSaltExec {
    input: Arc<dyn ExecutionPlan>,
    /// 0 for the join's left side, 1 for its right.
    side: usize,
    sampler: Arc<Sampler>,
    properties: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
}

impl SkewSaltExec {
    /// Salts `input`, side `side` (0 left, 1 right) of the join `sampler` samples.
    pub fn new(input: Arc<dyn ExecutionPlan>, side: usize, sampler: Arc<Sampler>) -> Self {
        let mut fields = input.schema().fields().to_vec();
        fields.push(Arc::new(Field::new(SALT_COLUMN, DataType::UInt32, false)));
        let properties = PlanProperties::new(
            EquivalenceProperties::new(Arc::new(Schema::new(fields))),
            Partitioning::UnknownPartitioning(input.output_partitioning().partition_count()),
            input.pipeline_behavior(),
            input.boundedness(),
        );
        Self {
            input,
            side,
            sampler,
            properties: Arc::new(properties),
            metrics: ExecutionPlanMetricsSet::new(),
        }
    }
}

impl DisplayAs for SkewSaltExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut Formatter) -> fmt::Result {
        let keys = self.sampler.sides[self.side]
            .keys
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        let n = self.sampler.partitions;
        let other = &self.sampler.sides[1 - self.side];
        let role = match (self.sampler.sides[self.side].may_spread, other.may_spread) {
            (true, false) => format!("hot keys spread over {n} partitions"),
            (false, _) => format!("rows of hot keys copied to {n} partitions"),
            (true, true) => format!(
                "hot keys spread over {n} partitions, or their rows copied, as the sample shows"
            ),
        };
        write!(f, "SkewSaltExec: keys=[{keys}], {role}")
    }
}

impl ExecutionPlan for SkewSaltExec {
    fn name(&self) -> &str {
        "SkewSaltExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
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
            Some(input) if children.is_empty() => {
                *lock(&self.sampler.sides[self.side].input)? = Arc::clone(&input);
                Ok(Arc::new(Self::new(
                    input,
                    self.side,
                    Arc::clone(&self.sampler),
                )))
            }
            _ => Err(DataFusionError::Internal(
                "bug: SkewSaltExec takes one child".into(),
            )),
        }
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> DfResult<SendableRecordBatchStream> {
        let sampler = Arc::clone(&self.sampler);
        let side = self.side;
        let metric =
            |name: &'static str| MetricBuilder::new(&self.metrics).counter(name, partition);
        let deciding = async move {
            let decision = sampler.decide(&context).await?;
            let rows = sampler.rows(side, partition, context)?;
            Ok((decision, rows))
        }
        .boxed();
        Ok(Box::pin(SkewSaltStream {
            schema: self.schema(),
            keys: self.sampler.sides[side].keys.clone(),
            side,
            state: SaltState::Deciding(deciding),
            next: 0,
            hot_keys: metric("hot_keys"),
            spread_rows: metric("spread_rows"),
            copied_rows: metric("copied_rows"),
            baseline: BaselineMetrics::new(&self.metrics, partition),
        }))
    }
}

/// The rows of one side's partition, and the decision they wait for.
type DecidedRows = (Arc<Decision>, BoxStream<'static, DfResult<RecordBatch>>);

/// Where a [`SkewSaltStream`] is.
enum SaltState {
    /// Waiting for the sampler's decision (the first partition to ask samples both sides).
    Deciding(BoxFuture<'static, DfResult<DecidedRows>>),
    /// Salting the partition's rows.
    Salting(DecidedRows),
    /// Finished or failed.
    Done,
}

/// One partition of [`SkewSaltExec`].
struct SkewSaltStream {
    schema: SchemaRef,
    keys: Vec<Arc<dyn PhysicalExpr>>,
    side: usize,
    state: SaltState,
    /// The turn of the next hot row on the spread side.
    next: usize,
    hot_keys: Count,
    spread_rows: Count,
    copied_rows: Count,
    baseline: BaselineMetrics,
}

impl SkewSaltStream {
    fn salt(&mut self, decision: &Decision, batch: RecordBatch) -> DfResult<RecordBatch> {
        let _timer = self.baseline.elapsed_compute().timer();
        if decision.hot.is_empty() {
            with_salts(&self.schema, &batch, vec![0; batch.num_rows()])
        } else if decision.spread == self.side {
            let (salts, n) = spread(&decision.hot, &self.keys, &mut self.next, &batch)?;
            self.spread_rows.add(n);
            with_salts(&self.schema, &batch, salts)
        } else {
            let (batch, salts, n) = copy(&decision.hot, &self.keys, &batch)?;
            self.copied_rows.add(n);
            with_salts(&self.schema, &batch, salts)
        }
    }
}

impl Stream for SkewSaltStream {
    type Item = DfResult<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            let this = &mut *self;
            match &mut this.state {
                SaltState::Deciding(deciding) => match deciding.poll_unpin(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Err(e)) => {
                        this.state = SaltState::Done;
                        return Poll::Ready(Some(Err(e)));
                    }
                    Poll::Ready(Ok((decision, rows))) => {
                        if decision.spread == this.side {
                            this.hot_keys.add(decision.hot.len());
                        }
                        this.state = SaltState::Salting((decision, rows));
                    }
                },
                SaltState::Salting((decision, rows)) => {
                    let poll = match rows.poll_next_unpin(cx) {
                        Poll::Ready(Some(Ok(batch))) => {
                            let decision = Arc::clone(decision);
                            Poll::Ready(Some(this.salt(&decision, batch)))
                        }
                        Poll::Ready(None) => {
                            this.state = SaltState::Done;
                            Poll::Ready(None)
                        }
                        other => other,
                    };
                    return this.baseline.record_poll(poll);
                }
                SaltState::Done => return Poll::Ready(None),
            }
        }
    }
}

impl RecordBatchStream for SkewSaltStream {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::Int64Array;
    use datafusion::physical_expr::expressions::Column;

    const LOOSE: SkewTest = SkewTest {
        factor: 5.0,
        threshold: 0,
    };

    #[test]
    fn a_partition_is_skewed_past_the_factor_and_the_threshold() {
        // median of four: the mean of the two middle ones (100); 501 > 5 * 100
        assert_eq!(
            LOOSE.skewed(&[501, 100, 100, 100], None),
            [true, false, false, false]
        );
        assert_eq!(LOOSE.skewed(&[500, 100, 100, 100], None), [false; 4]);
        // of three: the middle one (10), not the mean
        assert_eq!(LOOSE.skewed(&[10, 60, 0], None), [false, true, false]);
        // the bytes: 501 / 801 of 1000 bytes is 625 bytes
        let test = SkewTest {
            factor: 5.0,
            threshold: 600,
        };
        assert!(test.skewed(&[501, 100, 100, 100], Some(1000))[0]);
        assert!(!test.skewed(&[501, 100, 100, 100], Some(900))[0]);
    }

    /// How many hot keys four partitions get from 20,000 rows of which `hot` in every hundred
    /// are key 7 and the rest spread over 1000 other keys, under a test with `factor`.
    fn hot_keys(hot: i64, factor: f64) -> DfResult<usize> {
        let values: Vec<i64> = (0..20_000)
            .map(|i| if i % 100 < hot { 7 } else { 1000 + i % 1000 })
            .collect();
        let schema = Arc::new(Schema::new(vec![Field::new("k", DataType::Int64, false)]));
        let batch = RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(values))])?;
        let keys: Vec<Arc<dyn PhysicalExpr>> = vec![Arc::new(Column::new("k", 0))];
        let test = SkewTest {
            factor,
            threshold: 0,
        };
        Ok(HotKeys::find(&keys, &[&batch], 4, test, None)?.len())
    }

    #[test]
    fn a_key_is_hot_only_in_a_skewed_partition() -> DfResult<()> {
        // 30% of the rows: its partition holds 30% + 70% / 4 = 47.5%, the median 17.5%
        assert_eq!(hot_keys(30, 5.0)?, 0);
        assert_eq!(hot_keys(30, 2.0)?, 1);
        // 80%: 85% against a median of 5%
        assert_eq!(hot_keys(80, 5.0)?, 1);
        Ok(())
    }
}
