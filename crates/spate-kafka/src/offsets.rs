//! Topic partitions and their offsets in the JSON Spark writes in a checkpoint and takes in
//! options: `{"topic":{"0":23,"1":-1}}` for offsets (`-1` latest, `-2` earliest when given as a
//! starting or ending offset), `{"topic":[0,1]}` for the partitions of `assign`, and the same
//! shape as offsets for per-partition timestamps.

use std::collections::BTreeMap;
use std::fmt;

use spate_common::{Error, Result};

/// One partition of a topic.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TopicPartition {
    /// The topic's name.
    pub topic: String,
    /// The partition's number.
    pub partition: i32,
}

impl TopicPartition {
    /// `topic`'s partition `partition`.
    pub fn new(topic: impl Into<String>, partition: i32) -> Self {
        Self {
            topic: topic.into(),
            partition,
        }
    }
}

impl fmt::Display for TopicPartition {
    /// As Kafka's Java client prints it (`topic-0`), which Spark's messages show.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

/// An offset per partition (the next offset to read, or -1/-2 for latest/earliest).
pub type PartitionOffsets = BTreeMap<TopicPartition, i64>;

/// The offset Spark's options use for "latest".
pub const LATEST: i64 = -1;
/// The offset Spark's options use for "earliest".
pub const EARLIEST: i64 = -2;

/// Spark's JSON for `offsets`: `{"topic":{"0":23}}`, topics and partitions in order.
pub fn offsets_json(offsets: &PartitionOffsets) -> String {
    let mut topics = serde_json::Map::new();
    for (tp, offset) in offsets {
        let entry = topics
            .entry(tp.topic.clone())
            .or_insert_with(|| serde_json::Value::Object(serde_json::Map::new()));
        if let serde_json::Value::Object(parts) = entry {
            parts.insert(tp.partition.to_string(), serde_json::Value::from(*offset));
        }
    }
    serde_json::Value::Object(topics).to_string()
}

/// Offsets from Spark's JSON, or Spark's error naming the text.
pub fn parse_offsets(text: &str) -> Result<PartitionOffsets> {
    parse_partition_map(
        text,
        r#"Expected e.g. {"topicA":{"0":23,"1":-1},"topicB":{"0":-2}}, got "#,
    )
}

/// Per-partition timestamps (`startingOffsetsByTimestamp`), or Spark's error.
pub fn parse_timestamps(text: &str) -> Result<PartitionOffsets> {
    parse_partition_map(
        text,
        r#"Expected e.g. {"topicA": {"0": 123456789, "1": 123456789}, "topicB": {"0": 123456789, "1": 123456789}}, got "#,
    )
}

fn parse_partition_map(text: &str, expected: &str) -> Result<PartitionOffsets> {
    let bad = || Error::IllegalArgument(format!("{expected}{text}"));
    let value: serde_json::Value = serde_json::from_str(text).map_err(|_| bad())?;
    let mut out = PartitionOffsets::new();
    for (topic, parts) in value.as_object().ok_or_else(bad)? {
        for (partition, offset) in parts.as_object().ok_or_else(bad)? {
            let partition = partition.parse::<i32>().map_err(|_| bad())?;
            let offset = offset.as_i64().ok_or_else(bad)?;
            out.insert(TopicPartition::new(topic.clone(), partition), offset);
        }
    }
    Ok(out)
}

/// The partitions of `assign` (`{"topicA":[0,1]}`), or Spark's error.
pub fn parse_partitions(text: &str) -> Result<Vec<TopicPartition>> {
    let bad = || {
        Error::IllegalArgument(format!(
            r#"Expected e.g. {{"topicA":[0,1],"topicB":[0,1]}}, got {text}"#
        ))
    };
    let value: serde_json::Value = serde_json::from_str(text).map_err(|_| bad())?;
    let mut out = Vec::new();
    for (topic, parts) in value.as_object().ok_or_else(bad)? {
        for partition in parts.as_array().ok_or_else(bad)? {
            let partition = partition
                .as_i64()
                .and_then(|p| i32::try_from(p).ok())
                .ok_or_else(bad)?;
            out.push(TopicPartition::new(topic.clone(), partition));
        }
    }
    out.sort();
    Ok(out)
}

/// `partitions` as Spark's messages show a Scala set of them: `Set(t-0, t-1)`.
pub fn scala_set<'a>(partitions: impl IntoIterator<Item = &'a TopicPartition>) -> String {
    let names: Vec<String> = partitions.into_iter().map(ToString::to_string).collect();
    format!("Set({})", names.join(", "))
}

/// The data-loss error Spark raises (`KAFKA_DATA_LOSS.<sub>`, SQLSTATE 22000) for `reason`.
pub fn data_loss(sub: &str, reason: &str) -> Error {
    Error::Runtime {
        exception: "org.apache.spark.SparkException",
        class: format!("KAFKA_DATA_LOSS.{sub}"),
        message: format!(
            "Some data may have been lost because they are not available in Kafka any more; \
             either the data was aged out by Kafka or the topic may have been deleted before all \
             the data in the topic was processed. If you don't want your streaming query to fail \
             on such cases, set the source option failOnDataLoss to false. Reason: {reason}"
        ),
    }
}

/// `partitions` as Spark lists a set of them in messages: `[t-0, t-1]`.
pub fn list(partitions: &[TopicPartition]) -> String {
    let names: Vec<String> = partitions.iter().map(ToString::to_string).collect();
    format!("[{}]", names.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_round_trip_in_sparks_form() -> Result<()> {
        let offsets = parse_offsets(r#"{"b":{"1":-1,"0":7},"a":{"0":-2}}"#)?;
        assert_eq!(offsets[&TopicPartition::new("b", 0)], 7);
        assert_eq!(offsets[&TopicPartition::new("b", 1)], LATEST);
        assert_eq!(offsets[&TopicPartition::new("a", 0)], EARLIEST);
        assert_eq!(
            offsets_json(&offsets),
            r#"{"a":{"0":-2},"b":{"0":7,"1":-1}}"#
        );
        Ok(())
    }

    #[test]
    fn bad_json_names_the_text() {
        let err = parse_offsets("{\"a\":[0]}").err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some(r#"Expected e.g. {"topicA":{"0":23,"1":-1},"topicB":{"0":-2}}, got {"a":[0]}"#)
        );
        let err = parse_partitions("{\"a\":{\"0\":1}}")
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some(r#"Expected e.g. {"topicA":[0,1],"topicB":[0,1]}, got {"a":{"0":1}}"#)
        );
    }

    #[test]
    fn assign_lists_partitions_in_order() -> Result<()> {
        let parts = parse_partitions(r#"{"t":[2,0]}"#)?;
        assert_eq!(list(&parts), "[t-0, t-2]");
        Ok(())
    }
}
