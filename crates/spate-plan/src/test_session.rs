//! Sessions for the tests of Spate's physical optimizer rules: DataFusion's own rules with one
//! of ours inserted beside a named one, and a query's plan and its first two `bigint` columns
//! as sorted pairs, to compare with values computed in the test.

use std::sync::Arc;

use datafusion::arrow::array::AsArray;
use datafusion::arrow::datatypes::Int64Type;
use datafusion::error::Result as DfResult;
use datafusion::execution::SessionStateBuilder;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_optimizer::optimizer::PhysicalOptimizer;
use datafusion::physical_plan::displayable;
use datafusion::prelude::{SessionConfig, SessionContext};

/// Where `rule` goes among DataFusion's rules.
pub(crate) enum Place {
    Before(&'static str),
    After(&'static str),
}

/// A session with `config` and DataFusion's physical optimizer with `rule` at `place`.
pub(crate) fn with_rule(
    config: SessionConfig,
    rule: Arc<dyn PhysicalOptimizerRule + Send + Sync>,
    place: Place,
) -> SessionContext {
    let mut rules = Vec::new();
    for existing in PhysicalOptimizer::new().rules {
        let name = existing.name().to_string();
        if matches!(place, Place::Before(n) if n == name) {
            rules.push(Arc::clone(&rule));
        }
        rules.push(existing);
        if matches!(place, Place::After(n) if n == name) {
            rules.push(Arc::clone(&rule));
        }
    }
    let state = SessionStateBuilder::new()
        .with_config(config)
        .with_default_features()
        .with_physical_optimizer_rules(rules)
        .build();
    SessionContext::new_with_state(state)
}

/// The physical plan of `sql` as shown, and its first two columns (`bigint`, not null) as
/// sorted pairs.
pub(crate) async fn plan_and_pairs(
    ctx: &SessionContext,
    sql: &str,
) -> DfResult<(String, Vec<(i64, i64)>)> {
    let df = ctx.sql(sql).await?;
    let plan = df.clone().create_physical_plan().await?;
    let shown = displayable(plan.as_ref()).indent(true).to_string();
    let mut rows = Vec::new();
    for b in df.collect().await? {
        let (a, b2) = (
            b.column(0).as_primitive::<Int64Type>(),
            b.column(1).as_primitive::<Int64Type>(),
        );
        rows.extend((0..b.num_rows()).map(|i| (a.value(i), b2.value(i))));
    }
    rows.sort();
    Ok((shown, rows))
}
