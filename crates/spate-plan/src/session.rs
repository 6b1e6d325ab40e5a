//! The DataFusion session behind a Spark session: DataFusion's built-in functions overlaid
//! with `datafusion-spark`'s Spark-compatible ones (the one registry that DataFrame
//! expressions and SQL text share), Spark's default catalog and database names, and the
//! options that make DataFusion behave like Spark (decimal literals in SQL, Arrow string
//! types PySpark understands, the session time zone), including Spark's type names in SQL
//! text (`CAST(x AS long)`, `timestamp` in the session time zone, `timestamp_ntz`).

use std::sync::{Arc, RwLock};

use datafusion::arrow::datatypes::DataType;
use datafusion::logical_expr::planner::TypePlanner;
use datafusion::sql::sqlparser::ast;

use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::datasource::{ViewTable, provider_as_source};
use datafusion::logical_expr::{Expr, LogicalPlanBuilder, col};
use datafusion::scalar::ScalarValue;

use datafusion::execution::{FunctionRegistry, SessionStateBuilder};
use datafusion::prelude::{SessionConfig as DfConfig, SessionContext};
use datafusion_spark::SessionStateBuilderSpark;
use spate_common::{Result, SessionConfig};

/// The catalog name Spark uses for its session catalog.
pub const CATALOG: &str = "spark_catalog";
/// Spark's default database.
pub const DEFAULT_DB: &str = "default";

/// Builds the DataFusion context for a session with the given configuration, running its
/// queries through `runner` (its memory pool and spill files) for `scope`.
pub fn new_context(
    config: &SessionConfig,
    runner: &Arc<spate_exec::QueryRunner>,
    scope: spate_exec::QueryScope,
) -> Result<SessionContext> {
    let mut df = DfConfig::new()
        .with_default_catalog_and_schema(CATALOG, DEFAULT_DB)
        .with_create_default_catalog_and_schema(true)
        .with_information_schema(true);
    let opts = df.options_mut();
    opts.sql_parser.parse_float_as_decimal = true;
    opts.sql_parser.enable_ident_normalization = true;
    // Spark SQL: backquoted names, `x -> x + 1` lambdas.
    opts.sql_parser.dialect = datafusion::config::Dialect::Databricks;
    // Spark orders nulls as the smallest values: ASC NULLS FIRST, DESC NULLS LAST.
    opts.sql_parser.default_null_ordering = "nulls_min".into();
    opts.execution.parquet.schema_force_view_types = false;
    opts.execution.time_zone = Some(config.time_zone());
    opts.extensions
        .insert(crate::options::SpateOptions::default());
    apply_engine_options(opts, config);
    // Rows keep their input order within a partition, as in Spark: no round-robin shuffles
    // are added for parallelism (file scans are still split into ordered byte ranges).
    opts.optimizer.enable_round_robin_repartition = false;
    // SQL text's `timestamp` type follows the session time zone (see `set_time_zone`).
    let time_zone = Arc::new(SessionTimeZone(RwLock::new(config.time_zone())));
    df.set_extension(time_zone.clone());
    spate_exec::attach(&mut df, runner, scope);
    let runtime = Arc::clone(runner.runtime());
    let mut builder = SessionStateBuilder::new()
        .with_config(df)
        .with_runtime_env(runtime)
        .with_default_features()
        .with_spark_features()
        .with_type_planner(Arc::new(SparkTypePlanner { time_zone }))
        .with_query_planner(Arc::new(crate::join_hints::SparkQueryPlanner));
    // Ours first: SQL text gets the same operator semantics as DataFrame expressions.
    builder
        .expr_planners()
        .get_or_insert_with(Vec::new)
        .insert(0, Arc::new(crate::functions::SparkSqlPlanner));
    // Repartitions users ask for are kept: our rule runs before DataFusion's.
    let mut rules: Vec<
        Arc<dyn datafusion::physical_optimizer::PhysicalOptimizerRule + Send + Sync>,
    > = vec![Arc::new(crate::physical::KeepRequestedRepartitions)];
    // Small joins build the side Spark broadcasts, then join hints are carried out, right
    // after DataFusion has chosen and oriented the joins.
    // Hot keys of shuffle joins are split once the exchanges are in place.
    for rule in datafusion::physical_optimizer::optimizer::PhysicalOptimizer::new().rules {
        let name = rule.name().to_string();
        if name == crate::window_top_rows::BEFORE_RULE {
            // a row number filtered to its first rows keeps the top rows per key, unsorted
            rules.push(Arc::new(crate::window_top_rows::TopRowsPerKey));
        }
        if name == "join_selection" {
            // cross joins in Spark's order, before DataFusion reorients them
            rules.push(Arc::new(crate::cross_join::SparkCrossJoins));
        }
        rules.push(rule);
        if name == "join_selection" {
            rules.push(Arc::new(crate::broadcast_side::SparkBuildSide));
            rules.push(Arc::new(crate::join_hints::ApplyJoinHints));
        } else if name == crate::skew_join::AFTER_RULE {
            rules.push(Arc::new(crate::skew_join::SplitSkewedJoins));
        }
    }
    // Joins our rules gave a projection are narrowed to what the projection above reads.
    rules.push(Arc::new(crate::join_projection::EmbedJoinProjections));
    // A distinct count beside plain counts is aggregated in two levels, as Spark does, so a
    // hot key's distinct values do not all meet in one partition.
    let mut logical: Vec<Arc<dyn datafusion::optimizer::OptimizerRule + Send + Sync>> = Vec::new();
    for rule in datafusion::optimizer::Optimizer::new().rules {
        if rule.name() == crate::distinct_aggregates::BEFORE_RULE {
            logical.push(Arc::new(crate::distinct_aggregates::CountsAsSums));
        }
        logical.push(rule);
    }
    // Sliding and running window aggregates over sorted input in one pass per row, once the
    // sorts and exchanges they need are in place.
    rules.push(Arc::new(crate::sliding_window::SlidingWindows));
    // Bad files are named or skipped, never fatal: file scans are guarded once planned.
    rules.push(Arc::new(crate::read_guard::GuardFileReads));
    // LIKE patterns of plain pieces between `%`s are matched without a regex per batch.
    rules.push(Arc::new(crate::like_segments::SegmentedLikes));
    // The string columns a join builds on are kept in few buffers, so the batches it emits
    // do not each carry the buffer lists of every build batch.
    rules.push(Arc::new(crate::compact_views::CompactBuildViews));
    for (url, keep_lengths) in [
        (crate::lossy_utf8::LOSSY_URL, true),
        (crate::lossy_utf8::INFER_URL, false),
    ] {
        runner.runtime().register_object_store(
            datafusion::execution::object_store::ObjectStoreUrl::parse(url)?.as_ref(),
            Arc::new(crate::lossy_utf8::LossyUtf8Store::new(keep_lengths)),
        );
    }
    let mut state = builder
        .with_optimizer_rules(logical)
        .with_physical_optimizer_rules(rules)
        .build();
    state.add_analyzer_rule(Arc::new(crate::task_ids::PlaceTaskIds));
    for f in crate::task_ids::functions() {
        state.register_udf(Arc::new(f))?;
    }
    state.register_udf(Arc::new(crate::functions::ym_interval::ym_literal()))?;
    state.register_udaf(Arc::new(datafusion::logical_expr::AggregateUDF::from(
        crate::functions::ApproxCountDistinct::new(),
    )))?;
    // `avg` sums doubles in row order, as Spark (see functions::spark_avg)
    state.register_udaf(crate::functions::spark_avg_udaf())?;
    for f in crate::functions::higher_order::functions()
        .into_iter()
        .chain(crate::functions::map_lambdas::functions())
    {
        state.register_higher_order_function(f)?;
    }
    if let Some(range) = state.table_functions().get("range") {
        let inner = range.function().clone();
        state.register_udtf("range", Arc::new(SparkRange(inner)));
    }
    Ok(SessionContext::new_with_state(state))
}

/// Mirrors the Spark settings DataFusion acts on into its options: ANSI mode,
/// `spark.sql.autoBroadcastJoinThreshold` as the size under which a join side is collected
/// and broadcast (`-1`: never), and `spark.sql.shuffle.partitions` as the number of
/// partitions after a shuffle, capped at the cores (Spark's adaptive execution likewise
/// coalesces the default 200 down to what the data needs), the adaptive skew join switches,
/// Delta's auto compaction, and Spate's own
/// `spark.spate.aggregate.splitDistinct` and `spark.spate.window.sliding`, and
/// `spark.sql.optimizer.windowGroupLimitThreshold`.
pub fn apply_engine_options(opts: &mut datafusion::config::ConfigOptions, config: &SessionConfig) {
    opts.execution.enable_ansi_mode = config.ansi();
    // DataFusion 55's leaf-expression pushdown moves `a['x']` below a projection that
    // redefines `a` and reads the old column (`withColumn('a', struct(...)).select('a.x')`
    // fails with "Field x not found in struct"); off until DataFusion fixes it
    opts.optimizer.enable_leaf_expression_pushdown = false;
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    opts.execution.target_partitions = config.shuffle_partitions().clamp(1, cores);
    let threshold = config.broadcast_threshold();
    opts.optimizer.hash_join_single_partition_threshold = usize::try_from(threshold).unwrap_or(0);
    if threshold < 0 {
        opts.optimizer.hash_join_single_partition_threshold_rows = 0;
    } else {
        opts.optimizer.hash_join_single_partition_threshold_rows = 128 * 1024;
    }
    if let Some(spate) = opts.extensions.get_mut::<crate::options::SpateOptions>() {
        spate.split_distinct = config
            .get_bool("spark.spate.aggregate.splitDistinct")
            .unwrap_or(true);
        spate.sliding_window = config
            .get_bool("spark.spate.window.sliding")
            .unwrap_or(true);
        // -1 (off) is None
        spate.window_group_limit = config
            .get("spark.sql.optimizer.windowGroupLimitThreshold")
            .and_then(|v| v.trim().parse::<i64>().ok())
            .map_or(Some(1000), |v| usize::try_from(v).ok());
        spate.skew_join = config
            .get_bool("spark.sql.adaptive.enabled")
            .unwrap_or(true)
            && config
                .get_bool("spark.sql.adaptive.skewJoin.enabled")
                .unwrap_or(true);
        spate.skew_join_threshold = config
            .get("spark.sql.adaptive.skewJoin.skewedPartitionThresholdInBytes")
            .and_then(|v| spate_common::config::parse_bytes(&v))
            .map_or(crate::options::SKEW_THRESHOLD, |v| {
                usize::try_from(v).unwrap_or(0)
            });
        spate.skew_join_factor = config
            .get("spark.sql.adaptive.skewJoin.skewedPartitionFactor")
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|f| *f >= 0.0)
            .unwrap_or(crate::options::SKEW_FACTOR);
        spate.ignore_corrupt_files = config
            .get_bool("spark.sql.files.ignoreCorruptFiles")
            .unwrap_or(false);
        spate.delta_auto_compact = config.get_bool("spark.databricks.delta.autoCompact.enabled");
        spate.delta_auto_compact_min_files = config
            .get("spark.databricks.delta.autoCompact.minNumFiles")
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(50);
        spate.delta_auto_compact_max_file_size = config
            .get("spark.databricks.delta.autoCompact.maxFileSize")
            .and_then(|v| spate_common::config::parse_bytes(&v))
            .and_then(|v| u64::try_from(v).ok())
            .unwrap_or(128 * 1024 * 1024);
    }
}

/// Spark's `range(end)` / `range(start, end[, step[, numPartitions]])` table function:
/// DataFusion's `range`, with its column named `id` as Spark names it; `numPartitions` deals
/// the rows out as `repartition(n)` does.
#[derive(Debug)]
struct SparkRange(Arc<dyn TableFunctionImpl>);

impl TableFunctionImpl for SparkRange {
    fn call_with_args(
        &self,
        args: TableFunctionArgs,
    ) -> datafusion::error::Result<Arc<dyn TableProvider>> {
        let exprs = args.exprs();
        let partitions = match exprs.get(3) {
            Some(Expr::Literal(v, _)) => match v.cast_to(&DataType::Int64)? {
                ScalarValue::Int64(Some(n)) if n > 0 => Some(n as usize),
                _ => {
                    return Err(datafusion::error::DataFusionError::Plan(format!(
                        "range: numPartitions must be a positive number, got {v}"
                    )));
                }
            },
            _ => None,
        };
        let exprs = if exprs.len() == 4 { &exprs[..3] } else { exprs };
        let inner = self
            .0
            .call_with_args(TableFunctionArgs::new(exprs, args.session()))?;
        let mut plan = LogicalPlanBuilder::scan("range", provider_as_source(inner), None)?
            .project(vec![col("value").alias("id")])?;
        if let Some(n) = partitions {
            plan = plan.repartition(datafusion::logical_expr::Partitioning::RoundRobinBatch(n))?;
        }
        let plan = plan.build()?;
        Ok(Arc::new(ViewTable::new(plan, None)))
    }
}

/// The session time zone as SQL text's `timestamp` type sees it; [`set_time_zone`] keeps it
/// in step with `spark.sql.session.timeZone`.
#[derive(Debug)]
pub struct SessionTimeZone(RwLock<String>);

/// Records a new session time zone in the context (DataFusion's option and SQL types).
pub fn set_time_zone(state: &mut datafusion::execution::SessionState, tz: &str) {
    state.config_mut().options_mut().execution.time_zone = Some(tz.to_string());
    if let Some(zone) = state.config().get_extension::<SessionTimeZone>()
        && let Ok(mut current) = zone.0.write()
    {
        *current = tz.to_string();
    }
}

/// Reads SQL text's type names as Spark does, through the same parser as DDL schemas.
#[derive(Debug)]
struct SparkTypePlanner {
    time_zone: Arc<SessionTimeZone>,
}

impl TypePlanner for SparkTypePlanner {
    fn plan_type_field(
        &self,
        sql_type: &ast::DataType,
    ) -> datafusion::error::Result<Option<datafusion::arrow::datatypes::FieldRef>> {
        let text = sql_type.to_string();
        let tz = self
            .time_zone
            .0
            .read()
            .map(|t| t.clone())
            .unwrap_or_else(|_| "UTC".into());
        Ok(match crate::type_parser::parse_data_type(&text, &tz) {
            // a field list reads as a struct only when the text says struct
            Ok(DataType::Struct(_)) if !text.to_ascii_lowercase().starts_with("struct") => None,
            Ok(t) => Some(Arc::new(datafusion::arrow::datatypes::Field::new(
                "", t, true,
            ))),
            Err(_) => None,
        })
    }
}
