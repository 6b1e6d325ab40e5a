//! What Delta Lake's operations need of the catalog, as a trait the catalog implements: whether
//! a warehouse table exists, its format and data directory, the current database, and creating
//! or writing tables. Delta's statements and delta-spark's messages name tables; this lets them
//! find one without the Delta code depending on the catalog (which depends on it).

use std::path::PathBuf;

use async_trait::async_trait;
use datafusion::execution::SessionState;
use datafusion::logical_expr::LogicalPlan;
use spate_common::Result;
use spate_plan::TableSpec;

use crate::options::WriteRequest;

/// The session's warehouse, as Delta's operations see it.
#[async_trait]
pub trait Warehouse: Send + Sync {
    /// Whether the table `name` (`db.table` parts) exists.
    fn table_exists(&self, name: &[String]) -> bool;
    /// The table's format (`delta`, `parquet`, ...).
    fn table_format(&self, name: &[String]) -> Result<String>;
    /// Where the table's data files are.
    fn data_dir(&self, name: &[String]) -> Result<PathBuf>;
    /// The session's current database.
    fn current_database(&self) -> String;
    /// `CREATE TABLE` with `plan`'s rows (or none).
    async fn create_table(
        &self,
        state: &SessionState,
        name: &[String],
        plan: LogicalPlan,
        spec: TableSpec,
    ) -> Result<()>;
    /// `saveAsTable` (`insert` false) or `insertInto` (`insert` true).
    async fn write_table(
        &self,
        state: &SessionState,
        plan: LogicalPlan,
        name: &[String],
        req: &WriteRequest,
        insert: bool,
    ) -> Result<()>;
}
