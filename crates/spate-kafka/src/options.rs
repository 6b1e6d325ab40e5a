//! Spark's options of the Kafka source and sink, checked as Spark checks them and with Spark's
//! messages: exactly one of `subscribe`, `subscribePattern` and `assign`;
//! `kafka.bootstrap.servers`; the Kafka client settings Spark refuses (`auto.offset.reset`,
//! the deserializers, `enable.auto.commit`, `interceptor.classes`); starting and ending
//! offsets (`earliest`, `latest`, per-partition JSON with -2/-1, a global timestamp or
//! per-partition timestamps), of which a batch read may not start at latest nor end at
//! earliest and a stream may have no end; the trigger limits (`maxOffsetsPerTrigger`,
//! `minOffsetsPerTrigger`, `maxTriggerDelay`), `minPartitions`, `failOnDataLoss`,
//! `includeHeaders`. Every `kafka.`-prefixed option goes to the client without the prefix
//! (librdkafka takes Kafka's names: `security.protocol`, `sasl.*`, `ssl.*`, ...).

use std::collections::BTreeMap;
use std::time::Duration;

use spate_common::{Error, Result};

use crate::offsets::{
    EARLIEST, LATEST, PartitionOffsets, TopicPartition, parse_offsets, parse_partitions,
    parse_timestamps,
};

/// Which partitions a source reads.
#[derive(Debug, Clone)]
pub enum Subscription {
    /// `subscribe`: every partition of these topics.
    Topics(Vec<String>),
    /// `subscribePattern`: every partition of the topics whose whole name matches (the
    /// pattern as given, and anchored).
    Pattern(String, regex::Regex),
    /// `assign`: exactly these partitions.
    Assign(Vec<TopicPartition>),
}

/// Where reading starts or (in a batch read) ends.
#[derive(Debug, Clone, PartialEq)]
pub enum OffsetSpec {
    /// `earliest`.
    Earliest,
    /// `latest`.
    Latest,
    /// Per-partition offsets (-2 earliest, -1 latest).
    Specific(PartitionOffsets),
    /// `startingTimestamp` / `endingTimestamp`: the first offset at or after it, everywhere.
    Timestamp(i64),
    /// `startingOffsetsByTimestamp` / `endingOffsetsByTimestamp`.
    Timestamps(PartitionOffsets),
}

/// The options of a Kafka read.
#[derive(Debug, Clone)]
pub struct SourceOptions {
    /// Kafka client settings (`kafka.` options without the prefix).
    pub client: Vec<(String, String)>,
    /// The partitions read.
    pub subscription: Subscription,
    /// Where a new query or a batch read starts.
    pub starting: OffsetSpec,
    /// Where a batch read ends.
    pub ending: OffsetSpec,
    /// `startingOffsetsByTimestampStrategy=latest`: a partition with no offset at or after
    /// the timestamp starts at latest rather than failing.
    pub no_match_latest: bool,
    /// `failOnDataLoss` (default true).
    pub fail_on_data_loss: bool,
    /// `maxOffsetsPerTrigger`.
    pub max_offsets_per_trigger: Option<i64>,
    /// `minOffsetsPerTrigger`.
    pub min_offsets_per_trigger: Option<i64>,
    /// `maxTriggerDelay` (15 minutes by default).
    pub max_trigger_delay: Duration,
    /// `minPartitions`.
    pub min_partitions: Option<usize>,
    /// `includeHeaders`.
    pub include_headers: bool,
    /// How long a read waits for a record it expects (`kafkaConsumer.pollTimeoutMs`).
    pub poll_timeout: Duration,
    /// `kafka.group.id` when given; else the source makes one from `groupIdPrefix`.
    pub group_id: Option<String>,
    /// `groupIdPrefix` (`spark-kafka-source` by default).
    pub group_id_prefix: String,
}

const STRATEGIES: &str = "subscribe, subscribepattern, assign";

fn boolean(options: &BTreeMap<String, String>, key: &str, default: bool) -> Result<bool> {
    match options.get(key).map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(default),
        Some(v) if v == "true" => Ok(true),
        Some(v) if v == "false" => Ok(false),
        Some(v) => Err(Error::IllegalArgument(format!("For input string: \"{v}\""))),
    }
}

fn long(options: &BTreeMap<String, String>, key: &str) -> Result<Option<i64>> {
    options
        .get(key)
        .map(|v| {
            v.trim().parse::<i64>().map_err(|_| {
                Error::IllegalArgument(format!("For input string: \"{v}\" (option '{key}')"))
            })
        })
        .transpose()
}

/// The `kafka.`-prefixed options, without the prefix, after Spark's checks on them.
fn client_settings(options: &BTreeMap<String, String>) -> Result<Vec<(String, String)>> {
    if options.contains_key("kafka.auto.offset.reset") {
        return Err(Error::IllegalArgument(
            "\nKafka option 'auto.offset.reset' is not supported.\nInstead set the source option \
             'startingoffsets' to 'earliest' or 'latest'\nto specify where to start. Structured \
             Streaming manages which offsets are consumed\ninternally, rather than relying on the \
             kafkaConsumer to do it. This will ensure that no\ndata is missed when new \
             topics/partitions are dynamically subscribed. Note that\n'startingoffsets' only \
             applies when a new Streaming query is started, and\nthat resuming will always pick \
             up from where the query left off. See the docs for more\ndetails.\n"
                .into(),
        ));
    }
    for (key, what) in [("key", "keys"), ("value", "values")] {
        if options.contains_key(&format!("kafka.{key}.deserializer")) {
            return Err(Error::IllegalArgument(format!(
                "Kafka option '{key}.deserializer' is not supported as {what} are deserialized \
                 as byte arrays with ByteArrayDeserializer. Use DataFrame operations to \
                 explicitly deserialize the {what}."
            )));
        }
    }
    for key in ["enable.auto.commit", "interceptor.classes"] {
        if options.contains_key(&format!("kafka.{key}")) {
            return Err(Error::IllegalArgument(format!(
                "Kafka option '{key}' is not supported"
            )));
        }
    }
    if !options.contains_key("kafka.bootstrap.servers") {
        return Err(Error::IllegalArgument(
            "Option 'kafka.bootstrap.servers' must be specified for configuring Kafka consumer"
                .into(),
        ));
    }
    Ok(options
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("kafka.")?.to_string(), v.clone())))
        .collect())
}

fn subscription(options: &BTreeMap<String, String>) -> Result<Subscription> {
    let given: Vec<(&str, &String)> = ["subscribe", "subscribepattern", "assign"]
        .into_iter()
        .filter_map(|k| options.get(k).map(|v| (k, v)))
        .collect();
    let (key, value) = match given.as_slice() {
        [] => {
            return Err(Error::IllegalArgument(format!(
                "One of the following options must be specified for Kafka source: {STRATEGIES}. \
                 See the docs for more details."
            )));
        }
        [one] => *one,
        _ => {
            return Err(Error::IllegalArgument(format!(
                "Only one of the following options can be specified for Kafka source: \
                 {STRATEGIES}. See the docs for more details."
            )));
        }
    };
    match key {
        "assign" => {
            if !value.trim().starts_with('{') {
                return Err(Error::IllegalArgument(format!(
                    "No topicpartitions to assign as specified value for option 'assign' is \
                     '{value}'"
                )));
            }
            Ok(Subscription::Assign(parse_partitions(value.trim())?))
        }
        "subscribe" => {
            let topics: Vec<String> = value
                .split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_string)
                .collect();
            if topics.is_empty() {
                return Err(Error::IllegalArgument(format!(
                    "No topics to subscribe to as specified value for option 'subscribe' is \
                     '{value}'"
                )));
            }
            Ok(Subscription::Topics(topics))
        }
        _ => {
            let pattern = value.trim();
            if pattern.is_empty() {
                return Err(Error::IllegalArgument(format!(
                    "Pattern to subscribe is empty as specified value for option \
                     'subscribePattern' is '{value}'"
                )));
            }
            // Java's Pattern.matches: the whole name
            regex::Regex::new(&format!("^(?:{pattern})$"))
                .map(|r| Subscription::Pattern(pattern.to_string(), r))
                .map_err(|e| {
                    Error::IllegalArgument(format!(
                        "the 'subscribePattern' '{pattern}' is not a regular expression: {e}"
                    ))
                })
        }
    }
}

/// Spark's `getKafkaOffsetRangeLimit`: a global timestamp, else per-partition timestamps, else
/// offsets, else `default`.
fn offset_spec(
    options: &BTreeMap<String, String>,
    timestamp_key: &str,
    by_timestamp_key: &str,
    offsets_key: &str,
    default: OffsetSpec,
) -> Result<OffsetSpec> {
    if let Some(ts) = options.get(timestamp_key) {
        let ts = ts.trim();
        return ts.parse::<i64>().map(OffsetSpec::Timestamp).map_err(|_| {
            Error::IllegalArgument(format!("Expected a single long value, got {ts}"))
        });
    }
    if let Some(json) = options.get(by_timestamp_key) {
        return parse_timestamps(json.trim()).map(OffsetSpec::Timestamps);
    }
    Ok(match options.get(offsets_key).map(|v| v.trim()) {
        None => default,
        Some(v) if v.eq_ignore_ascii_case("earliest") => OffsetSpec::Earliest,
        Some(v) if v.eq_ignore_ascii_case("latest") => OffsetSpec::Latest,
        Some(json) => OffsetSpec::Specific(parse_offsets(json)?),
    })
}

impl Subscription {
    /// How Spark's Kafka source describes it (`Subscribe[a,b]`, `SubscribePattern[p]`,
    /// `Assign[t-0, t-1]`).
    pub fn describe(&self) -> String {
        match self {
            Subscription::Topics(t) => format!("Subscribe[{}]", t.join(",")),
            Subscription::Pattern(p, _) => format!("SubscribePattern[{p}]"),
            Subscription::Assign(tps) => format!("Assign{}", crate::offsets::list(tps)),
        }
    }
}

impl SourceOptions {
    /// The consumer group id: `kafka.group.id`, else `groupIdPrefix` and a fresh id.
    pub fn group_id(&self) -> String {
        self.group_id
            .clone()
            .unwrap_or_else(|| format!("{}-{}", self.group_id_prefix, uuid::Uuid::new_v4()))
    }

    fn general(options: &BTreeMap<String, String>, starting_default: OffsetSpec) -> Result<Self> {
        let subscription = subscription(options)?;
        let min_partitions = match long(options, "minpartitions")? {
            Some(p) if p <= 0 => {
                return Err(Error::IllegalArgument(
                    "minPartitions must be positive".into(),
                ));
            }
            p => p.map(|p| usize::try_from(p).unwrap_or(usize::MAX)),
        };
        if let Some(p) = long(options, "maxrecordsperpartition")?
            && p <= 0
        {
            return Err(Error::IllegalArgument(
                "maxrecordsperpartition must be positive".into(),
            ));
        }
        let client = client_settings(options)?;
        let max = long(options, "maxoffsetspertrigger")?;
        let min = long(options, "minoffsetspertrigger")?;
        if let (Some(min), Some(max)) = (min, max)
            && min > max
        {
            return Err(Error::IllegalArgument(format!(
                "The value of minOffsetPerTrigger({min}) is higher than the \
                 maxOffsetsPerTrigger({max})."
            )));
        }
        let max_trigger_delay = match options.get("maxtriggerdelay") {
            None => Duration::from_secs(15 * 60),
            Some(v) => spate_common::config::parse_duration(v, Duration::from_millis(1))
                .ok_or_else(|| {
                    Error::IllegalArgument(format!(
                        "Invalid value '{v}' for option 'maxTriggerDelay': a duration such as 15m"
                    ))
                })?,
        };
        let no_match_latest = match options
            .get("startingoffsetsbytimestampstrategy")
            .map(|v| v.trim().to_ascii_uppercase())
        {
            None => false,
            Some(v) if v == "ERROR" => false,
            Some(v) if v == "LATEST" => true,
            Some(v) => {
                return Err(Error::IllegalArgument(format!(
                    "No value found for '{v}' (option 'startingOffsetsByTimestampStrategy' takes \
                     error or latest)"
                )));
            }
        };
        let poll_timeout = long(options, "kafkaconsumer.polltimeoutms")?.unwrap_or(120_000);
        Ok(Self {
            client: client.clone(),
            subscription,
            starting: offset_spec(
                options,
                "startingtimestamp",
                "startingoffsetsbytimestamp",
                "startingoffsets",
                starting_default,
            )?,
            ending: offset_spec(
                options,
                "endingtimestamp",
                "endingoffsetsbytimestamp",
                "endingoffsets",
                OffsetSpec::Latest,
            )?,
            no_match_latest,
            fail_on_data_loss: boolean(options, "failondataloss", true)?,
            max_offsets_per_trigger: max,
            min_offsets_per_trigger: min,
            max_trigger_delay,
            min_partitions,
            include_headers: boolean(options, "includeheaders", false)?,
            poll_timeout: Duration::from_millis(u64::try_from(poll_timeout).unwrap_or(0)),
            group_id: options.get("kafka.group.id").cloned(),
            group_id_prefix: options
                .get("groupidprefix")
                .cloned()
                .unwrap_or_else(|| "spark-kafka-source".into()),
        })
    }

    /// The options of `readStream.format("kafka")`, checked as Spark checks them (starting
    /// at latest by default; no ending offsets).
    pub fn for_stream(options: &BTreeMap<String, String>) -> Result<Self> {
        if options.contains_key("endingoffsets") {
            return Err(Error::IllegalArgument(
                "ending offset not valid in streaming queries".into(),
            ));
        }
        if options.contains_key("endingoffsetsbytimestamp") {
            return Err(Error::IllegalArgument(
                "ending timestamp not valid in streaming queries".into(),
            ));
        }
        Self::general(options, OffsetSpec::Latest)
    }

    /// The options of `read.format("kafka")`, checked as Spark checks them (from earliest to
    /// latest by default).
    pub fn for_batch(options: &BTreeMap<String, String>) -> Result<Self> {
        let parsed = Self::general(options, OffsetSpec::Earliest)?;
        match &parsed.starting {
            OffsetSpec::Latest => {
                return Err(Error::IllegalArgument(
                    "starting offset can't be latest for batch queries on Kafka".into(),
                ));
            }
            OffsetSpec::Specific(offsets) => {
                if let Some((tp, _)) = offsets.iter().find(|(_, o)| **o == LATEST) {
                    return Err(Error::IllegalArgument(format!(
                        "startingOffsets for {tp} can't be latest for batch queries on Kafka"
                    )));
                }
            }
            _ => {}
        }
        match &parsed.ending {
            OffsetSpec::Earliest => {
                return Err(Error::IllegalArgument(
                    "ending offset can't be earliest for batch queries on Kafka".into(),
                ));
            }
            OffsetSpec::Specific(offsets) => {
                if let Some((tp, _)) = offsets.iter().find(|(_, o)| **o == EARLIEST) {
                    return Err(Error::IllegalArgument(format!(
                        "ending offset for {tp} can't be earliest for batch queries on Kafka"
                    )));
                }
            }
            _ => {}
        }
        if let (OffsetSpec::Specific(start), OffsetSpec::Specific(end)) =
            (&parsed.starting, &parsed.ending)
        {
            let (s, e): (Vec<_>, Vec<_>) = (start.keys().collect(), end.keys().collect());
            if s != e {
                let names = |tps: &[&TopicPartition]| {
                    tps.iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                return Err(Error::Runtime {
                    exception: "org.apache.spark.SparkException",
                    class: "MISMATCHED_TOPIC_PARTITIONS_BETWEEN_START_OFFSET_AND_END_OFFSET".into(),
                    message: format!(
                        "The specified start offset and end offset should have the same \
                         topic-partitions. Topic-partitions for start offset: Set({}), \
                         topic-partitions for end offset: Set({}).",
                        names(&s),
                        names(&e)
                    ),
                });
            }
            for (tp, s) in start {
                let e = end.get(tp).copied().unwrap_or(LATEST);
                if *s > e && *s >= 0 && e >= 0 {
                    return Err(Error::Runtime {
                        exception: "org.apache.spark.SparkException",
                        class: "UNRESOLVED_START_OFFSET_GREATER_THAN_END_OFFSET".into(),
                        message: format!(
                            "The specified start offset {s} is greater than the end offset {e} \
                             for topic {} partition {}.",
                            tp.topic, tp.partition
                        ),
                    });
                }
            }
        }
        Ok(parsed)
    }
}

/// The options of a Kafka write.
#[derive(Debug, Clone)]
pub struct SinkOptions {
    /// Kafka client settings (`kafka.` options without the prefix).
    pub client: Vec<(String, String)>,
    /// `topic`: the topic of every row, over a `topic` column.
    pub topic: Option<String>,
    /// Spate's `exactlyOnce` (a streaming write that a batch run again does not repeat).
    pub exactly_once: bool,
}

impl SinkOptions {
    /// The options of `write.format("kafka")` / `writeStream.format("kafka")`.
    pub fn parse(options: &BTreeMap<String, String>) -> Result<Self> {
        if !options.contains_key("kafka.bootstrap.servers") {
            return Err(Error::IllegalArgument(
                "Option 'kafka.bootstrap.servers' must be specified for configuring Kafka \
                 producer"
                    .into(),
            ));
        }
        for key in ["key.serializer", "value.serializer"] {
            if options.contains_key(&format!("kafka.{key}")) {
                let what = key.split('.').next().unwrap_or(key);
                return Err(Error::IllegalArgument(format!(
                    "Kafka option '{key}' is not supported as {what} are serialized with \
                     ByteArraySerializer."
                )));
            }
        }
        Ok(Self {
            client: options
                .iter()
                .filter_map(|(k, v)| Some((k.strip_prefix("kafka.")?.to_string(), v.clone())))
                .collect(),
            topic: options.get("topic").map(|t| t.trim().to_string()),
            exactly_once: boolean(options, "exactlyonce", false)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_lowercase(), v.to_string()))
            .collect()
    }

    fn message(r: Result<SourceOptions>) -> String {
        r.err().map(|e| e.to_string()).unwrap_or_default()
    }

    #[test]
    fn exactly_one_subscription() {
        let servers = ("kafka.bootstrap.servers", "h:1");
        assert!(
            message(SourceOptions::for_stream(&opts(&[servers]))).starts_with(
                "One of the following options must be specified for Kafka source: subscribe"
            )
        );
        assert!(
            message(SourceOptions::for_stream(&opts(&[
                servers,
                ("subscribe", "a"),
                ("assign", "{}")
            ])))
            .starts_with("Only one of the following options")
        );
        assert_eq!(
            message(SourceOptions::for_stream(&opts(&[
                servers,
                ("subscribe", " , ")
            ]))),
            "No topics to subscribe to as specified value for option 'subscribe' is ' , '"
        );
    }

    #[test]
    fn batch_reads_may_not_start_at_latest() {
        let base = [("kafka.bootstrap.servers", "h:1"), ("subscribe", "t")];
        let with = |extra: (&str, &str)| {
            let mut o = opts(&base);
            o.insert(extra.0.to_lowercase(), extra.1.into());
            message(SourceOptions::for_batch(&o))
        };
        assert_eq!(
            with(("startingOffsets", "latest")),
            "starting offset can't be latest for batch queries on Kafka"
        );
        assert_eq!(
            with(("endingOffsets", r#"{"t":{"0":-2}}"#)),
            "ending offset for t-0 can't be earliest for batch queries on Kafka"
        );
        assert_eq!(
            with(("startingTimestamp", "x")),
            "Expected a single long value, got x"
        );
    }

    #[test]
    fn client_settings_lose_their_prefix() -> Result<()> {
        let o = SourceOptions::for_stream(&opts(&[
            ("kafka.bootstrap.servers", "h:1"),
            ("kafka.security.protocol", "SASL_PLAINTEXT"),
            ("subscribePattern", "t.*"),
        ]))?;
        assert!(
            o.client
                .contains(&("security.protocol".into(), "SASL_PLAINTEXT".into()))
        );
        let Subscription::Pattern(_, p) = &o.subscription else {
            return Err(Error::internal("subscribePattern is no pattern"));
        };
        assert!(p.is_match("t1") && !p.is_match("xt1"));
        assert_eq!(o.starting, OffsetSpec::Latest);
        Ok(())
    }
}
