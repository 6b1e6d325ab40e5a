//! Spate's exactly-once Kafka sink for streaming queries (the sink option `exactlyOnce`): a
//! batch that a crash interrupted, run again from the checkpoint, does not write the records
//! its first run got to the brokers a second time.
//!
//! Before a batch writes, the sink notes in the query's checkpoint (`sinks/kafka/<batchId>`,
//! a metadata log kept by spate-stream's sink) where each partition of its output topics
//! ends ([`StreamWriter::output_ends`]); each record it
//! writes carries the headers `spate.query` (the query id) and `spate.batch` (the batch id).
//! When a batch runs again and finds its note, it reads its output partitions from the noted
//! offsets, counts the records of this query and batch that are there (by their topic, key,
//! value and headers), and sends only the rest. A run again reads the same input offsets, so
//! it makes the same records (in any order): every record reaches the topic exactly once, and
//! readers see it once whatever their isolation level.
//!
//! Kafka transactions would give the same to `read_committed` readers only, and the test
//! broker here (tansu 0.6.0) has none (no EndTxn in its ApiVersions).

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Schema};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Headers, Message};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use spate_common::{Error, Result};

use crate::client::{OffsetClient, consumer_config, kafka_error};
use crate::offsets::{PartitionOffsets, TopicPartition};
use crate::options::{SinkOptions, Subscription};
use crate::write::{BATCH_HEADER, KafkaWriter, QUERY_HEADER, identity};

/// How long a read of the sink's own output may wait for records.
const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// The topics a batch writes to: the `topic` option's, or the `topic` column's values.
fn topics_of(options: &SinkOptions, batches: &[RecordBatch]) -> Result<Vec<String>> {
    if let Some(t) = &options.topic {
        return Ok(vec![t.clone()]);
    }
    let mut topics = Vec::new();
    for batch in batches {
        if let Some(col) = batch.column_by_name("topic") {
            let col = cast(col, &DataType::Utf8)?;
            for t in col.as_string::<i32>().iter().flatten() {
                if !topics.iter().any(|x: &String| x == t) {
                    topics.push(t.to_string());
                }
            }
        }
    }
    Ok(topics)
}

/// The records of `query`'s batch `batch` already in the partitions from `from`: how many of
/// each identity.
fn already_written(
    options: &SinkOptions,
    from: &PartitionOffsets,
    query: &str,
    batch: &str,
) -> Result<HashMap<u64, usize>> {
    let group = format!("spate-sink-{query}");
    let mut found = HashMap::new();
    let mut by_topic: BTreeMap<&str, Vec<(i32, i64)>> = BTreeMap::new();
    for (tp, o) in from {
        by_topic
            .entry(tp.topic.as_str())
            .or_default()
            .push((tp.partition, *o));
    }
    for (topic, partitions) in by_topic {
        let consumer: BaseConsumer = consumer_config(&options.client, &group)
            .create()
            .map_err(|e| kafka_error("Failed to construct kafka consumer", &e))?;
        let mut list = TopicPartitionList::new();
        for (p, o) in &partitions {
            list.add_partition_offset(topic, *p, Offset::Offset(*o))
                .map_err(|e| kafka_error("Bad offset", &e))?;
        }
        consumer
            .assign(&list)
            .map_err(|e| kafka_error("Failed to read the sink's output", &e))?;
        let mut open: Vec<i32> = partitions.iter().map(|(p, _)| *p).collect();
        let started = Instant::now();
        while !open.is_empty() {
            if started.elapsed() > READ_TIMEOUT {
                return Err(Error::Runtime {
                    exception: "java.util.concurrent.TimeoutException",
                    class: "KAFKA_POLL_TIMEOUT".into(),
                    message: format!(
                        "the exactly-once Kafka sink could not read its output in {topic} within \
                         {} s",
                        READ_TIMEOUT.as_secs()
                    ),
                });
            }
            match consumer.poll(Duration::from_millis(100)) {
                None => {}
                Some(Err(KafkaError::PartitionEOF(p))) => open.retain(|x| *x != p),
                Some(Err(e)) => return Err(kafka_error("Failed to read the sink's output", &e)),
                Some(Ok(m)) => {
                    let headers: Vec<(&str, Option<&[u8]>)> = m
                        .headers()
                        .map(|h| h.iter().map(|h| (h.key, h.value)).collect())
                        .unwrap_or_default();
                    let ours = headers
                        .iter()
                        .any(|(k, v)| *k == QUERY_HEADER && *v == Some(query.as_bytes()))
                        && headers
                            .iter()
                            .any(|(k, v)| *k == BATCH_HEADER && *v == Some(batch.as_bytes()));
                    if ours {
                        let id = identity(m.topic(), m.key(), m.payload(), &headers);
                        *found.entry(id).or_insert(0) += 1;
                    }
                }
            }
        }
    }
    Ok(found)
}

/// A streaming query's Kafka writer, kept from batch to batch (its producer and its client for
/// offsets start once).
pub struct StreamWriter {
    options: SinkOptions,
    base: KafkaWriter,
    client: OffsetClient,
    query_id: String,
}

impl std::fmt::Debug for StreamWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamWriter")
            .field("query_id", &self.query_id)
            .finish_non_exhaustive()
    }
}

impl StreamWriter {
    /// The writer of query `query_id`'s rows of `schema`. Blocks.
    pub fn open(options: &SinkOptions, schema: &Schema, query_id: &str) -> Result<Self> {
        Ok(Self {
            base: KafkaWriter::open(options, schema)?,
            client: OffsetClient::connect(&options.client, &format!("spate-sink-{query_id}"))?,
            options: options.clone(),
            query_id: query_id.to_string(),
        })
    }

    /// The at-least-once writer (Spark's): send, then [`KafkaWriter::finish`].
    pub fn plain(&self) -> &KafkaWriter {
        &self.base
    }

    /// Where each partition of the topics `batches` write to ends now: what a batch notes
    /// before it writes. Blocks.
    pub fn output_ends(&self, batches: &[RecordBatch]) -> Result<PartitionOffsets> {
        let topics = topics_of(&self.options, batches)?;
        let partitions = self.client.partitions(&Subscription::Topics(topics))?;
        Ok(self
            .client
            .watermarks(&partitions)?
            .into_iter()
            .map(|(tp, (_, high)): (TopicPartition, _)| (tp, high))
            .collect())
    }

    /// Writes batch `batch_id` exactly once (see the module's notes): `noted` is what an
    /// earlier run of the batch noted (its output's ends), when there was one. Returns how many
    /// records this run sent. Blocks.
    pub fn write_once(
        &self,
        batch_id: u64,
        batches: &[RecordBatch],
        noted: Option<&PartitionOffsets>,
    ) -> Result<u64> {
        let batch = batch_id.to_string();
        let skip = match noted {
            Some(from) => already_written(&self.options, from, &self.query_id, &batch)?,
            None => HashMap::new(),
        };
        let writer = self.base.for_batch(
            vec![
                (QUERY_HEADER.into(), self.query_id.as_bytes().to_vec()),
                (BATCH_HEADER.into(), batch.into_bytes()),
            ],
            skip,
        );
        let mut n = 0;
        for b in batches {
            n += writer.send(b)?;
        }
        writer.finish()?;
        Ok(n)
    }
}
