//! Planning a select list that holds a generator (`explode`, `posexplode`, `inline`, `stack`;
//! see `crate::functions::generator`), for the DataFrame API and SQL text alike: as Spark's
//! `Generate` operator, the input rows are unnested — the generator's array (a map's entries)
//! added as a column and unnested with DataFusion's `Unnest`, dropping the rows whose array is
//! null or empty, or keeping one row of nulls for them in the `_outer` forms — and the select
//! list is then evaluated over the generated rows, the generator's item becoming its output
//! columns. Spark allows one generator per select list, at the top of an item.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::common::{Column, NullHandling, UnnestOptions};
use datafusion::functions::core::expr_fn::get_field;
use datafusion::functions_nested::expr_fn::{cardinality, map_entries, range};
use datafusion::logical_expr::{
    Expr, ExprSchemable, LogicalPlan, LogicalPlanBuilder, cast, lit, when,
};
use datafusion::scalar::ScalarValue;
use spate_common::{Error, Result};

use crate::functions::generator::{Generator, GeneratorKind, generator_of};

/// The column holding the generator's array, unnested to its elements.
const VALUES: &str = "__spate_generated";
/// The column holding the elements' positions, for `posexplode`.
const POSITIONS: &str = "__spate_position";

/// `items` (expressions and output names) over `input` with their generators planned: the
/// plan the items are then evaluated over and the items with each generator's replaced by its
/// output columns. Several generators in one list multiply, row by row, as in Spark 4.
/// Unchanged when no item holds a generator.
pub fn plan_generators(
    input: LogicalPlan,
    items: Vec<(Expr, String)>,
) -> Result<(LogicalPlan, Vec<(Expr, String)>)> {
    for (e, name) in &items {
        let mut count = 0;
        e.apply(|x| {
            if is_generator(x) {
                count += 1;
            }
            Ok(TreeNodeRecursion::Continue)
        })?;
        if count > usize::from(generator_of(e).is_some()) {
            return Err(Error::Analysis {
                class: "UNSUPPORTED_GENERATOR.NESTED_IN_EXPRESSIONS".into(),
                message: format!(
                    "The generator is not supported: nested in expressions \"{name}\"."
                ),
                params: vec![("expression".into(), format!("\"{name}\""))],
            });
        }
    }
    let mut plan = input;
    let mut items = items;
    let mut step = 0;
    while let Some(index) = items.iter().position(|(e, _)| generator_of(e).is_some()) {
        (plan, items) = generate_one(plan, items, index, step)?;
        step += 1;
    }
    Ok((plan, items))
}

/// Plans the generator of item `index` (the `step`th of its list): its input unnested beside
/// the input's columns, the item replaced by the generated columns.
fn generate_one(
    input: LogicalPlan,
    mut items: Vec<(Expr, String)>,
    index: usize,
    step: usize,
) -> Result<(LogicalPlan, Vec<(Expr, String)>)> {
    let Some((generator, arg)) = generator_of(&items[index].0) else {
        return Err(Error::internal("generator vanished"));
    };
    let values = format!("{VALUES}_{step}");
    let positions = format!("{POSITIONS}_{step}");
    let input_type = arg.get_type(input.schema())?;
    let names = generator.output_names(&input_type)?;
    let is_map = matches!(input_type, DataType::Map(..));
    let list = if is_map {
        map_entries(arg.clone())
    } else {
        arg.clone()
    };

    let mut prepared: Vec<Expr> = input
        .schema()
        .columns()
        .into_iter()
        .map(Expr::Column)
        .collect();
    prepared.push(list.clone().alias(&values));
    let mut unnested = vec![Column::from_name(&values)];
    if generator.kind == GeneratorKind::PosExplode {
        let length = cast(cardinality(list), DataType::Int64);
        prepared.push(range(lit(0i64), length, lit(1i64)).alias(&positions));
        unnested.push(Column::from_name(&positions));
    }
    let null_handling = if generator.outer {
        NullHandling::PreserveAndExpandEmpty
    } else {
        NullHandling::Drop
    };
    let plan = LogicalPlanBuilder::from(input)
        .project(prepared)?
        .unnest_columns_with_options(
            unnested,
            UnnestOptions::new().with_null_handling(null_handling),
        )?
        .build()?;

    let value = Expr::Column(Column::from_name(&values));
    let mut outputs = Vec::new();
    if generator.kind == GeneratorKind::PosExplode {
        outputs.push(cast(
            Expr::Column(Column::from_name(&positions)),
            DataType::Int32,
        ));
    }
    match generator.kind {
        GeneratorKind::Inline => {
            // a null struct gives a row of nulls (its fields' slots hold arbitrary values)
            for (field, t) in generator.outputs(&input_type)? {
                let null = lit(ScalarValue::try_from(&t)?);
                outputs.push(
                    when(value.clone().is_null(), null)
                        .otherwise(get_field(value.clone(), field))?,
                );
            }
        }
        _ if is_map => {
            outputs.push(get_field(value.clone(), "key"));
            outputs.push(get_field(value, "value"));
        }
        _ => outputs.push(value),
    }
    let generated: Vec<(Expr, String)> = outputs.into_iter().zip(names).collect();
    items.splice(index..=index, generated);
    Ok((plan, items))
}

/// Whether `e` itself is a generator call.
fn is_generator(e: &Expr) -> bool {
    matches!(e, Expr::ScalarFunction(f) if (f.func.inner().as_ref() as &dyn std::any::Any).is::<Generator>())
}

/// Output columns that SQL planning renamed: a projection's unaliased generator call, planned
/// as one column named after the call, became the generator's output columns (`col`, or `pos`
/// and `col`, ...). The nodes above it, planned against the one column, are pointed at the new
/// ones: a projection item that was the column becomes all of them.
pub type Expanded = std::collections::HashMap<String, Vec<String>>;

/// Which items of a projection DataFusion planned from SQL text are generator calls without
/// an alias (still placeholders: see `crate::sql_functions`), before their replacement names
/// them all.
pub fn unaliased_sql_generators(plan: &LogicalPlan) -> Vec<bool> {
    match plan {
        LogicalPlan::Projection(p) => p
            .expr
            .iter()
            .map(|e| {
                matches!(e, Expr::ScalarFunction(f)
                    if crate::functions::generator::is_generator_name(f.func.name()))
            })
            .collect(),
        _ => vec![],
    }
}

/// A projection DataFusion planned from SQL text, with its generator planned (see
/// [`plan_generators`]), the columns of each generator call that had no alias (`unaliased`,
/// per item) recorded in `expanded`. `None` when it holds no generator.
pub fn sql_projection(
    p: &datafusion::logical_expr::Projection,
    unaliased: &[bool],
    expanded: &mut Expanded,
) -> Result<Option<LogicalPlan>> {
    let holds = |e: &Expr| e.exists(|x| Ok(is_generator(x))).unwrap_or(false);
    if !p.expr.iter().any(holds) {
        return Ok(None);
    }
    // per item: how many columns it becomes, and the name it was planned with if that
    // name is to be expanded (an unaliased generator)
    let mut widths = Vec::with_capacity(p.expr.len());
    let mut items = Vec::with_capacity(p.expr.len());
    for (i, (e, field)) in p.expr.iter().zip(p.schema.fields()).enumerate() {
        let mut width = (1, None);
        let item = match (e, generator_of(e)) {
            (_, Some((g, arg))) if unaliased.get(i).copied().unwrap_or(false) => {
                let t = arg.get_type(p.input.schema())?;
                width = (g.outputs(&t)?.len(), Some(field.name().clone()));
                e.clone().unalias()
            }
            (Expr::Alias(a), Some(_)) => {
                crate::functions::generator::with_aliases(&a.expr, std::slice::from_ref(&a.name))
                    .unwrap_or_else(|| e.clone())
            }
            _ => e.clone(),
        };
        widths.push(width);
        items.push((item, field.name().clone()));
    }
    let (plan, items) = plan_generators(p.input.as_ref().clone(), items)?;
    let mut at = 0;
    for (width, old) in widths {
        if let Some(old) = old {
            let names = items[at..at + width]
                .iter()
                .map(|(_, n)| n.clone())
                .collect();
            expanded.insert(old, names);
        }
        at += width;
    }
    // columns that keep their name keep their qualifier too, for the nodes above
    let exprs: Vec<Expr> = items
        .into_iter()
        .map(|(e, n)| match e {
            Expr::Column(c) if c.name == n => Expr::Column(c),
            e => e.alias(n),
        })
        .collect();
    Ok(Some(
        LogicalPlanBuilder::from(plan).project(exprs)?.build()?,
    ))
}

/// A projection's items with each reference to a column in `expanded` (see [`Expanded`])
/// replaced by the columns it became; `None` when it refers to none of them.
pub fn expand_references(exprs: &[Expr], expanded: &Expanded) -> Option<Vec<Expr>> {
    let renamed = |e: &Expr| match e {
        Expr::Column(c) => expanded.get(&c.name),
        Expr::Alias(a) => match a.expr.as_ref() {
            Expr::Column(c) => expanded.get(&c.name),
            _ => None,
        },
        _ => None,
    };
    if !exprs.iter().any(|e| renamed(e).is_some()) {
        return None;
    }
    let mut out = Vec::with_capacity(exprs.len());
    for e in exprs {
        match renamed(e) {
            Some(names) => out.extend(
                names
                    .iter()
                    .map(|n| Expr::Column(Column::from_name(n.as_str()))),
            ),
            None => out.push(e.clone()),
        }
    }
    Some(out)
}
