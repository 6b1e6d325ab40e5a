//! Relations that must run their input while planning: ShowString (`df.show()`, which Spark
//! Connect computes on the server as one string cell), HtmlString (the same as an HTML table,
//! for notebooks' eager evaluation) and Tail (`df.tail(n)`).

use std::sync::Arc;

use datafusion::arrow::array::{RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::logical_expr::{LogicalPlan, LogicalPlanBuilder};
use datafusion::scalar::ScalarValue;
use spark_connect_proto::spark::connect as sc;
use spate_common::{Error, Result};

use super::Resolver;
use crate::display;

impl Resolver<'_> {
    /// Runs a plan to completion through the query runner; `kind` says why (`show`, `cache`...).
    pub(crate) async fn run(&self, plan: LogicalPlan, kind: &str) -> Result<Vec<RecordBatch>> {
        spate_exec::collect(self.state, &plan, kind).await
    }

    /// The column names and the first `num_rows` (+1, to tell whether there are more) rows.
    async fn first_rows(
        &self,
        input: &Option<Box<sc::Relation>>,
        num_rows: i32,
    ) -> Result<(Vec<String>, Vec<RecordBatch>, usize)> {
        let plan = self.input(input).await?;
        let names: Vec<String> = plan
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        let n = usize::try_from(num_rows).unwrap_or(20);
        let limited = LogicalPlanBuilder::from(plan)
            .limit(0, Some(n + 1))?
            .build()?;
        Ok((names, self.run(limited, "show").await?, n))
    }

    /// Runs a plan and returns the values of its first column.
    pub(crate) async fn column_values(
        &self,
        plan: LogicalPlan,
        kind: &str,
    ) -> Result<Vec<ScalarValue>> {
        let mut out = Vec::new();
        for batch in self.run(plan, kind).await? {
            for i in 0..batch.num_rows() {
                out.push(ScalarValue::try_from_array(batch.column(0), i)?);
            }
        }
        Ok(out)
    }

    pub(super) async fn show_string(&self, s: &sc::ShowString) -> Result<LogicalPlan> {
        let sc::ShowString {
            input,
            num_rows,
            truncate,
            vertical,
        } = s;
        let (names, batches, n) = self.first_rows(input, *num_rows).await?;
        let text = display::show_string(
            &batches,
            &names,
            n,
            usize::try_from(*truncate).unwrap_or(0),
            *vertical,
            &self.tz,
        );
        self.single_string("show_string", text)
    }

    pub(super) async fn html_string(&self, h: &sc::HtmlString) -> Result<LogicalPlan> {
        let sc::HtmlString {
            input,
            num_rows,
            truncate,
        } = h;
        let (names, batches, n) = self.first_rows(input, *num_rows).await?;
        let text = display::html_string(
            &batches,
            &names,
            n,
            usize::try_from(*truncate).unwrap_or(0),
            &self.tz,
        );
        self.single_string("html_string", text)
    }

    /// A one-row, one-column string relation.
    pub(crate) fn single_string(&self, name: &str, text: String) -> Result<LogicalPlan> {
        let schema = Arc::new(Schema::new(vec![Field::new(name, DataType::Utf8, false)]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![Arc::new(StringArray::from(vec![text]))],
        )
        .map_err(|e| Error::internal(e.to_string()))?;
        self.memory_plan(schema, vec![batch])
    }

    pub(super) async fn tail(&self, t: &sc::Tail) -> Result<LogicalPlan> {
        let sc::Tail { input, limit } = t;
        let plan = self.input(input).await?;
        let schema = Arc::new(plan.schema().as_arrow().clone());
        let n = usize::try_from(*limit).map_err(|_| {
            Error::analysis(
                "INVALID_LIMIT_LIKE_EXPRESSION.IS_NEGATIVE",
                format!("the tail limit must be non-negative, got {limit}"),
            )
        })?;
        let batches = self.run(plan, "tail").await?;
        let all = datafusion::arrow::compute::concat_batches(&schema, &batches)
            .map_err(|e| Error::internal(e.to_string()))?;
        let keep = n.min(all.num_rows());
        let last = all.slice(all.num_rows() - keep, keep);
        self.memory_plan(schema, vec![last])
    }
}
