//! The DataFusion session behind a Spark session: DataFusion's built-in functions overlaid
//! with `datafusion-spark`'s Spark-compatible ones (the one registry that DataFrame
//! expressions and SQL text share), Spark's default catalog and database names, and the
//! options that make DataFusion behave like Spark (decimal literals in SQL, Arrow string
//! types PySpark understands, the session time zone).

use std::sync::Arc;

use datafusion::execution::cache::cache_manager::CacheManagerConfig;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::{FunctionRegistry, SessionStateBuilder};
use datafusion::prelude::{SessionConfig as DfConfig, SessionContext};
use datafusion_spark::SessionStateBuilderSpark;
use spate_common::{Result, SessionConfig};

/// The catalog name Spark uses for its session catalog.
pub const CATALOG: &str = "spark_catalog";
/// Spark's default database.
pub const DEFAULT_DB: &str = "default";

/// Builds the DataFusion context for a session with the given configuration.
pub fn new_context(config: &SessionConfig) -> Result<SessionContext> {
    let mut df = DfConfig::new()
        .with_default_catalog_and_schema(CATALOG, DEFAULT_DB)
        .with_create_default_catalog_and_schema(true)
        .with_information_schema(true)
        .with_target_partitions(std::thread::available_parallelism().map_or(2, |n| n.get()));
    let opts = df.options_mut();
    opts.sql_parser.parse_float_as_decimal = true;
    opts.sql_parser.enable_ident_normalization = true;
    // Spark SQL: backquoted names, `x -> x + 1` lambdas.
    opts.sql_parser.dialect = datafusion::config::Dialect::Databricks;
    opts.execution.parquet.schema_force_view_types = false;
    opts.execution.time_zone = Some(config.time_zone());
    opts.execution.enable_ansi_mode = config.ansi();
    // Spark lists a path again on every read; DataFusion's listing cache would hide new files.
    let caches = CacheManagerConfig::default().with_list_files_cache_limit(0);
    let runtime = Arc::new(
        RuntimeEnvBuilder::new()
            .with_cache_manager(caches)
            .build()?,
    );
    let mut builder = SessionStateBuilder::new()
        .with_config(df)
        .with_runtime_env(runtime)
        .with_default_features()
        .with_spark_features();
    // Ours first: SQL text gets the same operator semantics as DataFrame expressions.
    builder
        .expr_planners()
        .get_or_insert_with(Vec::new)
        .insert(0, Arc::new(crate::functions::SparkSqlPlanner));
    // Repartitions users ask for are kept: our rule runs before DataFusion's.
    let mut rules: Vec<
        Arc<dyn datafusion::physical_optimizer::PhysicalOptimizerRule + Send + Sync>,
    > = vec![Arc::new(crate::physical::KeepRequestedRepartitions)];
    rules.extend(datafusion::physical_optimizer::optimizer::PhysicalOptimizer::new().rules);
    let mut state = builder.with_physical_optimizer_rules(rules).build();
    for f in crate::functions::higher_order::functions() {
        state.register_higher_order_function(f)?;
    }
    Ok(SessionContext::new_with_state(state))
}
