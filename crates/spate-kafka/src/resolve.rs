//! Turning Spark's starting and ending offset options into offsets: `earliest` and `latest` ask
//! the brokers, per-partition offsets replace -2 and -1 by them, and timestamps become the
//! first offset at or after them (or, where there is none, an error or latest as
//! `startingOffsetsByTimestampStrategy` says). Specific offsets and timestamps must name
//! exactly the partitions the subscription has, as Spark requires.

use spate_common::{Error, Result};

use crate::client::OffsetClient;
use crate::offsets::{EARLIEST, LATEST, PartitionOffsets, TopicPartition, scala_set};
use crate::options::OffsetSpec;

fn must_match(
    given: &PartitionOffsets,
    partitions: &[TopicPartition],
    class: &str,
    what: &str,
) -> Result<()> {
    let given_set: Vec<&TopicPartition> = given.keys().collect();
    let assigned: Vec<&TopicPartition> = partitions.iter().collect();
    if given_set == assigned {
        return Ok(());
    }
    Err(Error::Runtime {
        exception: "org.apache.spark.SparkException",
        class: class.into(),
        message: format!(
            "{what} Specified: {} Assigned: {}",
            scala_set(given.keys()),
            scala_set(partitions)
        ),
    })
}

/// The offsets `spec` gives `partitions` (`starting`: where a read starts; else where it ends).
pub fn resolve(
    client: &OffsetClient,
    spec: &OffsetSpec,
    partitions: &[TopicPartition],
    no_match_latest: bool,
    starting: bool,
) -> Result<PartitionOffsets> {
    let marks = client.watermarks(partitions)?;
    let low = |tp: &TopicPartition| marks.get(tp).map_or(0, |m| m.0);
    let high = |tp: &TopicPartition| marks.get(tp).map_or(0, |m| m.1);
    let by_time = |times: &PartitionOffsets| -> Result<PartitionOffsets> {
        let found = client.offsets_for_times(times)?;
        let mut out = PartitionOffsets::new();
        for (tp, ts) in times {
            let offset = match found.get(tp).copied().flatten() {
                Some(o) => o,
                None if no_match_latest || !starting => high(tp),
                None => {
                    return Err(Error::IllegalArgument(format!(
                        "No offset matched from request of topic-partition {tp} and timestamp \
                         {ts}."
                    )));
                }
            };
            out.insert(tp.clone(), offset);
        }
        Ok(out)
    };
    match spec {
        OffsetSpec::Earliest => Ok(partitions.iter().map(|tp| (tp.clone(), low(tp))).collect()),
        OffsetSpec::Latest => Ok(partitions.iter().map(|tp| (tp.clone(), high(tp))).collect()),
        OffsetSpec::Specific(given) => {
            must_match(
                given,
                partitions,
                "KAFKA_START_OFFSET_DOES_NOT_MATCH_ASSIGNED",
                "Partitions specified for Kafka start offsets don't match what are assigned. \
                 Maybe topic partitions are created or deleted while the query is running. Use \
                 -1 for latest, -2 for earliest.",
            )?;
            Ok(given
                .iter()
                .map(|(tp, o)| {
                    let o = match *o {
                        EARLIEST => low(tp),
                        LATEST => high(tp),
                        o => o,
                    };
                    (tp.clone(), o)
                })
                .collect())
        }
        OffsetSpec::Timestamp(ts) => {
            let times: PartitionOffsets = partitions.iter().map(|tp| (tp.clone(), *ts)).collect();
            by_time(&times)
        }
        OffsetSpec::Timestamps(given) => {
            must_match(
                given,
                partitions,
                "KAFKA_TIMESTAMP_OFFSET_DOES_NOT_MATCH_ASSIGNED",
                &format!(
                    "Partitions specified for Kafka timestamp based {} offsets don't match what \
                     are assigned. Maybe topic partitions are created or deleted while the query \
                     is running, or you didn't specify all the partitions.",
                    if starting { "starting" } else { "ending" }
                ),
            )?;
            by_time(given)
        }
    }
}
