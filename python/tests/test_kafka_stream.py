"""The Kafka streaming source (`spark.readStream.format("kafka")`) against a real broker
(tansu), with records produced by kafka-python: where a query starts, how
`maxOffsetsPerTrigger` shares a trigger's offsets (Spark's rule, computed here), waiting with
`minOffsetsPerTrigger`/`maxTriggerDelay`, offsets in Spark's JSON in the checkpoint, restarts,
topics that appear and disappear (`failOnDataLoss`), and the source's progress metrics."""

import json
import math
import os
import time
import uuid

import pytest
from pyspark.errors import AnalysisException, IllegalArgumentException, StreamingQueryException

from kafka_cases import Producer, delete_topic, new_topic, produce, reader

_names = iter(range(10**6))


def start(df, checkpoint, trigger=None, name=None):
    name = name or f"k{os.getpid()}_{next(_names)}"
    w = df.selectExpr("CAST(value AS STRING) AS v", "partition", "offset").writeStream.format("memory")
    w = w.queryName(name).option("checkpointLocation", str(checkpoint))
    if trigger:
        w = w.trigger(**trigger)
    return w.start(), name


def values(spark, name):
    """The memory sink's values (none before its first batch)."""
    try:
        return sorted(r.v for r in spark.table(name).collect())
    except AnalysisException:
        return []


def offsets_file(checkpoint, n):
    """The source's offsets in `offsets/n` (the last line), parsed."""
    return json.loads((checkpoint / "offsets" / str(n)).read_text().splitlines()[-1])


def spark_rate_limit(limit, begin, end):
    """Spark's maxOffsetsPerTrigger rule (Kafka integration guide: "proportionally split across
    topicPartitions of different volume"): each partition gets limit * its share of what is
    waiting, rounded down, or up when below one; never past its end."""
    sizes = {p: end[p] - begin[p] for p in end if end[p] - begin[p] > 0}
    total = sum(sizes.values())
    out = {}
    for p in end:
        if p not in sizes:
            out[p] = end[p]
            continue
        share = limit * sizes[p] / total
        share = math.ceil(share) if share < 1 else math.floor(share)
        out[p] = min(end[p], begin[p] + share)
    return out


def test_a_new_query_starts_at_latest(spark, kafka, tmp_dir):
    topic = new_topic(kafka)
    produce(kafka, topic, ["before-0", "before-1", "before-2"])
    q, name = start(reader(spark, kafka, stream=True, subscribe=topic), tmp_dir)
    try:
        q.processAllAvailable()
        produce(kafka, topic, ["after-0", "after-1"])
        q.processAllAvailable()
        assert values(spark, name) == ["after-0", "after-1"]
        # Spark's initial-offset file: a zero byte, v1, the offsets where the query started
        initial = (tmp_dir / "sources" / "0" / "0").read_bytes()
        assert initial == b"\x00v1\n" + json.dumps({topic: {"0": 3}}, separators=(",", ":")).encode()
        assert offsets_file(tmp_dir, 0) == {topic: {"0": 5}}
    finally:
        q.stop()


def test_max_offsets_per_trigger_is_shared_as_spark_shares_it(spark, kafka, tmp_dir):
    topic = new_topic(kafka, partitions=2)
    produce(kafka, topic, [f"a{i}" for i in range(9)], partition=0)
    produce(kafka, topic, [f"b{i}" for i in range(3)], partition=1)
    df = reader(spark, kafka, stream=True, subscribe=topic, startingOffsets="earliest", maxOffsetsPerTrigger="4")
    q, name = start(df, tmp_dir, trigger={"availableNow": True})
    assert q.awaitTermination(60)
    assert q.exception() is None
    assert values(spark, name) == sorted([f"a{i}" for i in range(9)] + [f"b{i}" for i in range(3)])
    # the batches' ends by Spark's rule, from the start (0, 0) to the end (9, 3)
    ends, at, end = [], {0: 0, 1: 0}, {0: 9, 1: 3}
    while at != end:
        at = spark_rate_limit(4, at, end)
        ends.append({topic: {str(p): o for p, o in at.items()}})
    assert ends == [{topic: {"0": 3, "1": 1}}, {topic: {"0": 6, "1": 2}}, {topic: {"0": 9, "1": 3}}]
    progress = [json.loads(p.json) for p in q.recentProgress]
    assert [p["sources"][0]["endOffset"] for p in progress] == ends
    assert [offsets_file(tmp_dir, n) for n in range(3)] == ends
    assert [p["numInputRows"] for p in progress] == [4, 4, 4]
    first = progress[0]["sources"][0]
    assert first["description"] == f"KafkaV2[Subscribe[{topic}]]"
    assert first["startOffset"] is None
    assert first["latestOffset"] == {topic: {"0": 9, "1": 3}}
    # 9 - 3 and 3 - 1 offsets behind the newest
    assert first["metrics"] == {
        "avgOffsetsBehindLatest": "4.0",
        "maxOffsetsBehindLatest": "6",
        "minOffsetsBehindLatest": "2",
    }
    assert progress[1]["sources"][0]["startOffset"] == ends[0]


def test_a_restarted_query_goes_on_where_it_stopped(spark, kafka, tmp_dir):
    topic = new_topic(kafka, partitions=2)
    sent = []
    for i in range(6):
        produce(kafka, topic, [f"r{i}"], partition=i % 2)
        sent.append(f"r{i}")
    df = reader(spark, kafka, stream=True, subscribe=topic, startingOffsets="earliest")
    q, first = start(df, tmp_dir)
    q.processAllAvailable()
    q.stop()
    for i in range(6, 10):
        produce(kafka, topic, [f"r{i}"], partition=i % 2)
        sent.append(f"r{i}")
    # startingOffsets no longer matters: the checkpoint says where to go on
    df = reader(spark, kafka, stream=True, subscribe=topic, startingOffsets="latest")
    q, second = start(df, tmp_dir)
    try:
        q.processAllAvailable()
        assert values(spark, first) == sorted(sent[:6])
        assert values(spark, second) == sorted(sent[6:])
    finally:
        q.stop()


def test_starting_offsets_per_partition(spark, kafka, tmp_dir):
    topic = new_topic(kafka, partitions=2)
    produce(kafka, topic, ["p0-0", "p0-1", "p0-2"], partition=0)
    produce(kafka, topic, ["p1-0", "p1-1"], partition=1)
    starting = json.dumps({topic: {"0": 1, "1": -2}})
    q, name = start(reader(spark, kafka, stream=True, subscribe=topic, startingOffsets=starting), tmp_dir)
    try:
        q.processAllAvailable()
        assert values(spark, name) == ["p0-1", "p0-2", "p1-0", "p1-1"]
    finally:
        q.stop()


def test_topics_that_appear_start_at_their_earliest_offset(spark, kafka, tmp_dir):
    prefix = f"grow-{uuid.uuid4().hex[:8]}"
    first = new_topic(kafka, prefix=prefix)
    df = reader(spark, kafka, stream=True, subscribePattern=f"{prefix}-.*", startingOffsets="earliest")
    q, name = start(df, tmp_dir)
    try:
        produce(kafka, first, ["first-0"])
        q.processAllAvailable()
        second = new_topic(kafka, prefix=prefix)
        produce(kafka, second, ["second-0", "second-1"])
        q.processAllAvailable()
        assert values(spark, name) == ["first-0", "second-0", "second-1"]
        assert set(offsets_file(tmp_dir, q.lastProgress["batchId"])) == {first, second}
    finally:
        q.stop()


def test_a_deleted_topic_is_data_loss(spark, kafka, tmp_dir):
    topic = new_topic(kafka)
    produce(kafka, topic, ["x"])
    q, _ = start(reader(spark, kafka, stream=True, subscribe=topic, startingOffsets="earliest"), tmp_dir)
    q.processAllAvailable()
    delete_topic(kafka, topic)
    with pytest.raises(StreamingQueryException) as e:
        q.awaitTermination(60)
    assert "[KAFKA_DATA_LOSS.PARTITIONS_DELETED]" in str(e.value)
    assert f"Partitions Set({topic}-0) have been deleted." in str(e.value)
    assert not q.isActive


def test_without_fail_on_data_loss_a_deleted_topic_is_skipped(spark, kafka, tmp_dir):
    keep, gone = new_topic(kafka), new_topic(kafka)
    produce(kafka, keep, ["keep-0"])
    produce(kafka, gone, ["gone-0"])
    df = reader(
        spark, kafka, stream=True, subscribe=f"{keep},{gone}", startingOffsets="earliest", failOnDataLoss="false"
    )
    q, name = start(df, tmp_dir)
    try:
        q.processAllAvailable()
        delete_topic(kafka, gone)
        time.sleep(1)
        produce(kafka, keep, ["keep-1"])
        q.processAllAvailable()
        assert q.isActive and q.exception() is None
        assert values(spark, name) == ["gone-0", "keep-0", "keep-1"]
    finally:
        q.stop()


def test_min_offsets_per_trigger_waits_for_enough_or_the_delay(spark, kafka, tmp_dir):
    topic = new_topic(kafka)
    produce(kafka, topic, ["0"])
    df = reader(
        spark,
        kafka,
        stream=True,
        subscribe=topic,
        startingOffsets="earliest",
        minOffsetsPerTrigger="3",
        maxTriggerDelay="3s",
    )
    q, name = start(df, tmp_dir, trigger={"processingTime": "200 milliseconds"})
    try:
        # the first trigger goes ahead whatever it has (as in Spark)
        deadline = time.time() + 20
        while values(spark, name) != ["0"]:
            assert time.time() < deadline
            time.sleep(0.1)
        produce(kafka, topic, ["1"])
        sent = time.time()
        time.sleep(1.5)
        assert values(spark, name) == ["0"], "one new offset is fewer than minOffsetsPerTrigger"
        while values(spark, name) != ["0", "1"]:
            assert time.time() < sent + 20
            time.sleep(0.1)
        # it came once maxTriggerDelay had passed
        assert time.time() - sent > 2.5
        p = Producer(kafka)
        for v in ["2", "3", "4"]:
            p.send(topic, v)
        p.close()
        sent = time.time()
        while len(values(spark, name)) < 5:
            assert time.time() < sent + 2.5, "three new offsets are enough for a trigger"
            time.sleep(0.05)
        assert q.lastProgress["numInputRows"] == 3
    finally:
        q.stop()


@pytest.mark.parametrize(
    "options, message",
    [
        ({"endingOffsets": "latest"}, "ending offset not valid in streaming queries"),
        ({"endingOffsetsByTimestamp": "{}"}, "ending timestamp not valid in streaming queries"),
        ({"kafka.auto.offset.reset": "earliest"}, "Kafka option 'auto.offset.reset' is not supported."),
    ],
)
def test_stream_options_spark_refuses(spark, kafka, tmp_dir, options, message):
    with pytest.raises(IllegalArgumentException) as e:
        start(reader(spark, kafka, stream=True, subscribe="a", **options), tmp_dir)
    assert message in str(e.value)


def test_the_seeds_parse_of_the_value(spark, kafka, tmp_dir):
    topic = new_topic(kafka)
    events = [{"user_id": f"u{i % 2}", "amount": float(i)} for i in range(6)]
    produce(kafka, topic, [json.dumps(e) for e in events])
    parsed = (
        reader(spark, kafka, stream=True, subscribe=topic, startingOffsets="earliest")
        .selectExpr("from_json(CAST(value AS STRING), 'user_id STRING, amount DOUBLE') AS e")
        .selectExpr("e.user_id AS user_id", "e.amount AS amount")
        .groupBy("user_id")
        .sum("amount")
    )
    name = f"seedparse_{os.getpid()}"
    q = (
        parsed.writeStream.format("memory")
        .queryName(name)
        .outputMode("complete")
        .option("checkpointLocation", str(tmp_dir))
        .start()
    )
    try:
        q.processAllAvailable()
        got = sorted((r[0], r[1]) for r in spark.table(name).collect())
        want = {}
        for e in events:
            want[e["user_id"]] = want.get(e["user_id"], 0.0) + e["amount"]
        assert got == sorted(want.items())
    finally:
        q.stop()


def test_the_real_time_trigger_is_refused_as_not_supported(spark, kafka, tmp_dir):
    """Spark 4.2 runs Kafka streams in real-time mode; Spate runs them in micro-batches only,
    and says so rather than blaming the source as Spark's allowlist would for another one."""
    topic = new_topic(kafka)
    q = (
        reader(spark, kafka, stream=True, subscribe=topic)
        .writeStream.format("console")
        .outputMode("update")
        .option("checkpointLocation", str(tmp_dir))
        .trigger(realTime="5 seconds")
        .start()
    )
    with pytest.raises(StreamingQueryException) as e:
        q.awaitTermination(30)
    assert "[UNSUPPORTED_FEATURE] the real-time trigger (a Kafka stream runs with micro-batch triggers)" in str(e.value)


def test_the_continuous_trigger_runs_a_kafka_stream(spark, kafka, tmp_dir):
    """Spark's continuous mode reads Kafka; Spate runs it as immediate micro-batches."""
    topic = new_topic(kafka)
    produce(kafka, topic, ["c0", "c1"])
    name = f"cont_{os.getpid()}"
    q = (
        reader(spark, kafka, stream=True, subscribe=topic, startingOffsets="earliest")
        .selectExpr("CAST(value AS STRING) AS v", "partition", "offset")
        .writeStream.format("memory")
        .queryName(name)
        .option("checkpointLocation", str(tmp_dir))
        .trigger(continuous="1 second")
        .start()
    )
    try:
        q.processAllAvailable()
        assert values(spark, name) == ["c0", "c1"]
    finally:
        q.stop()
