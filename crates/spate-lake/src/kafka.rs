//! Batch reads and writes of Kafka (`spark.read.format("kafka")`, `df.write.format("kafka")`),
//! with Spark's options and checks (spate-kafka). A read resolves its starting and ending
//! offsets when it is planned, as Spark's does, and reads those ranges: one partition of the
//! plan per topic partition. A write sends each batch of rows as the plan makes it and
//! returns once the brokers acknowledged every record; it appends (Spark refuses the
//! `overwrite` and `ignore` save modes for Kafka).

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::datasource::{MemTable, provider_as_source};
use datafusion::execution::SessionState;
use datafusion::logical_expr::{LogicalPlan, LogicalPlanBuilder};
use futures::StreamExt;
use spate_common::{Error, Result};
use spate_kafka::client::{OffsetClient, blocking};
use spate_kafka::read::{OffsetRange, ReadSettings, read_ranges, schema, spread};
use spate_kafka::resolve::resolve;
use spate_kafka::{SinkOptions, SourceOptions};
use spate_plan::ReadRequest;

use crate::options::{SaveMode, WriteRequest};

/// The schema of a Kafka stream with `options`, after Spark's checks of them.
pub fn stream_schema(
    options: &BTreeMap<String, String>,
) -> Result<datafusion::arrow::datatypes::SchemaRef> {
    let parsed = SourceOptions::for_stream(options)?;
    Ok(schema(parsed.include_headers))
}

/// A batch read of Kafka as a plan over the records it read, under the name `alias`.
pub async fn read(req: &ReadRequest, alias: &str) -> Result<LogicalPlan> {
    let options: BTreeMap<String, String> = req.options.clone().into_iter().collect();
    let parsed = SourceOptions::for_batch(&options)?;
    let group_id = parsed.group_id();
    let settings = ReadSettings::of(&parsed, group_id.clone());
    let (min_partitions, include_headers) = (parsed.min_partitions, parsed.include_headers);
    let batches = blocking(move || {
        let client = OffsetClient::connect(&parsed.client, &group_id)?;
        let partitions = client.partitions(&parsed.subscription)?;
        let start = resolve(
            &client,
            &parsed.starting,
            &partitions,
            parsed.no_match_latest,
            true,
        )?;
        let end = resolve(
            &client,
            &parsed.ending,
            &partitions,
            parsed.no_match_latest,
            false,
        )?;
        let mut ranges = Vec::with_capacity(end.len());
        for (tp, until) in end {
            let from = start.get(&tp).copied().unwrap_or(0);
            if from > until {
                return Err(Error::Runtime {
                    exception: "org.apache.spark.SparkException",
                    class: "RESOLVED_START_OFFSET_GREATER_THAN_END_OFFSET".into(),
                    message: format!(
                        "The resolved start offset {from} is greater than the resolved end offset \
                         {until} for topic {} partition {}.",
                        tp.topic, tp.partition
                    ),
                });
            }
            ranges.push(OffsetRange { tp, from, until });
        }
        spread(read_ranges(&settings, &ranges)?, min_partitions)
    })
    .await?;
    let schema = schema(include_headers);
    let partitions = if batches.is_empty() {
        vec![vec![]]
    } else {
        batches
    };
    let table = MemTable::try_new(schema, partitions)?;
    Ok(LogicalPlanBuilder::scan(alias, provider_as_source(Arc::new(table)), None)?.build()?)
}

/// `df.write.format("kafka").save()`: sends `plan`'s rows.
pub async fn write(state: &SessionState, plan: LogicalPlan, req: &WriteRequest) -> Result<()> {
    if matches!(req.mode, SaveMode::Overwrite | SaveMode::Ignore) {
        let mode = if req.mode == SaveMode::Overwrite {
            "Overwrite"
        } else {
            "Ignore"
        };
        return Err(Error::analysis(
            "_LEGACY_ERROR_TEMP_3081",
            format!(
                "Save mode {mode} not allowed for Kafka. Allowed save modes are Append and \
                 ErrorIfExists (default)."
            ),
        ));
    }
    let options: BTreeMap<String, String> = req.options.clone().into_iter().collect();
    let options = SinkOptions::parse(&options)?;
    let writer = Arc::new(spate_kafka::write::KafkaWriter::open(
        &options,
        plan.schema().as_arrow(),
    )?);
    let mut stream = spate_exec::runner::stream(state, &plan, "kafka write").await?;
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        let w = Arc::clone(&writer);
        blocking(move || w.send(&batch)).await?;
    }
    blocking(move || writer.finish()).await
}
