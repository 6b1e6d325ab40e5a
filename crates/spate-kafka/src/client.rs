//! What a source asks the brokers: the partitions of its subscription, each partition's
//! earliest and latest offsets, and the first offset at or after a timestamp. Every call
//! blocks (librdkafka's own threads do the network work); async callers run them on tokio's
//! blocking pool ([`blocking`]).
//!
//! Kafka's consumer groups are not used for correctness: offsets are the query's own, and the
//! consumer only gets a group id because librdkafka wants one.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::types::RDKafkaErrorCode;
use spate_common::{Error, Result};

use crate::offsets::{PartitionOffsets, TopicPartition};
use crate::options::Subscription;

/// How long one request to the brokers may take, unless `kafka.default.api.timeout.ms` says.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// A Kafka client error, naming what was asked.
pub(crate) fn kafka_error(what: &str, e: &KafkaError) -> Error {
    Error::Runtime {
        exception: "org.apache.kafka.common.KafkaException",
        class: "KAFKA_CLIENT_ERROR".into(),
        message: format!("{what}: {e}"),
    }
}

/// Runs blocking client work off the async runtime.
pub async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Error::internal(format!("a Kafka client task failed: {e}")))?
}

/// The librdkafka settings of `settings` (Spark's `kafka.` options without the prefix), with
/// what a reader of offset ranges needs.
pub(crate) fn consumer_config(settings: &[(String, String)], group_id: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    for (k, v) in settings {
        // Spark's names that librdkafka spells otherwise or has no use for
        match k.as_str() {
            "default.api.timeout.ms" | "group.id" => {}
            _ => {
                config.set(k, v);
            }
        }
    }
    config
        .set("group.id", group_id)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "true")
        .set("allow.auto.create.topics", "false");
    if !settings.iter().any(|(k, _)| k == "isolation.level") {
        // as Spark's (Java) consumer: records of open and aborted transactions are read
        config.set("isolation.level", "read_uncommitted");
    }
    config
}

/// A client for offsets and metadata.
pub struct OffsetClient {
    consumer: BaseConsumer,
    timeout: Duration,
}

impl std::fmt::Debug for OffsetClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OffsetClient").finish_non_exhaustive()
    }
}

impl OffsetClient {
    /// A client with `settings` (Spark's `kafka.` options without the prefix).
    pub fn connect(settings: &[(String, String)], group_id: &str) -> Result<Self> {
        let timeout = settings
            .iter()
            .find(|(k, _)| k == "default.api.timeout.ms")
            .and_then(|(_, v)| v.trim().parse::<u64>().ok())
            .map_or(DEFAULT_TIMEOUT, Duration::from_millis);
        let consumer: BaseConsumer = consumer_config(settings, group_id).create().map_err(|e| {
            Error::IllegalArgument(format!("Failed to construct kafka consumer: {e}"))
        })?;
        Ok(Self { consumer, timeout })
    }

    /// The partitions `subscription` names now, in order. Topics of `subscribe` that do not
    /// exist have none (as in Spark, which waits for them); a partition of `assign` that does not
    /// exist is an error naming it.
    pub fn partitions(&self, subscription: &Subscription) -> Result<Vec<TopicPartition>> {
        let metadata = self
            .consumer
            .fetch_metadata(None, self.timeout)
            .map_err(|e| kafka_error("Failed to fetch the topics' metadata", &e))?;
        let mut existing: BTreeMap<String, Vec<i32>> = BTreeMap::new();
        for topic in metadata.topics() {
            if topic.error().is_none() && !topic.name().starts_with("__") {
                existing.insert(
                    topic.name().to_string(),
                    topic.partitions().iter().map(|p| p.id()).collect(),
                );
            }
        }
        let mut out: Vec<TopicPartition> = match subscription {
            Subscription::Topics(topics) => topics
                .iter()
                .flat_map(|t| {
                    existing
                        .get(t)
                        .into_iter()
                        .flatten()
                        .map(move |p| TopicPartition::new(t.clone(), *p))
                })
                .collect(),
            Subscription::Pattern(_, pattern) => existing
                .iter()
                .filter(|(t, _)| pattern.is_match(t))
                .flat_map(|(t, ps)| ps.iter().map(move |p| TopicPartition::new(t.clone(), *p)))
                .collect(),
            Subscription::Assign(partitions) => {
                for tp in partitions {
                    if !existing
                        .get(&tp.topic)
                        .is_some_and(|ps| ps.contains(&tp.partition))
                    {
                        return Err(Error::Runtime {
                            exception: "org.apache.kafka.common.errors.UnknownTopicOrPartitionException",
                            class: "KAFKA_UNKNOWN_TOPIC_OR_PARTITION".into(),
                            message: format!(
                                "This server does not host this topic-partition: {tp}"
                            ),
                        });
                    }
                }
                partitions.clone()
            }
        };
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// Each partition's earliest and latest offsets; a partition that no longer exists has
    /// none.
    pub fn watermarks(
        &self,
        partitions: &[TopicPartition],
    ) -> Result<BTreeMap<TopicPartition, (i64, i64)>> {
        let mut out = BTreeMap::new();
        for tp in partitions {
            match self
                .consumer
                .fetch_watermarks(&tp.topic, tp.partition, self.timeout)
            {
                Ok(marks) => {
                    out.insert(tp.clone(), marks);
                }
                Err(KafkaError::MetadataFetch(
                    RDKafkaErrorCode::UnknownTopicOrPartition
                    | RDKafkaErrorCode::UnknownPartition
                    | RDKafkaErrorCode::UnknownTopic,
                )) => {}
                Err(e) => {
                    return Err(kafka_error(
                        &format!("Failed to fetch the offsets of {tp}"),
                        &e,
                    ));
                }
            }
        }
        Ok(out)
    }

    /// The first offset at or after each partition's timestamp (ms); `None` where no record is
    /// that late.
    pub fn offsets_for_times(
        &self,
        timestamps: &PartitionOffsets,
    ) -> Result<BTreeMap<TopicPartition, Option<i64>>> {
        let mut list = TopicPartitionList::new();
        for (tp, ts) in timestamps {
            list.add_partition_offset(&tp.topic, tp.partition, Offset::Offset(*ts))
                .map_err(|e| kafka_error("Bad timestamp", &e))?;
        }
        let found = self
            .consumer
            .offsets_for_times(list, self.timeout)
            .map_err(|e| kafka_error("Failed to look up offsets by timestamp", &e))?;
        Ok(found
            .elements()
            .iter()
            .map(|e| {
                let offset = match e.offset() {
                    Offset::Offset(o) if o >= 0 => Some(o),
                    _ => None,
                };
                (TopicPartition::new(e.topic(), e.partition()), offset)
            })
            .collect())
    }
}
