//! The Kafka streaming source (`spark.readStream.format("kafka")`), as Spark's
//! `KafkaMicroBatchStream` reads: a new query resolves `startingOffsets` (latest by default)
//! once and keeps them in `sources/<i>/0` (Spark's initial-offset file), so that a restart
//! before the first batch commits starts at the same place; each trigger asks the brokers for
//! every subscribed partition's latest offset and reads up to it, at most
//! `maxOffsetsPerTrigger` offsets spread over the partitions in proportion to what each has
//! waiting (never starving one), and with `minOffsetsPerTrigger` waits until that many are
//! waiting or `maxTriggerDelay` passed. Partitions that appear later start at their earliest
//! offset; partitions that disappear, or offsets that go backwards, are data loss: the query
//! fails with Spark's `KAFKA_DATA_LOSS` unless `failOnDataLoss` is false.
//!
//! Offsets are Spark's JSON (`{"topic":{"0":next}}`). Inside the engine a source offset is one
//! ordered number; here it names a set of partition offsets this source has seen (the numbers
//! grow with time, and equal sets get the same number), so the query's comparisons hold.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::logical_expr::LogicalPlan;
use spate_common::{Error, Result};
use spate_kafka::client::{OffsetClient, blocking};
use spate_kafka::offsets::{offsets_json, parse_offsets, scala_set};
use spate_kafka::read::{OffsetRange, ReadSettings, Reader, spread};
use spate_kafka::resolve::resolve;
use spate_kafka::{PartitionOffsets, SourceOptions, TopicPartition};
use spate_plan::streaming::StreamingScanNode;

use crate::checkpoint::Checkpoint;
use crate::micro_batch::memory_plan;

/// The offset sets seen, by number.
#[derive(Debug)]
struct Positions {
    next: i64,
    sets: BTreeMap<i64, Arc<PartitionOffsets>>,
}

impl Positions {
    /// The number of `offsets`: the newest set's if equal, else a new one (so that numbers
    /// keep the order in which offsets were seen).
    fn number(&mut self, offsets: PartitionOffsets) -> i64 {
        if let Some((n, _)) = self
            .sets
            .iter()
            .next_back()
            .filter(|(_, s)| ***s == offsets)
        {
            return *n;
        }
        let n = self.next;
        self.next += 1;
        self.sets.insert(n, Arc::new(offsets));
        n
    }
}

/// A Kafka topic subscription read as a stream.
#[derive(Debug)]
pub struct KafkaSource {
    options: SourceOptions,
    schema: SchemaRef,
    client: Arc<OffsetClient>,
    /// Reads the batches' offset ranges, keeping its consumers between batches.
    reader: Arc<Reader>,
    /// Where the initial offsets are kept (`sources/<i>/0`).
    initial_file: Option<std::path::PathBuf>,
    positions: Mutex<Positions>,
    /// Held while the initial offsets are being fixed.
    preparing: tokio::sync::Mutex<()>,
    /// What a bounded trigger (availableNow) reads up to.
    frozen: Mutex<Option<PartitionOffsets>>,
    /// The latest offsets the brokers reported last.
    newest: Mutex<PartitionOffsets>,
    /// When a trigger last went ahead under `minOffsetsPerTrigger` (`maxTriggerDelay` counts
    /// from it); none before the first.
    last_trigger: Mutex<Option<Instant>>,
}

fn lock<T>(m: &Mutex<T>) -> Result<MutexGuard<'_, T>> {
    m.lock()
        .map_err(|_| Error::internal("a Kafka source's lock was poisoned"))
}

/// Spark's `KAFKA_DATA_LOSS` error with sub-class `sub` (or, without `failOnDataLoss`, a
/// warning).
fn data_loss(fail: bool, sub: &str, reason: String) -> Result<()> {
    if fail {
        return Err(spate_kafka::offsets::data_loss(sub, &reason));
    }
    tracing::warn!(
        "{reason} Some data may have been lost because they are not available in Kafka any \
         more; either the data was aged out by Kafka or the topic may have been deleted before \
         all the data in the topic was processed. If you want your streaming query to fail on \
         such cases, set the source option \"failOnDataLoss\" to \"true\"."
    );
    Ok(())
}

impl KafkaSource {
    /// The source of `scan`, number `index` of its query (`checkpoint`: where its initial
    /// offsets are kept). Nothing is asked of the brokers until [`KafkaSource::prepare`].
    pub fn open(
        scan: &StreamingScanNode,
        checkpoint: Option<&Checkpoint>,
        index: usize,
    ) -> Result<Self> {
        let options = SourceOptions::for_stream(&scan.options)?;
        let group_id = options.group_id();
        let client = Arc::new(OffsetClient::connect(
            &options.client,
            &format!("{group_id}-driver"),
        )?);
        let reader = Arc::new(Reader::new(ReadSettings::of(
            &options,
            format!("{group_id}-executor"),
        ))?);
        Ok(Self {
            options,
            schema: scan.arrow_schema(),
            client,
            reader,
            initial_file: checkpoint.map(|c| c.source_dir(index).join("0")),
            positions: Mutex::new(Positions {
                next: 1,
                sets: BTreeMap::new(),
            }),
            preparing: tokio::sync::Mutex::new(()),
            frozen: Mutex::new(None),
            newest: Mutex::new(PartitionOffsets::new()),
            last_trigger: Mutex::new(None),
        })
    }

    /// Fixes the initial offsets (number 0): those the checkpoint kept, else `startingOffsets`
    /// resolved now and kept.
    pub async fn prepare(&self) -> Result<()> {
        let _one_at_a_time = self.preparing.lock().await;
        if lock(&self.positions)?.sets.contains_key(&0) {
            return Ok(());
        }
        let file = self.initial_file.clone();
        let initial = match file.as_deref().map(read_initial).transpose()?.flatten() {
            Some(offsets) => offsets,
            None => {
                let (c, o) = (Arc::clone(&self.client), self.options.clone());
                let offsets = blocking(move || {
                    let partitions = c.partitions(&o.subscription)?;
                    resolve(&c, &o.starting, &partitions, o.no_match_latest, true)
                })
                .await?;
                if let Some(file) = &file {
                    write_initial(file, &offsets)?;
                }
                offsets
            }
        };
        lock(&self.positions)?.sets.insert(0, Arc::new(initial));
        Ok(())
    }

    /// How Spark describes it in progress.
    pub fn description(&self) -> String {
        format!("KafkaV2[{}]", self.options.subscription.describe())
    }

    /// The offset before any batch: the initial offsets.
    pub fn initial(&self) -> i64 {
        0
    }

    /// The schema of its rows.
    pub fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn offsets(&self, n: i64) -> Result<Arc<PartitionOffsets>> {
        lock(&self.positions)?
            .sets
            .get(&n)
            .cloned()
            .ok_or_else(|| Error::internal(format!("a Kafka source has no offsets numbered {n}")))
    }

    /// Spark's JSON for offset `n`.
    pub fn offset_json(&self, n: i64) -> String {
        self.offsets(n)
            .map(|o| offsets_json(&o))
            .unwrap_or_else(|_| "{}".into())
    }

    /// The number of offsets in Spark's JSON.
    pub fn parse_offset(&self, text: &str) -> Option<i64> {
        let offsets = parse_offsets(text).ok()?;
        Some(lock(&self.positions).ok()?.number(offsets))
    }

    /// The latest offsets of every subscribed partition (new ones at their earliest).
    async fn fetch_latest(&self) -> Result<(PartitionOffsets, PartitionOffsets)> {
        let (client, subscription) = (Arc::clone(&self.client), self.options.subscription.clone());
        blocking(move || {
            let partitions = client.partitions(&subscription)?;
            let marks = client.watermarks(&partitions)?;
            let latest = marks.iter().map(|(tp, (_, h))| (tp.clone(), *h)).collect();
            let earliest = marks.iter().map(|(tp, (l, _))| (tp.clone(), *l)).collect();
            Ok((latest, earliest))
        })
        .await
    }

    /// Fixes what a bounded trigger reads: every offset there is now.
    pub async fn freeze(&self) -> Result<()> {
        let (latest, _) = self.fetch_latest().await?;
        *lock(&self.frozen)? = Some(latest);
        Ok(())
    }

    /// The offsets the next batch reads up to, after `committed` (`all_at_once`: no limit).
    pub async fn latest(&self, all_at_once: bool, committed: i64) -> Result<i64> {
        let (mut latest, earliest) = self.fetch_latest().await?;
        *lock(&self.newest)? = latest.clone();
        if let Some(frozen) = lock(&self.frozen)?.as_ref() {
            latest.retain(|tp, _| frozen.contains_key(tp));
            for (tp, end) in latest.iter_mut() {
                *end = frozen.get(tp).map_or(*end, |f| (*end).min(*f));
            }
        }
        let from = self.offsets(committed)?;
        let begin = |tp: &TopicPartition| from.get(tp).or(earliest.get(tp)).copied();
        if !all_at_once {
            if let Some(min) = self.options.min_offsets_per_trigger
                && self.delay(min, &latest, &from)?
            {
                return Ok(committed);
            }
            if let Some(limit) = self.options.max_offsets_per_trigger {
                latest = rate_limit(limit, &latest, begin);
            }
        }
        if *from == latest {
            return Ok(committed);
        }
        let mut positions = lock(&self.positions)?;
        // what came before the committed offsets is not looked up again
        positions.sets.retain(|n, _| *n >= committed);
        Ok(positions.number(latest))
    }

    /// Spark's `minOffsetsPerTrigger` rule: a trigger waits while fewer offsets than `min`
    /// are new, until `maxTriggerDelay` has passed since the last trigger that went ahead (the
    /// first goes ahead).
    fn delay(&self, min: i64, latest: &PartitionOffsets, from: &PartitionOffsets) -> Result<bool> {
        let mut last = lock(&self.last_trigger)?;
        if last.is_none_or(|t| t.elapsed() >= self.options.max_trigger_delay) {
            *last = Some(Instant::now());
            return Ok(false);
        }
        let new: i64 = latest
            .iter()
            .map(|(tp, end)| end - from.get(tp).copied().unwrap_or(0))
            .sum();
        if new < min {
            return Ok(true);
        }
        *last = Some(Instant::now());
        Ok(false)
    }

    /// Whether offset `committed` covers every offset of `target`.
    pub fn reached(&self, committed: i64, target: i64) -> bool {
        match (self.offsets(committed), self.offsets(target)) {
            (Ok(c), Ok(t)) => t
                .iter()
                .all(|(tp, end)| c.get(tp).is_some_and(|o| o >= end)),
            _ => committed >= target,
        }
    }

    /// The records after offset `start` up to offset `end`, read, as a plan; and how many.
    pub async fn batch(&self, start: i64, end: i64) -> Result<(LogicalPlan, u64)> {
        let (from, until) = (self.offsets(start)?, self.offsets(end)?);
        let fail = self.options.fail_on_data_loss;
        let deleted: Vec<TopicPartition> = from
            .keys()
            .filter(|tp| !until.contains_key(*tp))
            .cloned()
            .collect();
        if !deleted.is_empty() {
            data_loss(
                fail,
                "PARTITIONS_DELETED",
                format!("Partitions {} have been deleted.", scala_set(&deleted)),
            )?;
        }
        let added: Vec<TopicPartition> = until
            .keys()
            .filter(|tp| !from.contains_key(*tp))
            .cloned()
            .collect();
        let added_from = if added.is_empty() {
            BTreeMap::new()
        } else {
            let client = Arc::clone(&self.client);
            let added = added.clone();
            blocking(move || client.watermarks(&added)).await?
        };
        let mut ranges = Vec::with_capacity(until.len());
        for (tp, end) in until.iter() {
            let begin = match from.get(tp) {
                Some(b) => *b,
                None => {
                    let b = added_from.get(tp).map_or(0, |m| m.0);
                    if b != 0 {
                        data_loss(
                            fail,
                            "ADDED_PARTITION_DOES_NOT_START_FROM_OFFSET_ZERO",
                            format!("Added partition {tp} starts from {b} instead of 0."),
                        )?;
                    }
                    b
                }
            };
            if *end < begin {
                data_loss(
                    fail,
                    "PARTITION_OFFSET_CHANGED",
                    format!(
                        "Partition {tp} offset was changed from {begin} to {end}. This could \
                         either be a user error that the start offset is set too high and this \
                         is the first batch, or the kafka topic-partition is broken, and some \
                         data may have been missed."
                    ),
                )?;
                continue;
            }
            ranges.push(OffsetRange {
                tp: tp.clone(),
                from: begin,
                until: *end,
            });
        }
        let reader = Arc::clone(&self.reader);
        let min = self.options.min_partitions;
        let partitions = blocking(move || spread(reader.read(&ranges)?, min)).await?;
        let rows = partitions
            .iter()
            .flatten()
            .map(|b| b.num_rows() as u64)
            .sum();
        let partitions = if partitions.is_empty() {
            vec![vec![]]
        } else {
            partitions
        };
        Ok((memory_plan(self.schema(), partitions)?, rows))
    }

    /// Spark's `latestOffset` and source metrics for a batch that read up to `end`: how far
    /// each partition's newest offset is ahead of it.
    pub fn progress(&self, end: i64) -> (serde_json::Value, serde_json::Value) {
        let newest = lock(&self.newest).map(|n| n.clone()).unwrap_or_default();
        let latest = serde_json::from_str(&offsets_json(&newest)).unwrap_or_default();
        let Ok(end) = self.offsets(end) else {
            return (latest, serde_json::Value::Null);
        };
        let behind: Vec<i64> = end
            .iter()
            .filter_map(|(tp, e)| newest.get(tp).map(|n| (n - e).max(0)))
            .collect();
        if behind.is_empty() {
            return (latest, serde_json::Value::Null);
        }
        let avg = behind.iter().sum::<i64>() as f64 / behind.len() as f64;
        let metrics = serde_json::json!({
            "avgOffsetsBehindLatest": format!("{avg:.1}"),
            "maxOffsetsBehindLatest": behind.iter().max().copied().unwrap_or(0).to_string(),
            "minOffsetsBehindLatest": behind.iter().min().copied().unwrap_or(0).to_string(),
        });
        (latest, metrics)
    }
}

/// Spark's rate limit: `limit` offsets shared by the partitions in proportion to what each
/// has waiting (a partition's share rounded down, but at least one), never past its end.
fn rate_limit(
    limit: i64,
    until: &PartitionOffsets,
    begin: impl Fn(&TopicPartition) -> Option<i64>,
) -> PartitionOffsets {
    let sizes: BTreeMap<&TopicPartition, i64> = until
        .iter()
        .filter_map(|(tp, end)| {
            let size = end - begin(tp)?;
            (size > 0).then_some((tp, size))
        })
        .collect();
    let total = sizes.values().sum::<i64>() as f64;
    if total < 1.0 {
        return until.clone();
    }
    until
        .iter()
        .map(|(tp, end)| {
            let capped = match (sizes.get(tp), begin(tp)) {
                (Some(size), Some(b)) => {
                    let share = limit as f64 * (*size as f64 / total);
                    let share = if share < 1.0 {
                        share.ceil()
                    } else {
                        share.floor()
                    } as i64;
                    b.saturating_add(share).min(*end)
                }
                _ => *end,
            };
            (tp.clone(), capped)
        })
        .collect()
}

/// The initial offsets kept in `file`, in Spark's form (a zero byte, `v1`, the JSON).
fn read_initial(file: &Path) -> Result<Option<PartitionOffsets>> {
    let bytes = match std::fs::read(file) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Error::IllegalArgument(format!(
                "cannot read {}: {e}",
                file.display()
            )));
        }
    };
    let text = String::from_utf8_lossy(&bytes);
    let text = text.trim_start_matches('\0');
    let json = text.strip_prefix("v1\n").ok_or_else(|| {
        Error::IllegalArgument(format!(
            "{} is not a Kafka source's initial offsets (no 'v1' line)",
            file.display()
        ))
    })?;
    parse_offsets(json.trim()).map(Some)
}

fn write_initial(file: &Path, offsets: &PartitionOffsets) -> Result<()> {
    let fail =
        |e: std::io::Error| Error::IllegalArgument(format!("cannot write {}: {e}", file.display()));
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir).map_err(fail)?;
    }
    let tmp = file.with_extension("tmp");
    let mut bytes = vec![0u8];
    bytes.extend_from_slice(format!("v1\n{}", offsets_json(offsets)).as_bytes());
    std::fs::write(&tmp, bytes).map_err(fail)?;
    std::fs::rename(&tmp, file).map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offsets(pairs: &[(i32, i64)]) -> PartitionOffsets {
        pairs
            .iter()
            .map(|(p, o)| (TopicPartition::new("t", *p), *o))
            .collect()
    }

    #[test]
    fn the_limit_is_shared_in_proportion_and_no_partition_starves() {
        let begin = offsets(&[(0, 0), (1, 0), (2, 0)]);
        let until = offsets(&[(0, 900), (1, 99), (2, 1)]);
        let limited = rate_limit(100, &until, |tp| begin.get(tp).copied());
        // 100 * 900/1000 = 90; 100 * 99/1000 = 9.9 -> 9; 100 * 1/1000 = 0.1 -> 1
        assert_eq!(limited, offsets(&[(0, 90), (1, 9), (2, 1)]));
    }

    #[test]
    fn equal_offsets_have_one_number() {
        let mut p = Positions {
            next: 1,
            sets: BTreeMap::new(),
        };
        let a = p.number(offsets(&[(0, 1)]));
        let b = p.number(offsets(&[(0, 2)]));
        assert!(b > a);
        assert_eq!(p.number(offsets(&[(0, 2)])), b);
        // an older set seen again is newer than everything between
        assert!(p.number(offsets(&[(0, 1)])) > b);
    }
}
