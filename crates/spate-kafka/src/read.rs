//! Reading offset ranges of partitions into Arrow with Spark's Kafka schema: `key` and `value`
//! binary, `topic` string, `partition` int, `offset` long, `timestamp` timestamp,
//! `timestampType` int (0 create time, 1 log-append time) and, with `includeHeaders`,
//! `headers` array<struct<key string, value binary>>.
//!
//! A range is read from its first offset until the offset before its end. Records before the
//! partition's earliest offset are gone (aged out, or the topic deleted): with
//! `failOnDataLoss` that fails the read with Spark's `KAFKA_DATA_LOSS`, else the range starts
//! at what is left. Offsets a range expects but the partition never shows (transaction
//! markers, compaction) end it when the consumer reaches the partition's end; a range whose
//! records do not come within `kafkaConsumer.pollTimeoutMs` fails with Spark's timeout.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use datafusion::arrow::array::{
    ArrayRef, BinaryBuilder, Int32Builder, Int64Builder, ListBuilder, RecordBatch, StringBuilder,
    StructBuilder, TimestampMicrosecondBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Headers, Message};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use spate_common::{Error, Result};

use crate::client::{OffsetClient, consumer_config, kafka_error};
use crate::offsets::TopicPartition;

/// Rows per Arrow batch a read makes.
const BATCH_ROWS: usize = 8192;

/// One partition's records from `from` up to (not including) `until`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetRange {
    /// The partition.
    pub tp: TopicPartition,
    /// The first offset read.
    pub from: i64,
    /// The offset after the last one read.
    pub until: i64,
}

fn header_fields() -> Fields {
    Fields::from(vec![
        Field::new("key", DataType::Utf8, true),
        Field::new("value", DataType::Binary, true),
    ])
}

/// Spark's schema of Kafka records (`includeHeaders`: with the `headers` column).
pub fn schema(include_headers: bool) -> SchemaRef {
    let mut fields = vec![
        Field::new("key", DataType::Binary, true),
        Field::new("value", DataType::Binary, true),
        Field::new("topic", DataType::Utf8, true),
        Field::new("partition", DataType::Int32, true),
        Field::new("offset", DataType::Int64, true),
        Field::new(
            "timestamp",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            true,
        ),
        Field::new("timestampType", DataType::Int32, true),
    ];
    if include_headers {
        fields.push(Field::new(
            "headers",
            DataType::List(Arc::new(Field::new(
                "element",
                DataType::Struct(header_fields()),
                true,
            ))),
            true,
        ));
    }
    Arc::new(Schema::new(fields))
}

/// The columns being built for one range.
struct Columns {
    schema: SchemaRef,
    key: BinaryBuilder,
    value: BinaryBuilder,
    topic: StringBuilder,
    partition: Int32Builder,
    offset: Int64Builder,
    timestamp: TimestampMicrosecondBuilder,
    timestamp_type: Int32Builder,
    headers: Option<ListBuilder<StructBuilder>>,
    rows: usize,
    done: Vec<RecordBatch>,
}

impl Columns {
    fn new(schema: &SchemaRef) -> Self {
        let headers = (schema.fields().len() > 7).then(|| {
            ListBuilder::new(StructBuilder::from_fields(header_fields(), 0)).with_field(Arc::new(
                Field::new("element", DataType::Struct(header_fields()), true),
            ))
        });
        Self {
            schema: Arc::clone(schema),
            key: BinaryBuilder::new(),
            value: BinaryBuilder::new(),
            topic: StringBuilder::new(),
            partition: Int32Builder::new(),
            offset: Int64Builder::new(),
            timestamp: TimestampMicrosecondBuilder::new().with_timezone("UTC"),
            timestamp_type: Int32Builder::new(),
            headers,
            rows: 0,
            done: Vec::new(),
        }
    }

    fn push<M: Message>(&mut self, m: &M) -> Result<()> {
        self.key.append_option(m.key());
        self.value.append_option(m.payload());
        self.topic.append_value(m.topic());
        self.partition.append_value(m.partition());
        self.offset.append_value(m.offset());
        let (millis, kind) = match m.timestamp() {
            rdkafka::Timestamp::NotAvailable => (None, -1),
            rdkafka::Timestamp::CreateTime(t) => (Some(t), 0),
            rdkafka::Timestamp::LogAppendTime(t) => (Some(t), 1),
        };
        self.timestamp.append_option(millis.map(|t| t * 1000));
        self.timestamp_type.append_value(kind);
        if let Some(list) = self.headers.as_mut() {
            let entries = list.values();
            if let Some(headers) = m.headers() {
                for h in headers.iter() {
                    entries
                        .field_builder::<StringBuilder>(0)
                        .ok_or_else(|| Error::internal("the headers' key builder"))?
                        .append_value(h.key);
                    entries
                        .field_builder::<BinaryBuilder>(1)
                        .ok_or_else(|| Error::internal("the headers' value builder"))?
                        .append_option(h.value);
                    entries.append(true);
                }
            }
            list.append(true);
        }
        self.rows += 1;
        if self.rows >= BATCH_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        if self.rows == 0 {
            return Ok(());
        }
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(self.key.finish()),
            Arc::new(self.value.finish()),
            Arc::new(self.topic.finish()),
            Arc::new(self.partition.finish()),
            Arc::new(self.offset.finish()),
            Arc::new(self.timestamp.finish()),
            Arc::new(self.timestamp_type.finish()),
        ];
        if let Some(h) = self.headers.as_mut() {
            columns.push(Arc::new(h.finish()));
        }
        self.done
            .push(RecordBatch::try_new(Arc::clone(&self.schema), columns)?);
        self.rows = 0;
        Ok(())
    }
}

/// Spark's error for records a read needs but the partition no longer has.
pub fn data_loss(range: &OffsetRange, group_id: &str) -> Error {
    crate::offsets::data_loss(
        "COULD_NOT_READ_OFFSET_RANGE",
        &format!(
            "Could not read records in offset [{}, {}) for topic partition {} with consumer \
             group {group_id}.",
            range.from, range.until, range.tp
        ),
    )
}

/// How a read goes.
#[derive(Debug, Clone)]
pub struct ReadSettings {
    /// Kafka client settings (Spark's `kafka.` options without the prefix).
    pub client: Vec<(String, String)>,
    /// The consumer's group id.
    pub group_id: String,
    /// `includeHeaders`.
    pub include_headers: bool,
    /// `failOnDataLoss`.
    pub fail_on_data_loss: bool,
    /// `kafkaConsumer.pollTimeoutMs`.
    pub poll_timeout: Duration,
}

impl ReadSettings {
    /// The settings of a read with the source options `options`, as consumer group `group_id`.
    pub fn of(options: &crate::SourceOptions, group_id: String) -> Self {
        Self {
            client: options.client.clone(),
            group_id,
            include_headers: options.include_headers,
            fail_on_data_loss: options.fail_on_data_loss,
            poll_timeout: options.poll_timeout,
        }
    }
}

/// The records of `ranges`, one list of batches per range, in offset order. Blocks.
pub fn read_ranges(
    settings: &ReadSettings,
    ranges: &[OffsetRange],
) -> Result<Vec<Vec<RecordBatch>>> {
    Reader::new(settings.clone())?.read(ranges)
}

/// A reader of offset ranges that keeps its client for offsets between reads (a streaming
/// source reads at every trigger). Each read of a topic has a consumer of its own: one kept
/// assigned between reads goes on fetching, and the end-of-partition events of that fetching
/// would end the next read's ranges early.
pub struct Reader {
    settings: ReadSettings,
    client: OffsetClient,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader").finish_non_exhaustive()
    }
}

impl Reader {
    /// A reader with `settings`.
    pub fn new(settings: ReadSettings) -> Result<Self> {
        Ok(Self {
            client: OffsetClient::connect(&settings.client, &settings.group_id)?,
            settings,
        })
    }

    /// The records of `ranges`, one list of batches per range, in offset order. Blocks.
    pub fn read(&self, ranges: &[OffsetRange]) -> Result<Vec<Vec<RecordBatch>>> {
        let settings = &self.settings;
        let schema = schema(settings.include_headers);
        let wanted: Vec<OffsetRange> = ranges
            .iter()
            .filter(|r| r.until > r.from)
            .cloned()
            .collect();
        let mut out: Vec<Columns> = ranges.iter().map(|_| Columns::new(&schema)).collect();
        if wanted.is_empty() {
            return Ok(out.into_iter().map(|c| c.done).collect());
        }
        // what is still there: records before a partition's earliest offset are lost
        let tps: Vec<TopicPartition> = wanted.iter().map(|r| r.tp.clone()).collect();
        let marks = self.client.watermarks(&tps)?;
        let mut reading: BTreeMap<TopicPartition, (usize, i64, i64)> = BTreeMap::new();
        for (i, range) in ranges.iter().enumerate() {
            if range.until <= range.from {
                continue;
            }
            let earliest = marks.get(&range.tp).map(|m| m.0);
            let from = match earliest {
                Some(low) if low <= range.from => range.from,
                _ if settings.fail_on_data_loss => {
                    return Err(data_loss(range, &settings.group_id));
                }
                Some(low) if low < range.until => {
                    tracing::warn!(
                        "Kafka records [{}, {low}) of {} are gone; reading from {low} (failOnDataLoss=false)",
                        range.from,
                        range.tp
                    );
                    low
                }
                _ => {
                    tracing::warn!(
                        "Kafka records of {} are gone (failOnDataLoss=false)",
                        range.tp
                    );
                    continue;
                }
            };
            reading.insert(range.tp.clone(), (i, from, range.until));
        }
        if reading.is_empty() {
            return Ok(out.into_iter().map(|c| c.done).collect());
        }
        // one consumer per topic: the end of a partition is told by its number alone
        let mut topics: BTreeMap<String, BTreeMap<i32, (usize, i64, i64)>> = BTreeMap::new();
        for (tp, range) in reading {
            topics
                .entry(tp.topic)
                .or_default()
                .insert(tp.partition, range);
        }
        for (topic, partitions) in topics {
            let consumer: BaseConsumer = consumer_config(&settings.client, &settings.group_id)
                .create()
                .map_err(|e| {
                    Error::IllegalArgument(format!("Failed to construct kafka consumer: {e}"))
                })?;
            read_topic(settings, &consumer, &topic, partitions, &mut out)?;
        }
        for c in &mut out {
            c.flush()?;
        }
        Ok(out.into_iter().map(|c| c.done).collect())
    }
}

/// Reads `partitions` (number -> (range index, from, until)) of `topic` into `out`.
fn read_topic(
    settings: &ReadSettings,
    consumer: &BaseConsumer,
    topic: &str,
    mut partitions: BTreeMap<i32, (usize, i64, i64)>,
    out: &mut [Columns],
) -> Result<()> {
    let mut assignment = TopicPartitionList::new();
    for (partition, (_, from, _)) in &partitions {
        assignment
            .add_partition_offset(topic, *partition, Offset::Offset(*from))
            .map_err(|e| kafka_error("Bad offset", &e))?;
    }
    consumer
        .assign(&assignment)
        .map_err(|e| kafka_error("Failed to assign the partitions to read", &e))?;
    let mut last_progress = Instant::now();
    while !partitions.is_empty() {
        match consumer.poll(Duration::from_millis(100)) {
            None => {}
            Some(Ok(m)) => {
                let Some(&(i, from, until)) = partitions.get(&m.partition()) else {
                    continue;
                };
                last_progress = Instant::now();
                if m.offset() >= from && m.offset() < until {
                    out[i].push(&m)?;
                }
                if m.offset() >= until - 1 {
                    partitions.remove(&m.partition());
                }
            }
            Some(Err(KafkaError::PartitionEOF(p))) => {
                // at the partition's end, which is at or after the range's end: nothing more
                // will come for it (offsets without records: transaction markers, compaction)
                partitions.remove(&p);
                last_progress = Instant::now();
            }
            Some(Err(e)) => return Err(kafka_error("Failed to read records", &e)),
        }
        if last_progress.elapsed() > settings.poll_timeout
            && let Some((p, (_, from, _))) = partitions.iter().next()
        {
            return Err(Error::Runtime {
                exception: "java.util.concurrent.TimeoutException",
                class: "KAFKA_POLL_TIMEOUT".into(),
                message: format!(
                    "Cannot fetch record for offset {from} of {topic}-{p} in {} milliseconds",
                    settings.poll_timeout.as_millis()
                ),
            });
        }
    }
    Ok(())
}

/// The plan's partitions for the records of ranges (`read`: one list per range), as Spark's
/// `minPartitions` asks: one per non-empty range, or, when that is fewer than `min`, each
/// range cut into about `min * its share of the records` contiguous pieces (at least one).
pub fn spread(read: Vec<Vec<RecordBatch>>, min: Option<usize>) -> Result<Vec<Vec<RecordBatch>>> {
    let sizes: Vec<usize> = read
        .iter()
        .map(|b| b.iter().map(RecordBatch::num_rows).sum())
        .collect();
    let nonempty = sizes.iter().filter(|n| **n > 0).count();
    let total: usize = sizes.iter().sum();
    let min = match min {
        Some(m) if nonempty > 0 && nonempty < m => m,
        _ => return Ok(read.into_iter().filter(|b| !b.is_empty()).collect()),
    };
    let mut out = Vec::new();
    for (batches, size) in read.into_iter().zip(sizes) {
        if size == 0 {
            continue;
        }
        let parts = ((size as f64 / total as f64 * min as f64).round() as usize).max(1);
        let schema = batches[0].schema();
        let all = datafusion::arrow::compute::concat_batches(&schema, &batches)?;
        for i in 0..parts {
            let (start, end) = (size * i / parts, size * (i + 1) / parts);
            if end > start {
                out.push(vec![all.slice(start, end - start)]);
            }
        }
    }
    Ok(out)
}
