//! The resolver: Spark Connect relations to DataFusion logical plans, one file per family of
//! relation kinds. Resolution is async because reading a data source lists files and infers
//! schemas, and `ShowString` runs its input.
//!
//! Plan ids: every relation PySpark sends carries a plan id, and `df["col"]` references carry
//! the id of `df`. The resolver records, per plan id, the output columns of each place that
//! DataFrame appears in the plan being built ("instances"). When the right side of a join
//! repeats columns of the left (a self-join), it is re-qualified under a fresh alias and the
//! instances of every DataFrame inside it are copied under that alias, so a plan-id reference
//! finds two candidates and fails with `AMBIGUOUS_REFERENCE`, as Spark does.

mod aggregate;
mod basic;
pub mod expression;
mod fields;
mod input_order;
mod join;
mod lambda;
mod local;
mod na;
mod parse;
mod partition;
mod read;
mod set_op;
mod show;
mod stats;
mod subquery;
mod transpose;
mod unpivot;

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use datafusion::common::{Column, DFSchema, SchemaError, TableReference};
use datafusion::error::DataFusionError;
use datafusion::execution::SessionState;
use datafusion::logical_expr::expr::AggregateFunction;
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder};
use futures::future::BoxFuture;
use spark_connect_proto::spark::connect::relation::RelType;
use spark_connect_proto::spark::connect::{Relation, RelationCommon};
use spate_common::{Error, Result, SessionConfig};

pub use local::CachedBlobs;
pub use read::{ReadRequest, Sources, TableSpec};

/// Resolves the relations of one request.
pub struct Resolver<'a> {
    pub(crate) state: &'a SessionState,
    pub(crate) sources: &'a dyn Sources,
    pub(crate) config: &'a SessionConfig,
    pub(crate) tz: String,
    cache: Option<&'a crate::cache::RelationCache>,
    fill_cache: bool,
    blobs: Option<&'a dyn CachedBlobs>,
    pub(crate) ansi: bool,
    /// `spark.sql.mapKeyDedupPolicy` is `LAST_WIN`.
    pub(crate) map_last_win: bool,
    plan_ids: Mutex<HashMap<i64, Vec<Vec<Column>>>>,
    /// Lambda variables in scope while a lambda body is resolved, innermost last.
    lambda_scope: Mutex<Vec<(String, datafusion::arrow::datatypes::FieldRef)>>,
    /// The relations a `WithRelations` root's subquery expressions name, by plan id.
    references: Mutex<HashMap<i64, Relation>>,
    /// The inputs of the queries a subquery being resolved sits in, innermost last.
    outer_scopes: Mutex<Vec<DFSchema>>,
    counter: AtomicUsize,
}

impl<'a> Resolver<'a> {
    /// A resolver over a session's state, sources and configuration.
    pub fn new(
        state: &'a SessionState,
        sources: &'a dyn Sources,
        config: &'a SessionConfig,
    ) -> Self {
        Self {
            state,
            sources,
            config,
            tz: config.time_zone(),
            cache: None,
            fill_cache: false,
            blobs: None,
            ansi: config.ansi(),
            map_last_win: config.map_key_last_win(),
            plan_ids: Mutex::new(HashMap::new()),
            lambda_scope: Mutex::new(Vec::new()),
            references: Mutex::new(HashMap::new()),
            outer_scopes: Mutex::new(Vec::new()),
            counter: AtomicUsize::new(0),
        }
    }

    /// Uses the session's cached relations; with `fill`, a persisted relation not computed yet
    /// is computed and kept (to run a query), otherwise it is planned as usual (to analyze one).
    pub fn with_cache(mut self, cache: &'a crate::cache::RelationCache, fill: bool) -> Self {
        self.cache = Some(cache);
        self.fill_cache = fill;
        self
    }

    /// Reads cached local relations from `blobs` (the session's uploaded artifacts).
    pub fn with_blobs(mut self, blobs: &'a dyn CachedBlobs) -> Self {
        self.blobs = Some(blobs);
        self
    }

    /// The subquery relations of this request (see `subquery.rs`).
    fn references(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Relation>> {
        self.references
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs `f` with `schema` as the innermost outer scope (a subquery's resolution).
    fn in_outer_scope<T>(&self, schema: &DFSchema, f: impl FnOnce() -> T) -> T {
        self.outer_scopes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(schema.clone());
        let out = f();
        self.outer_scopes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop();
        out
    }

    /// The outer scopes, innermost first.
    fn outer_scopes(&self) -> Vec<DFSchema> {
        let scopes = self
            .outer_scopes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        scopes.iter().rev().cloned().collect()
    }

    /// The session's DataFusion state.
    pub fn state(&self) -> &SessionState {
        self.state
    }

    /// The session time zone.
    pub fn time_zone(&self) -> &str {
        &self.tz
    }

    /// The session's Spark settings.
    pub fn config(&self) -> &SessionConfig {
        self.config
    }

    /// Resolves a relation to a logical plan.
    pub fn relation<'b>(&'b self, rel: &'b Relation) -> BoxFuture<'b, Result<LogicalPlan>> {
        Box::pin(async move {
            let Relation { common, rel_type } = rel;
            let rt = rel_type
                .as_ref()
                .ok_or_else(|| Error::internal("relation without a kind"))?;
            let plan = match self.cache.and_then(|c| c.lookup(rel)) {
                Some(entry) => Box::pin(self.cached(rt, &entry)).await?,
                None => self.dispatch(rt).await?,
            };
            if let Some(RelationCommon {
                plan_id: Some(id), ..
            }) = common
            {
                self.record(*id, plan.schema());
            }
            Ok(plan)
        })
    }

    /// The future that resolves one relation kind. Not an `async fn`: as one state machine its
    /// poll frame holds every arm's locals (84 KB a level in a debug build, so a chain of 300
    /// `withColumn` calls overflowed a 32 MiB stack); boxed arm by arm, a level costs its arm.
    fn dispatch<'b>(&'b self, rt: &'b RelType) -> BoxFuture<'b, Result<LogicalPlan>> {
        match rt {
            RelType::Read(r) => Box::pin(self.read(r)),
            RelType::Project(p) => Box::pin(self.project(p)),
            RelType::Filter(f) => Box::pin(self.filter(f)),
            RelType::Sort(s) => Box::pin(self.sort_relation(s)),
            RelType::Limit(l) => Box::pin(self.limit(l)),
            RelType::Offset(o) => Box::pin(self.offset(o)),
            RelType::Tail(t) => Box::pin(self.tail(t)),
            RelType::Aggregate(a) => Box::pin(self.aggregate(a)),
            RelType::Join(j) => Box::pin(self.join(j)),
            RelType::SetOp(s) => Box::pin(self.set_op(s)),
            RelType::Deduplicate(d) => Box::pin(self.deduplicate(d)),
            RelType::LocalRelation(l) => Box::pin(std::future::ready(self.local_relation(l))),
            RelType::CachedLocalRelation(c) => {
                Box::pin(std::future::ready(self.cached_local_relation(c)))
            }
            RelType::ChunkedCachedLocalRelation(c) => {
                Box::pin(std::future::ready(self.chunked_cached_local_relation(c)))
            }
            RelType::Range(r) => Box::pin(self.range(r)),
            RelType::Sql(s) => Box::pin(self.sql_relation(s)),
            RelType::SubqueryAlias(s) => Box::pin(self.subquery_alias(s)),
            RelType::Repartition(r) => Box::pin(self.repartition(r)),
            RelType::RepartitionByExpression(r) => Box::pin(self.repartition_by_expression(r)),
            RelType::WithColumns(w) => Box::pin(self.with_columns(w)),
            RelType::WithColumnsRenamed(w) => Box::pin(self.with_columns_renamed(w)),
            RelType::Drop(d) => Box::pin(self.drop(d)),
            RelType::Unpivot(u) => Box::pin(self.unpivot(u)),
            RelType::WithRelations(w) => Box::pin(self.with_relations(w)),
            RelType::Parse(p) => Box::pin(self.parse_relation(p)),
            RelType::Transpose(t) => Box::pin(self.transpose(t)),
            RelType::ToDf(t) => Box::pin(self.to_df(t)),
            RelType::ToSchema(t) => Box::pin(self.to_schema(t)),
            RelType::ShowString(s) => Box::pin(self.show_string(s)),
            RelType::HtmlString(h) => Box::pin(self.html_string(h)),
            RelType::Hint(h) => Box::pin(self.hint(h)),
            RelType::WithWatermark(w) => Box::pin(self.with_watermark(w)),
            RelType::Sample(s) => Box::pin(self.sample(s)),
            RelType::FillNa(f) => Box::pin(self.fill_na(f)),
            RelType::DropNa(d) => Box::pin(self.drop_na(d)),
            RelType::Replace(r) => Box::pin(self.replace(r)),
            RelType::Describe(d) => Box::pin(self.describe(d)),
            RelType::Summary(s) => Box::pin(self.summary(s)),
            RelType::Crosstab(c) => Box::pin(self.crosstab(c)),
            RelType::SampleBy(s) => Box::pin(self.sample_by(s)),
            RelType::Cov(c) => Box::pin(self.stat_cov(c)),
            RelType::Corr(c) => Box::pin(self.stat_corr(c)),
            RelType::ApproxQuantile(q) => Box::pin(self.approx_quantile(q)),
            RelType::FreqItems(f) => Box::pin(self.freq_items(f)),
            RelType::Extension(any) => Box::pin(self.sources.extension(self, any)),
            // a foreachBatch batch, which the streaming query registered under this name
            RelType::CachedRemoteRelation(c) => Box::pin(async move {
                let spark_connect_proto::spark::connect::CachedRemoteRelation { relation_id } = c;
                self.sources
                    .table(
                        self.state,
                        &[crate::streaming::batch_view_name(relation_id)],
                    )
                    .await
            }),
            other => {
                let debug = format!("{other:?}");
                let kind = debug.split('(').next().unwrap_or("unknown").to_string();
                Box::pin(std::future::ready(Err(Error::unsupported(format!(
                    "relation {kind}"
                )))))
            }
        }
    }

    /// A persisted relation: computed by the first query that uses it, then scanned where its
    /// rows were kept (memory or an Arrow IPC file, see [`crate::cache`]).
    async fn cached(
        &self,
        rt: &RelType,
        entry: &std::sync::Arc<crate::cache::Entry>,
    ) -> Result<LogicalPlan> {
        use crate::cache::Stored;
        let stored = match entry.stored() {
            Some(stored) => stored,
            None if !self.fill_cache => {
                return Ok(crate::cache_scan::in_memory_relation(
                    self.dispatch(rt).await?,
                ));
            }
            None => {
                let plan = self.dispatch(rt).await?;
                let schema = std::sync::Arc::new(plan.schema().as_arrow().clone());
                let batches = self.run(plan, "cache").await?;
                let data = crate::cache::CachedData { schema, batches };
                let max_memory = self
                    .config
                    .get(crate::cache::MAX_MEMORY_KEY)
                    .and_then(|v| spate_common::config::parse_bytes(&v))
                    .map_or(usize::MAX, |b| usize::try_from(b).unwrap_or(0));
                let kept = match self.cache {
                    Some(cache) => cache.store(entry, data.clone(), max_memory)?,
                    None => None,
                };
                kept.unwrap_or(Stored::Memory(data))
            }
        };
        let name = format!(
            "InMemoryRelation_{}",
            self.counter.fetch_add(1, Ordering::Relaxed)
        );
        let scan = match stored {
            Stored::Memory(data) => self.named_memory_plan(&name, data.schema, data.batches)?,
            Stored::Disk { schema, path } => self.arrow_file_plan(&name, schema, &path).await?,
        };
        Ok(crate::cache_scan::in_memory_relation(scan))
    }

    /// A scan of an Arrow IPC file of cached rows.
    async fn arrow_file_plan(
        &self,
        name: &str,
        schema: datafusion::arrow::datatypes::SchemaRef,
        path: &std::path::Path,
    ) -> Result<LogicalPlan> {
        use datafusion::datasource::file_format::arrow::ArrowFormat;
        use datafusion::datasource::listing::{
            ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
        };
        let url = ListingTableUrl::parse(path.display().to_string())?;
        let options =
            ListingOptions::new(std::sync::Arc::new(ArrowFormat)).with_file_extension(".arrow");
        let config = ListingTableConfig::new(url)
            .with_listing_options(options)
            .with_schema(schema);
        let table = ListingTable::try_new(config)?;
        Ok(datafusion::logical_expr::LogicalPlanBuilder::scan(
            name,
            datafusion::datasource::provider_as_source(std::sync::Arc::new(table)),
            None,
        )?
        .build()?)
    }

    /// Resolves a required input relation.
    pub(crate) async fn input(&self, rel: &Option<Box<Relation>>) -> Result<LogicalPlan> {
        let rel = rel
            .as_deref()
            .ok_or_else(|| Error::internal("relation input is missing"))?;
        self.relation(rel).await
    }

    fn record(&self, id: i64, schema: &DFSchema) {
        let columns = schema.columns();
        if let Ok(mut ids) = self.plan_ids.lock() {
            let instances = ids.entry(id).or_default();
            if !instances.contains(&columns) {
                instances.push(columns);
            }
        }
    }

    pub(crate) fn plan_columns(&self, id: i64) -> Vec<Vec<Column>> {
        self.plan_ids
            .lock()
            .map(|ids| ids.get(&id).cloned().unwrap_or_default())
            .unwrap_or_default()
    }

    /// A call of the registered aggregate `name`.
    pub(crate) fn aggregate_call(
        &self,
        name: &str,
        args: Vec<Expr>,
        filter: Option<Expr>,
    ) -> Result<Expr> {
        self.aggregate_call_with(name, args, false, filter)
    }

    /// A call of the registered aggregate `name`, optionally `DISTINCT`.
    pub(crate) fn aggregate_call_with(
        &self,
        name: &str,
        args: Vec<Expr>,
        distinct: bool,
        filter: Option<Expr>,
    ) -> Result<Expr> {
        let udaf = self
            .state
            .aggregate_functions()
            .get(name)
            .cloned()
            .ok_or_else(|| crate::functions::unresolved_routine(name))?;
        Ok(Expr::AggregateFunction(AggregateFunction::new_udf(
            udaf,
            args,
            distinct,
            filter.map(Box::new),
            vec![],
            None,
        )))
    }

    /// A call of the registered scalar function `name`.
    pub(crate) fn scalar_call(&self, name: &str, args: Vec<Expr>) -> Result<Expr> {
        let udf = self
            .state
            .scalar_functions()
            .get(name)
            .cloned()
            .ok_or_else(|| crate::functions::unresolved_routine(name))?;
        Ok(udf.call(args))
    }

    /// A fresh relation alias.
    pub(crate) fn fresh_alias(&self) -> String {
        format!("__spate_{}", self.counter.fetch_add(1, Ordering::Relaxed))
    }

    /// Re-qualifies `plan` under a fresh alias, copying the plan-id instances it contains.
    pub(crate) fn realias(&self, plan: LogicalPlan) -> Result<LogicalPlan> {
        let alias = self.fresh_alias();
        let before = plan.schema().columns();
        let plan = LogicalPlanBuilder::from(plan)
            .alias(alias.as_str())?
            .build()?;
        if let Ok(mut ids) = self.plan_ids.lock() {
            for instances in ids.values_mut() {
                let mut added = Vec::new();
                for inst in instances.iter() {
                    if !inst.is_empty() && inst.iter().all(|c| before.contains(c)) {
                        added.push(
                            inst.iter()
                                .map(|c| {
                                    Column::new(
                                        Some(TableReference::bare(alias.as_str())),
                                        c.name.clone(),
                                    )
                                })
                                .collect::<Vec<_>>(),
                        );
                    }
                }
                instances.extend(added);
            }
        }
        Ok(plan)
    }
}

/// A projection of `exprs` over `plan`, built directly rather than through DataFusion's
/// builder: the builder normalizes each column against the whole plan, walking every node and
/// expression below it once per column — quadratic per projection and quartic over a chain of
/// `withColumn` calls (400 of them took minutes). The resolver's columns are resolved already;
/// the projection still checks them against its input's schema.
pub(crate) fn project(plan: LogicalPlan, exprs: Vec<Expr>) -> Result<LogicalPlan> {
    Ok(LogicalPlan::Projection(
        datafusion::logical_expr::Projection::try_new(exprs, std::sync::Arc::new(plan))?,
    ))
}

/// Turns a DataFusion planning error about a column into Spark's error.
pub fn column_error(e: DataFusionError, schema: &DFSchema) -> Error {
    match e.find_root() {
        DataFusionError::SchemaError(inner, _) => match inner.as_ref() {
            SchemaError::FieldNotFound { field, .. } => {
                expression::unresolved_column(&field.name, schema)
            }
            _ => Error::DataFusion(e),
        },
        _ => Error::DataFusion(e),
    }
}
