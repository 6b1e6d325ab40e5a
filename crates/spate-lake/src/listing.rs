//! File tables whose planning survives bad files. DataFusion reads every Parquet footer while it
//! plans a scan (for statistics), so one corrupt, truncated or foreign file would fail the query
//! at planning with an error that names no file — or panic: the parquet crate's footer decoder
//! subtracts a length it read from the file without checking it (arrow-rs 59,
//! `file/metadata/push_decoder.rs`; an overflow panic in debug builds, a bogus read range in
//! release). [`TolerantListing`] plans the scan again without statistics when either happens;
//! the scan then reaches execution, where `spate_plan::read_guard` names the bad file with
//! Spark's `FAILED_READ_FILE.NO_HINT` or, under `spark.sql.files.ignoreCorruptFiles`, skips it.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{ScanArgs, ScanResult, Session, TableProvider};
use datafusion::datasource::TableType;
use datafusion::datasource::listing::ListingTable;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::SessionState;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
use futures::FutureExt;

/// A listing table that plans without statistics when reading them fails.
#[derive(Debug)]
pub struct TolerantListing(pub ListingTable);

impl TolerantListing {
    /// `state` without statistics collection, when it is a session state.
    fn without_statistics(state: &dyn Session) -> Option<SessionState> {
        let state = state.as_any().downcast_ref::<SessionState>()?;
        let mut state = state.clone();
        state
            .config_mut()
            .options_mut()
            .execution
            .collect_statistics = false;
        Some(state)
    }
}

/// Whether planning failed on a file's bytes.
fn is_file_error(e: &DataFusionError) -> bool {
    matches!(
        e.find_root(),
        DataFusionError::ParquetError(_)
            | DataFusionError::ArrowError(..)
            | DataFusionError::IoError(_)
            | DataFusionError::ObjectStore(_)
            | DataFusionError::External(_)
    )
}

#[async_trait]
impl TableProvider for TolerantListing {
    fn schema(&self) -> SchemaRef {
        self.0.schema()
    }

    fn table_type(&self) -> TableType {
        self.0.table_type()
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> DfResult<Vec<TableProviderFilterPushDown>> {
        self.0.supports_filters_pushdown(filters)
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let first = AssertUnwindSafe(self.0.scan(state, projection, filters, limit))
            .catch_unwind()
            .await;
        match first {
            Ok(Err(e)) if !is_file_error(&e) => Err(e),
            Ok(Ok(plan)) => Ok(plan),
            Ok(Err(_)) | Err(_) => {
                let plain = Self::without_statistics(state)
                    .ok_or_else(|| DataFusionError::Internal("bug: not a session state".into()))?;
                self.0.scan(&plain, projection, filters, limit).await
            }
        }
    }

    async fn scan_with_args<'a>(
        &self,
        state: &dyn Session,
        args: ScanArgs<'a>,
    ) -> DfResult<ScanResult> {
        let first = AssertUnwindSafe(self.0.scan_with_args(state, args.clone()))
            .catch_unwind()
            .await;
        match first {
            Ok(Err(e)) if !is_file_error(&e) => Err(e),
            Ok(Ok(result)) => Ok(result),
            Ok(Err(_)) | Err(_) => {
                let plain = Self::without_statistics(state)
                    .ok_or_else(|| DataFusionError::Internal("bug: not a session state".into()))?;
                self.0.scan_with_args(&plain, args).await
            }
        }
    }
}
