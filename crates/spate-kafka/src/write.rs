//! Writing rows to Kafka as Spark's Kafka sink does: each row is a record with the row's
//! `value` (string or binary, required), `key` (string or binary), `headers`
//! (array<struct<key string, value binary>>) and `partition` (int) columns when present, to
//! the topic of the `topic` option or else of the row's `topic` column. The schema is checked
//! before anything is written, with Spark's messages.
//!
//! A write is at least once, as Spark's: every record is acknowledged by the brokers before the
//! write returns, and a write run again writes its records again; [`crate::once`] is Spate's
//! exactly-once streaming write built on this one.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
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

fn producer(options: &SinkOptions) -> Result<Writer> {
    let mut config = ClientConfig::new();
    for (k, v) in &options.client {
        config.set(k, v);
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

/// The header naming the query that wrote a record.
pub const QUERY_HEADER: &str = "spate.query";
/// The header naming the batch that wrote a record.
pub const BATCH_HEADER: &str = "spate.batch";
/// A record's identity: its topic, key, value and headers (without the sink's own).
pub fn identity(
    topic: &str,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    headers: &[(&str, Option<&[u8]>)],
) -> u64 {
    let mut h = DefaultHasher::new();
    (topic, key, value).hash(&mut h);
    for (k, v) in headers {
        if *k != QUERY_HEADER && *k != BATCH_HEADER {
            (k, v).hash(&mut h);
        }
    }
    h.finish()
}

/// What a write adds to and leaves out of each batch: headers for every record, and records
/// (by identity, [`identity`]) already written, with how many of each.
#[derive(Debug, Default)]
struct Extras {
    headers: Vec<(String, Vec<u8>)>,
    skip: Option<Mutex<std::collections::HashMap<u64, usize>>>,
}

impl Extras {
    /// Whether a record of this identity was written already (and one fewer is left to skip).
    fn skipped(
        &self,
        topic: &str,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[(&str, Option<&[u8]>)],
    ) -> Result<bool> {
        let Some(skip) = &self.skip else {
            return Ok(false);
        };
        let id = identity(topic, key, value, headers);
        let mut skip = skip
            .lock()
            .map_err(|_| Error::internal("the Kafka sink's skip list lock"))?;
        match skip.get_mut(&id) {
            Some(n) if *n > 0 => {
                *n -= 1;
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

/// Sends the rows of `batch` (less those `extras` skips); returns how many were sent. Blocks
/// while librdkafka's queue is full.
fn send_batch(
    producer: &Writer,
    options: &SinkOptions,
    batch: &RecordBatch,
    extras: &Extras,
) -> Result<u64> {
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
    let mut sent = 0;
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
        let key = keys
            .as_ref()
            .filter(|k| k.is_valid(row))
            .map(|k| k.value(row));
        let value = values.is_valid(row).then(|| values.value(row));
        let entries = headers
            .as_ref()
            .filter(|h| h.is_valid(row))
            .map(|list| list.value(row));
        let mut row_headers: Vec<(&str, Option<&[u8]>)> = Vec::new();
        let (hkeys, hvals);
        if let Some(entries) = &entries {
            let entries: &StructArray = entries.as_struct();
            hkeys = cast(entries.column(0), &DataType::Utf8)?;
            hvals = cast(entries.column(1), &DataType::Binary)?;
            let (ks, vs) = (hkeys.as_string::<i32>(), hvals.as_binary::<i32>());
            for i in 0..entries.len() {
                let k = if ks.is_valid(i) { ks.value(i) } else { "" };
                row_headers.push((k, vs.is_valid(i).then(|| vs.value(i))));
            }
        }
        if extras.skipped(topic, key, value, &row_headers)? {
            continue;
        }
        let mut record: BaseRecord<'_, [u8], [u8], ()> = BaseRecord::to(topic);
        if let Some(k) = key {
            record = record.key(k);
        }
        if let Some(v) = value {
            record = record.payload(v);
        }
        if let Some(p) = partitions.as_ref().filter(|p| p.is_valid(row)) {
            record = record.partition(p.value(row));
        }
        if entries.is_some() || !extras.headers.is_empty() {
            let mut owned =
                OwnedHeaders::new_with_capacity(row_headers.len() + extras.headers.len());
            for (k, v) in &row_headers {
                owned = owned.insert(Header { key: k, value: *v });
            }
            for (k, v) in &extras.headers {
                owned = owned.insert(Header {
                    key: k.as_str(),
                    value: Some(v.as_slice()),
                });
            }
            record = record.headers(owned);
        }
        sent += 1;
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
    Ok(sent)
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
    producer: std::sync::Arc<Writer>,
    options: SinkOptions,
    extras: Extras,
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
            producer: std::sync::Arc::new(producer(options)?),
            options: options.clone(),
            extras: Extras::default(),
        })
    }

    /// A writer on the same producer that adds `headers` to every record and leaves out the
    /// records already written that `skip` counts by identity ([`identity`]).
    pub fn for_batch(
        &self,
        headers: Vec<(String, Vec<u8>)>,
        skip: std::collections::HashMap<u64, usize>,
    ) -> Self {
        Self {
            producer: std::sync::Arc::clone(&self.producer),
            options: self.options.clone(),
            extras: Extras {
                headers,
                skip: Some(Mutex::new(skip)),
            },
        }
    }

    /// Sends the rows of `batch`; returns how many. Blocks while librdkafka's queue is full.
    pub fn send(&self, batch: &RecordBatch) -> Result<u64> {
        send_batch(&self.producer, &self.options, batch, &self.extras)
    }

    /// Waits until every record sent was acknowledged. Blocks.
    pub fn finish(&self) -> Result<()> {
        delivered(&self.producer)
    }
}
