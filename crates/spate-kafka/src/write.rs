//! Writing rows to Kafka as Spark's Kafka sink does: each row is a record with the row's
//! `value` (string or binary, required), `key` (string or binary), `headers`
//! (array<struct<key string, value binary>>) and `partition` (int) columns when present, to
//! the topic of the `topic` option or else of the row's `topic` column. The schema is checked
//! before anything is written, with Spark's messages.
//!
//! A write is at least once, as Spark's: every record is acknowledged by the brokers before the
//! write returns, and a write run again writes its records again. As Spate's extension,
//! [`TransactionalWriter`] writes a streaming query's batches in Kafka transactions and records
//! each batch's id in the same transaction, so that a batch run again after a crash is
//! written once: readers with `isolation.level=read_committed` see every batch exactly once.

use std::sync::Mutex;
use std::time::Duration;

use datafusion::arrow::array::{
    Array, AsArray, BinaryArray, Int32Array, RecordBatch, StringArray, StructArray,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use rdkafka::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::KafkaError;
use rdkafka::message::{DeliveryResult, Header, Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer, ProducerContext};
use spate_common::{Error, Result};

use crate::client::kafka_error;
use crate::options::SinkOptions;

/// How long a write waits for the brokers to acknowledge its records.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(120);

fn invalid(message: String) -> Error {
    Error::Analysis {
        class: "_LEGACY_ERROR_TEMP_3080".into(),
        message: message.clone(),
        params: vec![("msg".into(), message)],
    }
}

fn check_type(field: Option<&Field>, name: &str, allowed: &[(&DataType, &str)]) -> Result<()> {
    let Some(field) = field else {
        return Ok(());
    };
    let t = field.data_type();
    let same = |a: &DataType| match (a, t) {
        (DataType::Utf8, DataType::LargeUtf8 | DataType::Utf8View)
        | (DataType::Binary, DataType::LargeBinary | DataType::BinaryView) => true,
        (DataType::List(a), DataType::List(b)) => a.data_type().equals_datatype(b.data_type()),
        _ => a == t,
    };
    if allowed.iter().any(|(a, _)| same(a)) {
        return Ok(());
    }
    let names: Vec<&str> = allowed.iter().map(|(_, n)| *n).collect();
    Err(invalid(format!(
        "{name} attribute unsupported type {}. {name} must be a(n) {}",
        spate_plan::types::simple_string(t),
        names.join(" or ")
    )))
}

fn headers_type() -> DataType {
    DataType::List(std::sync::Arc::new(Field::new(
        "element",
        DataType::Struct(
            vec![
                Field::new("key", DataType::Utf8, true),
                Field::new("value", DataType::Binary, true),
            ]
            .into(),
        ),
        true,
    )))
}

/// Spark's checks of what a Kafka write is given: a topic (option or column), a value, and
/// the types of the columns it uses.
pub fn validate(schema: &Schema, topic_option: Option<&str>) -> Result<()> {
    let field = |name: &str| {
        schema
            .fields()
            .iter()
            .find(|f| f.name() == name)
            .map(|f| f.as_ref())
    };
    if topic_option.is_none() {
        if field("topic").is_none() {
            return Err(invalid(
                "topic option required when no 'topic' attribute is present. Use the topic \
                 option for setting a topic."
                    .into(),
            ));
        }
        check_type(field("topic"), "topic", &[(&DataType::Utf8, "string")])?;
    }
    let bytes = [(&DataType::Utf8, "string"), (&DataType::Binary, "binary")];
    check_type(field("key"), "key", &bytes)?;
    if field("value").is_none() {
        return Err(invalid("Required attribute 'value' not found".into()));
    }
    check_type(field("value"), "value", &bytes)?;
    let headers = headers_type();
    check_type(
        field("headers"),
        "headers",
        &[(&headers, "array<struct<key:string,value:binary>>")],
    )?;
    check_type(
        field("partition"),
        "partition",
        &[(&DataType::Int32, "int")],
    )?;
    Ok(())
}

/// The first delivery failure, if any.
#[derive(Default)]
struct Deliveries {
    failed: Mutex<Option<String>>,
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((e, m)) = result
            && let Ok(mut failed) = self.failed.lock()
        {
            failed.get_or_insert_with(|| format!("{e} (topic '{}')", m.topic()));
        }
    }
}

type Writer = BaseProducer<Deliveries>;

fn producer(options: &SinkOptions, extra: &[(&str, String)]) -> Result<Writer> {
    let mut config = ClientConfig::new();
    for (k, v) in &options.client {
        config.set(k, v);
    }
    for (k, v) in extra {
        config.set(*k, v);
    }
    if !options.client.iter().any(|(k, _)| k == "partitioner") {
        // the Java client's partitioner (murmur2 of the key), which Spark's producer uses, so
        // that keyed records land in the partitions Java consumers and producers expect
        config.set("partitioner", "murmur2_random");
    }
    config
        .create_with_context(Deliveries::default())
        .map_err(|e| Error::IllegalArgument(format!("Failed to construct kafka producer: {e}")))
}

fn as_utf8(batch: &RecordBatch, name: &str) -> Result<Option<StringArray>> {
    batch
        .column_by_name(name)
        .map(|c| Ok(cast(c, &DataType::Utf8)?.as_string::<i32>().clone()))
        .transpose()
}

fn as_binary(batch: &RecordBatch, name: &str) -> Result<Option<BinaryArray>> {
    batch
        .column_by_name(name)
        .map(|c| Ok(cast(c, &DataType::Binary)?.as_binary::<i32>().clone()))
        .transpose()
}

/// Sends the rows of `batch`; returns how many. Blocks while librdkafka's queue is full.
fn send_batch(producer: &Writer, options: &SinkOptions, batch: &RecordBatch) -> Result<u64> {
    let topics = as_utf8(batch, "topic")?;
    let keys = as_binary(batch, "key")?;
    let values = as_binary(batch, "value")?
        .ok_or_else(|| invalid("Required attribute 'value' not found".into()))?;
    let partitions: Option<Int32Array> = batch.column_by_name("partition").map(|c| {
        c.as_primitive::<datafusion::arrow::datatypes::Int32Type>()
            .clone()
    });
    let headers = batch
        .column_by_name("headers")
        .map(|c| c.as_list::<i32>().clone());
    for row in 0..batch.num_rows() {
        let topic = match (&options.topic, &topics) {
            (Some(t), _) => t.as_str(),
            (None, Some(col)) if col.is_valid(row) => col.value(row),
            _ => {
                return Err(Error::Runtime {
                    exception: "org.apache.spark.SparkException",
                    class: "KAFKA_NULL_TOPIC_IN_DATA".into(),
                    message: "The Kafka message data sent to the producer contains a null topic. \
                              Use the `topic` option for setting a default topic."
                        .into(),
                });
            }
        };
        let mut record: BaseRecord<'_, [u8], [u8], ()> = BaseRecord::to(topic);
        if let Some(k) = keys.as_ref().filter(|k| k.is_valid(row)) {
            record = record.key(k.value(row));
        }
        if values.is_valid(row) {
            record = record.payload(values.value(row));
        }
        if let Some(p) = partitions.as_ref().filter(|p| p.is_valid(row)) {
            record = record.partition(p.value(row));
        }
        if let Some(list) = headers.as_ref().filter(|h| h.is_valid(row)) {
            let entries = list.value(row);
            let entries: &StructArray = entries.as_struct();
            let keys = cast(entries.column(0), &DataType::Utf8)?;
            let keys = keys.as_string::<i32>();
            let vals = cast(entries.column(1), &DataType::Binary)?;
            let vals = vals.as_binary::<i32>();
            let mut owned = OwnedHeaders::new_with_capacity(entries.len());
            for i in 0..entries.len() {
                let value = vals.is_valid(i).then(|| vals.value(i));
                owned = owned.insert(Header {
                    key: if keys.is_valid(i) { keys.value(i) } else { "" },
                    value,
                });
            }
            record = record.headers(owned);
        }
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((
                    KafkaError::MessageProduction(rdkafka::types::RDKafkaErrorCode::QueueFull),
                    r,
                )) => {
                    producer.poll(Duration::from_millis(50));
                    record = r;
                }
                Err((e, _)) => return Err(kafka_error(&format!("Failed to send to {topic}"), &e)),
            }
        }
    }
    producer.poll(Duration::ZERO);
    Ok(batch.num_rows() as u64)
}

fn delivered(producer: &Writer) -> Result<()> {
    producer
        .flush(FLUSH_TIMEOUT)
        .map_err(|e| kafka_error("Failed to send the records", &e))?;
    let failed = producer
        .context()
        .failed
        .lock()
        .map_err(|_| Error::internal("the Kafka delivery report lock"))?
        .clone();
    match failed {
        Some(e) => Err(Error::Runtime {
            exception: "org.apache.kafka.common.KafkaException",
            class: "KAFKA_CLIENT_ERROR".into(),
            message: format!("Failed to send records to Kafka: {e}"),
        }),
        None => Ok(()),
    }
}

/// A write at least once: records are sent as batches come, and [`KafkaWriter::finish`]
/// waits until the brokers acknowledged every one.
pub struct KafkaWriter {
    producer: Writer,
    options: SinkOptions,
}

impl std::fmt::Debug for KafkaWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaWriter").finish_non_exhaustive()
    }
}

impl KafkaWriter {
    /// A writer of rows of `schema`, checked first as Spark checks it.
    pub fn open(options: &SinkOptions, schema: &Schema) -> Result<Self> {
        validate(schema, options.topic.as_deref())?;
        Ok(Self {
            producer: producer(options, &[])?,
            options: options.clone(),
        })
    }

    /// Sends the rows of `batch`; returns how many. Blocks while librdkafka's queue is full.
    pub fn send(&self, batch: &RecordBatch) -> Result<u64> {
        send_batch(&self.producer, &self.options, batch)
    }

    /// Waits until every record sent was acknowledged. Blocks.
    pub fn finish(&self) -> Result<()> {
        delivered(&self.producer)
    }
}

/// A streaming query's writer of batches in Kafka transactions (Spate's `exactlyOnce`).
/// Each batch's records and the batch's id (as the committed offset of the consumer group
/// `spate-sink-<queryId>` on the output's first partition) commit in one transaction; a batch
/// whose id is already committed is not written again.
pub struct TransactionalWriter {
    producer: Writer,
    /// A member of the group whose committed offset records the last batch.
    consumer: rdkafka::consumer::BaseConsumer,
    options: SinkOptions,
    group: String,
    /// Where the batch id is recorded.
    marker: (String, i32),
}

impl std::fmt::Debug for TransactionalWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransactionalWriter")
            .field("group", &self.group)
            .finish_non_exhaustive()
    }
}

impl TransactionalWriter {
    /// The writer of query `query_id`: its transactional id is `spate-<queryId>-0`, so that a
    /// restarted query fences off the one before it. Blocks.
    pub fn open(options: &SinkOptions, query_id: &str) -> Result<Self> {
        let topic = options.topic.clone().ok_or_else(|| {
            Error::IllegalArgument(
                "the Kafka sink's option 'exactlyOnce' needs the 'topic' option".into(),
            )
        })?;
        let producer = producer(
            options,
            &[
                ("transactional.id", format!("spate-{query_id}-0")),
                ("enable.idempotence", "true".into()),
            ],
        )?;
        producer
            .init_transactions(FLUSH_TIMEOUT)
            .map_err(|e| kafka_error("Failed to start Kafka transactions", &e))?;
        let group = format!("spate-sink-{query_id}");
        let consumer = crate::client::consumer_config(&options.client, &group)
            .create()
            .map_err(|e| {
                Error::IllegalArgument(format!("Failed to construct kafka consumer: {e}"))
            })?;
        Ok(Self {
            producer,
            consumer,
            options: options.clone(),
            group,
            marker: (topic, 0),
        })
    }

    /// The id of the last batch committed, if any. Blocks.
    pub fn last_committed(&self) -> Result<Option<u64>> {
        use rdkafka::consumer::Consumer;
        let mut list = rdkafka::TopicPartitionList::new();
        list.add_partition(&self.marker.0, self.marker.1);
        let committed = self
            .consumer
            .committed_offsets(list, FLUSH_TIMEOUT)
            .map_err(|e| kafka_error("Failed to read the sink's committed batch", &e))?;
        Ok(committed.elements().first().and_then(|e| match e.offset() {
            rdkafka::Offset::Offset(o) if o > 0 => u64::try_from(o - 1).ok(),
            _ => None,
        }))
    }

    /// Writes batch `batch_id` in one transaction, unless it was committed before; returns how
    /// many records it wrote. Blocks.
    pub fn write(&self, batch_id: u64, batches: &[RecordBatch]) -> Result<u64> {
        if self.last_committed()?.is_some_and(|last| last >= batch_id) {
            return Ok(0);
        }
        let fail = |what: &str, e: KafkaError| {
            let _ = self.producer.abort_transaction(FLUSH_TIMEOUT);
            kafka_error(what, &e)
        };
        self.producer
            .begin_transaction()
            .map_err(|e| kafka_error("Failed to begin a Kafka transaction", &e))?;
        let mut n = 0;
        for batch in batches {
            match send_batch(&self.producer, &self.options, batch) {
                Ok(k) => n += k,
                Err(e) => {
                    let _ = self.producer.abort_transaction(FLUSH_TIMEOUT);
                    return Err(e);
                }
            }
        }
        let mut offsets = rdkafka::TopicPartitionList::new();
        offsets
            .add_partition_offset(
                &self.marker.0,
                self.marker.1,
                rdkafka::Offset::Offset(i64::try_from(batch_id).unwrap_or(i64::MAX) + 1),
            )
            .map_err(|e| fail("Bad batch id", e))?;
        let group = rdkafka::consumer::Consumer::group_metadata(&self.consumer)
            .ok_or_else(|| Error::internal("a Kafka consumer without group metadata"))?;
        self.producer
            .send_offsets_to_transaction(&offsets, &group, FLUSH_TIMEOUT)
            .map_err(|e| fail("Failed to record the batch in the transaction", e))?;
        self.producer
            .commit_transaction(FLUSH_TIMEOUT)
            .map_err(|e| fail("Failed to commit the Kafka transaction", e))?;
        delivered(&self.producer)?;
        Ok(n)
    }
}
