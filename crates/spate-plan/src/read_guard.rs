//! Bad files never take a query down with them. After the physical optimizer, [`GuardFileReads`]
//! puts a [`ReadFilesExec`] over every file scan. It reads its partition's files one at a time
//! (each a scan of that one file with the original scan's projection, filters and metrics), so
//! it always knows which file it is in, and:
//! - a file that fails to decode — corrupt, truncated, not of the format — or that makes the
//!   decoder panic, fails the query with Spark's `FAILED_READ_FILE.NO_HINT` naming the file, or
//!   with `spark.sql.files.ignoreCorruptFiles` is skipped from there on (the rows it gave are
//!   kept, as in Spark);
//! - a CSV or JSON file whose bytes are not UTF-8 is read again through the lossy store (see
//!   [`crate::lossy_utf8`]), the rows already given skipped, so it reads with U+FFFD as
//!   Spark's decoder gives;
//! - an empty file is no rows, as Spark skips files of zero bytes.
//!
//! It also reads the files in Spark's order ([`spark_file_order`]): largest first, so rows of a
//! directory of files come back in the order Spark gives them.
//!
//! The node is a leaf that keeps the original scan inside, never executed: later optimizer
//! passes (delta-rs optimizes the plans it is handed again) cannot slip anything between the
//! two. Downcasts to `DataSourceExec` see the scan (`downcast_delegate`), so code that looks for
//! file scans (input files, a stage's bytes read) finds it, and the node's metrics include the
//! scan's.

use std::collections::VecDeque;
use std::fmt::{self, Formatter};
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::error::ArrowError;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfig};
use datafusion::datasource::source::{DataSource, DataSourceExec};
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::metrics::{
    BaselineMetrics, Count, ExecutionPlanMetricsSet, MetricBuilder, MetricValue, MetricsSet,
};
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties, RecordBatchStream,
};
use futures::{Stream, StreamExt};
use spate_common::Error;

use crate::lossy_utf8::{LOSSY_URL, restore_replacements};

/// The rule: a [`ReadFilesExec`] over every file scan. Runs last.
#[derive(Debug, Default)]
pub struct GuardFileReads;

impl PhysicalOptimizerRule for GuardFileReads {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        config: &ConfigOptions,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let ignore_corrupt = config
            .extensions
            .get::<crate::options::SpateOptions>()
            .is_some_and(|o| o.ignore_corrupt_files);
        Ok(plan
            .transform_up(|p| {
                // by name: downcasts of a ReadFilesExec see the scan it guards
                if p.name() == "ReadFilesExec" {
                    return Ok(Transformed::no(p));
                }
                let config = p
                    .downcast_ref::<DataSourceExec>()
                    .and_then(|d| d.data_source().downcast_ref::<FileScanConfig>())
                    .cloned();
                Ok(match config {
                    Some(config) => {
                        Transformed::yes(
                            Arc::new(ReadFilesExec::new(p, config, ignore_corrupt)) as _
                        )
                    }
                    None => Transformed::no(p),
                })
            })?
            .data)
    }

    fn name(&self) -> &str {
        "guard_file_reads"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// Reads a file scan's files one by one, naming, skipping or re-decoding bad ones.
#[derive(Debug)]
pub struct ReadFilesExec {
    scan: Arc<dyn ExecutionPlan>,
    config: FileScanConfig,
    ignore_corrupt: bool,
    metrics: ExecutionPlanMetricsSet,
}

impl ReadFilesExec {
    fn new(scan: Arc<dyn ExecutionPlan>, mut config: FileScanConfig, ignore_corrupt: bool) -> Self {
        if config.output_ordering.is_empty() {
            spark_file_order(&mut config.file_groups);
        }
        Self {
            scan,
            config,
            ignore_corrupt,
            metrics: ExecutionPlanMetricsSet::new(),
        }
    }
}

/// Spark's order of a scan's files: it sorts its splits (whole files and pieces of split
/// files) by length, longest first, before it packs them into partitions, so its partitions —
/// and the rows of a result read in partition order — go from the longest split to the
/// shortest (ties by path, pieces of one file in order). The splits are put in that order and
/// cut into the same number of groups, each a run of about the same bytes: a split goes to the
/// group its middle byte falls in. (Keeping each group's number of splits instead left one
/// partition of TPC-H's orders with 3 of its 4 files: DataFusion had cut a file's 4 KB footer
/// into a split of its own.)
fn spark_file_order(groups: &mut [FileGroup]) {
    let mut files: Vec<PartitionedFile> = groups.iter().flat_map(|g| g.files().to_vec()).collect();
    let start = |f: &PartitionedFile| f.range.as_ref().map_or(0, |r| r.start);
    files.sort_by(|a, b| {
        split_length(b)
            .cmp(&split_length(a))
            .then_with(|| a.object_meta.location.cmp(&b.object_meta.location))
            .then_with(|| start(a).cmp(&start(b)))
    });
    let n = groups.len();
    // at least a byte each, so that empty files are spread too
    let total: u128 = files
        .iter()
        .map(|f| u128::from(split_length(f).max(1)))
        .sum();
    let mut packed: Vec<Vec<PartitionedFile>> = vec![Vec::new(); n];
    let mut before: u128 = 0;
    for file in files {
        let length = u128::from(split_length(&file).max(1));
        let middle = before + length / 2;
        before += length;
        let group = usize::try_from(middle * n as u128 / total.max(1)).unwrap_or(n - 1);
        packed[group.min(n - 1)].push(file);
    }
    for (group, files) in groups.iter_mut().zip(packed) {
        *group = FileGroup::new(files);
    }
}

/// The bytes of a split: its range, or the whole file.
fn split_length(file: &PartitionedFile) -> u64 {
    match &file.range {
        Some(r) => u64::try_from(r.end - r.start).unwrap_or(0),
        None => file.object_meta.size,
    }
}

/// Shows as the scan it reads (the guard is how the scan runs, not a step of its own), with
/// `ignoring corrupt files` when it skips them.
impl DisplayAs for ReadFilesExec {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut Formatter) -> fmt::Result {
        self.scan.fmt_as(t, f)?;
        if self.ignore_corrupt {
            write!(f, ", ignoring corrupt files")?;
        }
        Ok(())
    }
}

impl ExecutionPlan for ReadFilesExec {
    fn name(&self) -> &str {
        "ReadFilesExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.scan.properties()
    }

    fn downcast_delegate(&self) -> Option<&dyn ExecutionPlan> {
        Some(self.scan.as_ref())
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
    }

    fn statistics_from_inputs(
        &self,
        input_stats: &[Arc<datafusion::common::Statistics>],
        args: &datafusion::physical_plan::StatisticsArgs,
    ) -> DfResult<Arc<datafusion::common::Statistics>> {
        self.scan.statistics_from_inputs(input_stats, args)
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> DfResult<TreeNodeRecursion>,
    ) -> DfResult<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        _children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> DfResult<SendableRecordBatchStream> {
        let files: VecDeque<PartitionedFile> = self
            .config
            .file_groups
            .get(partition)
            .map(|g| g.files().to_vec())
            .unwrap_or_default()
            .into();
        Ok(Box::pin(ReadFilesStream {
            config: self.config.clone(),
            partition,
            context,
            files,
            current: None,
            remaining: self.config.limit,
            ignore_corrupt: self.ignore_corrupt,
            text: matches!(self.config.file_source().file_type(), "csv" | "json"),
            schema: self.schema(),
            baseline: BaselineMetrics::new(&self.metrics, partition),
            skipped: MetricBuilder::new(&self.metrics).counter("corrupt_files_skipped", partition),
            reread: MetricBuilder::new(&self.metrics).counter("files_reread_lossy", partition),
        }))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        let mut all = self.metrics.clone_inner();
        // the scan's own counts of what it gave are this node's (its rows would count twice)
        for m in self.scan.metrics().iter().flat_map(|s| s.iter()) {
            if !matches!(
                m.value(),
                MetricValue::OutputRows(_)
                    | MetricValue::OutputBytes(_)
                    | MetricValue::OutputBatches(_)
                    | MetricValue::ElapsedCompute(_)
            ) {
                all.push(Arc::clone(m));
            }
        }
        Some(all)
    }
}

/// The file being read.
struct Current {
    file: PartitionedFile,
    stream: SendableRecordBatchStream,
    /// Rows given from this file so far.
    given: usize,
    /// Rows to drop before giving more (a file read again).
    skip: usize,
    lossy: bool,
}

/// One partition's files, read one by one.
pub struct ReadFilesStream {
    config: FileScanConfig,
    partition: usize,
    context: Arc<TaskContext>,
    files: VecDeque<PartitionedFile>,
    current: Option<Current>,
    remaining: Option<usize>,
    ignore_corrupt: bool,
    text: bool,
    schema: SchemaRef,
    baseline: BaselineMetrics,
    skipped: Count,
    reread: Count,
}

impl ReadFilesStream {
    /// A scan of one file, as partition `self.partition` of a copy of the configuration.
    fn open(&self, file: &PartitionedFile, lossy: bool) -> DfResult<SendableRecordBatchStream> {
        let mut groups = vec![FileGroup::default(); self.partition];
        groups.push(FileGroup::new(vec![file.clone()]));
        let mut config = self.config.clone();
        config.file_groups = groups;
        if lossy {
            config.object_store_url = ObjectStoreUrl::parse(LOSSY_URL)?;
        }
        config.open(self.partition, Arc::clone(&self.context))
    }

    /// What to do about `failure` in `file`, which gave `given` rows (`lossy`: read again
    /// already): read it again lossily, skip it, or fail naming it.
    fn failed(
        &mut self,
        file: PartitionedFile,
        given: usize,
        lossy: bool,
        failure: Failure,
    ) -> Option<DataFusionError> {
        let path = file_url(&file);
        if self.text && !lossy && failure.is_utf8() {
            match self.open(&file, true) {
                Ok(stream) => {
                    self.reread.add(1);
                    self.current = Some(Current {
                        file,
                        stream,
                        given,
                        skip: given,
                        lossy: true,
                    });
                    return None;
                }
                Err(e) => return Some(e),
            }
        }
        match failure {
            Failure::Error(e) if !is_file_error(&e) => Some(e),
            failure if self.ignore_corrupt => {
                tracing::warn!("skipped the corrupt file {path}: {}", failure.describe());
                self.skipped.add(1);
                None
            }
            failure => Some(DataFusionError::External(Box::new(Error::Runtime {
                exception: "org.apache.spark.SparkException",
                class: "FAILED_READ_FILE.NO_HINT".into(),
                message: format!(
                    "Encountered error while reading file {path}: {}; set \
                     spark.sql.files.ignoreCorruptFiles to skip corrupt files",
                    failure.describe()
                ),
            }))),
        }
    }
}

/// How reading a file went wrong.
enum Failure {
    Error(DataFusionError),
    Panic(String),
}

impl Failure {
    /// Whether the CSV or JSON decoder refused bytes that are not UTF-8 (Arrow's CSV and JSON
    /// errors have no kind for it, so their text tells).
    fn is_utf8(&self) -> bool {
        let Failure::Error(e) = self else {
            return false;
        };
        let text = match e.find_root() {
            DataFusionError::ArrowError(a, _) => match a.as_ref() {
                ArrowError::CsvError(m) | ArrowError::JsonError(m) => m.clone(),
                ArrowError::ExternalError(inner) => inner.to_string(),
                _ => return false,
            },
            other => other.to_string(),
        };
        text.contains("UTF-8") || text.contains("utf-8") || text.contains("utf8")
    }

    fn describe(&self) -> String {
        match self {
            Failure::Error(e) => e.to_string(),
            Failure::Panic(m) => format!("the decoder failed ({m})"),
        }
    }
}

/// Whether an error comes from the file's bytes (rather than from the query over them).
fn is_file_error(e: &DataFusionError) -> bool {
    match e {
        DataFusionError::ParquetError(_)
        | DataFusionError::IoError(_)
        | DataFusionError::ObjectStore(_)
        | DataFusionError::ExecutionJoin(_) => true,
        DataFusionError::ArrowError(a, _) => matches!(
            a.as_ref(),
            ArrowError::ParseError(_)
                | ArrowError::IoError(..)
                | ArrowError::CsvError(_)
                | ArrowError::JsonError(_)
                | ArrowError::ParquetError(_)
                | ArrowError::IpcError(_)
                | ArrowError::ExternalError(_)
                | ArrowError::InvalidArgumentError(_)
        ),
        DataFusionError::External(inner) => !inner.is::<Error>(),
        DataFusionError::Context(_, inner) => is_file_error(inner),
        DataFusionError::Shared(inner) => is_file_error(inner),
        DataFusionError::Execution(m) => {
            let m = m.to_lowercase();
            m.contains("parquet") || m.contains("file") || m.contains("eof")
        }
        _ => false,
    }
}

/// The file as Spark names it (`file:/abs/path`).
fn file_url(file: &PartitionedFile) -> String {
    format!("file:///{}", file.object_meta.location)
}

impl Stream for ReadFilesStream {
    type Item = DfResult<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let poll = self.poll_files(cx);
        self.baseline.record_poll(poll)
    }
}

impl ReadFilesStream {
    fn poll_files(&mut self, cx: &mut Context<'_>) -> Poll<Option<DfResult<RecordBatch>>> {
        loop {
            if self.remaining == Some(0) {
                return Poll::Ready(None);
            }
            if self.current.is_none() {
                let Some(file) = self.files.pop_front() else {
                    return Poll::Ready(None);
                };
                if file.object_meta.size == 0 {
                    continue;
                }
                match self.open(&file, false) {
                    Ok(stream) => {
                        self.current = Some(Current {
                            file,
                            stream,
                            given: 0,
                            skip: 0,
                            lossy: false,
                        })
                    }
                    Err(e) => {
                        if let Some(e) = self.failed(file, 0, false, Failure::Error(e)) {
                            return Poll::Ready(Some(Err(e)));
                        }
                        continue;
                    }
                }
            }
            let Some(current) = self.current.as_mut() else {
                continue;
            };
            let polled =
                std::panic::catch_unwind(AssertUnwindSafe(|| current.stream.poll_next_unpin(cx)));
            let failure = match polled {
                Ok(Poll::Pending) => return Poll::Pending,
                Ok(Poll::Ready(None)) => {
                    self.current = None;
                    continue;
                }
                Ok(Poll::Ready(Some(Ok(batch)))) => {
                    let Some(batch) = self.take(batch) else {
                        continue;
                    };
                    return Poll::Ready(Some(batch));
                }
                Ok(Poll::Ready(Some(Err(e)))) => Failure::Error(e),
                Err(panic) => Failure::Panic(spate_exec::panic_message(panic.as_ref())),
            };
            if let Some(Current {
                file, given, lossy, ..
            }) = self.current.take()
                && let Some(e) = self.failed(file, given, lossy, failure)
            {
                return Poll::Ready(Some(Err(e)));
            }
        }
    }

    /// The part of a batch of the current file to give: rows already given skipped, lossy
    /// text restored, the scan's limit kept.
    fn take(&mut self, batch: RecordBatch) -> Option<DfResult<RecordBatch>> {
        let current = self.current.as_mut()?;
        let mut batch = batch;
        if current.skip > 0 {
            let drop = current.skip.min(batch.num_rows());
            current.skip -= drop;
            batch = batch.slice(drop, batch.num_rows() - drop);
        }
        if batch.num_rows() == 0 {
            return None;
        }
        if current.lossy {
            batch = match restore_replacements(batch) {
                Ok(b) => b,
                Err(e) => return Some(Err(e)),
            };
        }
        if let Some(left) = self.remaining.as_mut() {
            let keep = batch.num_rows().min(*left);
            batch = batch.slice(0, keep);
            *left -= keep;
        }
        current.given += batch.num_rows();
        Some(Ok(batch))
    }
}

impl RecordBatchStream for ReadFilesStream {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn piece(path: &str, size: u64, range: Option<(i64, i64)>) -> PartitionedFile {
        match range {
            Some((start, end)) => PartitionedFile::new_with_range(path.into(), size, start, end),
            None => PartitionedFile::new(path, size),
        }
    }

    /// Each group as (path, start) pairs.
    fn shown(groups: &[FileGroup]) -> Vec<Vec<(String, i64)>> {
        groups
            .iter()
            .map(|g| {
                g.files()
                    .iter()
                    .map(|f| {
                        let start = f.range.as_ref().map_or(0, |r| r.start);
                        (f.object_meta.location.to_string(), start)
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn a_split_off_footer_does_not_unbalance_the_groups() {
        // TPC-H SF1's orders as DataFusion groups it for 2 partitions: file 2 cut 4592 bytes
        // before its end, leaving its footer a split of its own
        let (s1, s2, s3, s4) = (15_872_779, 15_879_311, 15_873_494, 15_869_411);
        let cut = 15_874_719;
        let mut groups = vec![
            FileGroup::new(vec![
                piece("o1", s1, Some((0, s1 as i64))),
                piece("o2", s2, Some((0, cut))),
            ]),
            FileGroup::new(vec![
                piece("o2", s2, Some((cut, s2 as i64))),
                piece("o3", s3, Some((0, s3 as i64))),
                piece("o4", s4, Some((0, s4 as i64))),
            ]),
        ];
        spark_file_order(&mut groups);
        // longest first (o2's head 15874719, o3, o1, o4, o2's footer), two whole files a side,
        // as Spark packs them: [o2, o3] and [o1, o4]
        assert_eq!(
            shown(&groups),
            vec![
                vec![("o2".into(), 0), ("o3".into(), 0)],
                vec![("o1".into(), 0), ("o4".into(), 0), ("o2".into(), cut)],
            ]
        );
    }

    #[test]
    fn files_go_longest_first_in_runs_of_equal_bytes() {
        // whole files of 50, 40, 30, 30, 20, 10 bytes (ties by path) into 3 groups: 180
        // bytes, each file in the run of 60 its middle byte falls in; groups stay empty when
        // there are fewer files than groups
        let mut groups = vec![
            FileGroup::new(vec![piece("e", 10, None), piece("b", 40, None)]),
            FileGroup::new(vec![piece("a", 50, None), piece("d", 20, None)]),
            FileGroup::new(vec![piece("c", 30, None), piece("c2", 30, None)]),
        ];
        spark_file_order(&mut groups);
        let paths: Vec<Vec<String>> = shown(&groups)
            .into_iter()
            .map(|g| g.into_iter().map(|(p, _)| p).collect())
            .collect();
        assert_eq!(paths, vec![vec!["a"], vec!["b", "c"], vec!["c2", "d", "e"]]);

        let mut few = vec![
            FileGroup::new(vec![piece("x", 0, None)]),
            FileGroup::default(),
            FileGroup::default(),
        ];
        spark_file_order(&mut few);
        assert_eq!(few.iter().map(FileGroup::len).sum::<usize>(), 1);
        assert_eq!(few.len(), 3);
    }
}
