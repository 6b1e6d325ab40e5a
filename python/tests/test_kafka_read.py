"""Batch reads of Kafka (`spark.read.format("kafka")`) against a real broker (tansu), with
records produced by an independent client (kafka-python): Spark's schema, every column's value,
the subscription options, starting and ending offsets and timestamps, and Spark's errors for
options it refuses (messages as Spark's KafkaSourceProvider raises them)."""

import json
import time

import pytest
from pyspark.errors import IllegalArgumentException, PySparkException
from pyspark.sql.types import (
    ArrayType,
    BinaryType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from kafka_cases import Producer, new_topic, produce, reader

# Spark's Kafka source schema (Structured Streaming + Kafka Integration Guide)
KAFKA_SCHEMA = StructType(
    [
        StructField("key", BinaryType()),
        StructField("value", BinaryType()),
        StructField("topic", StringType()),
        StructField("partition", IntegerType()),
        StructField("offset", LongType()),
        StructField("timestamp", TimestampType()),
        StructField("timestampType", IntegerType()),
    ]
)
HEADERS = StructField(
    "headers",
    ArrayType(StructType([StructField("key", StringType()), StructField("value", BinaryType())])),
)

def rows(df):
    """Each record as (key, value, topic, partition, offset, timestamp in ms, timestampType)."""
    return sorted(
        (
            None if r.key is None else bytes(r.key).decode(),
            None if r.value is None else bytes(r.value).decode(),
            r.topic,
            r.partition,
            r.offset,
            r.ts,
            r.timestampType,
        )
        for r in df.selectExpr("*", "unix_millis(timestamp) AS ts").collect()
    )


@pytest.fixture
def two_partitions(kafka):
    """A topic with records k0..k5 / v0..v5 alternating over partitions 0 and 1, produced
    150 ms apart: the records' expected rows, and for each record a time (ms) just before it
    was sent."""
    topic = new_topic(kafka, partitions=2)
    p = Producer(kafka)
    expected, marks = [], []
    for i in range(6):
        marks.append(int(time.time() * 1000))
        time.sleep(0.15)
        meta = p.send_meta(topic, f"v{i}", key=f"k{i}", partition=i % 2)
        expected.append((f"k{i}", f"v{i}", topic, i % 2, meta.offset, meta.timestamp, 0))
        time.sleep(0.15)
    p.close()
    return topic, expected, marks


def test_schema_is_sparks(spark, kafka, two_partitions):
    topic, _, _ = two_partitions
    assert reader(spark, kafka, subscribe=topic).schema == KAFKA_SCHEMA
    with_headers = reader(spark, kafka, subscribe=topic, includeHeaders="true").schema
    assert with_headers == StructType(KAFKA_SCHEMA.fields + [HEADERS])
    # Spark reads the flag case-insensitively, and the rows have the column the schema says
    rows_with = reader(spark, kafka, subscribe=topic, includeHeaders="True").collect()
    assert all(r.headers == [] for r in rows_with) and len(rows_with) == 6


def test_every_column_of_every_record(spark, kafka, two_partitions):
    topic, expected, _ = two_partitions
    assert [e[4] for e in expected if e[3] == 0] == [0, 1, 2]
    assert rows(reader(spark, kafka, subscribe=topic)) == sorted(expected)


def test_values_parse_as_the_seeds_parse_them(spark, kafka):
    topic = new_topic(kafka)
    events = [{"user": f"u{i}", "amount": i * 1.5} for i in range(4)]
    produce(kafka, topic, [json.dumps(e) for e in events])
    df = reader(spark, kafka, subscribe=topic).selectExpr(
        "from_json(CAST(value AS STRING), 'user STRING, amount DOUBLE') AS e"
    )
    got = sorted((r.e.user, r.e.amount) for r in df.collect())
    assert got == [(e["user"], e["amount"]) for e in events]


def test_headers_keys_and_null_values(spark, kafka):
    topic = new_topic(kafka)
    p = Producer(kafka)
    p.send(topic, "a", headers=[("h1", b"x"), ("h2", b"\x00\xff")])
    p.send(topic, None, key="tombstone")
    p.close()
    got = reader(spark, kafka, subscribe=topic, includeHeaders="true").orderBy("offset").collect()
    assert [(h.key, bytes(h.value)) for h in got[0].headers] == [("h1", b"x"), ("h2", b"\x00\xff")]
    assert got[0].key is None
    assert got[1].value is None and bytes(got[1].key) == b"tombstone"
    assert got[1].headers == []


def test_subscribe_pattern_and_assign(spark, kafka):
    a, b = new_topic(kafka, prefix="pat"), new_topic(kafka, partitions=2, prefix="pat")
    produce(kafka, a, ["a0"])
    produce(kafka, b, ["b0"], partition=0)
    produce(kafka, b, ["b1"], partition=1)
    both = reader(spark, kafka, subscribe=f"{a}, {b}")
    assert sorted(bytes(r.value).decode() for r in both.collect()) == ["a0", "b0", "b1"]
    # a whole-name match: the pattern of `a` alone, anchored
    only_a = reader(spark, kafka, subscribePattern=a.replace("-", "."))
    assert [bytes(r.value).decode() for r in only_a.collect()] == ["a0"]
    assigned = reader(spark, kafka, assign=json.dumps({b: [1]}))
    assert [(r.partition, bytes(r.value).decode()) for r in assigned.collect()] == [(1, "b1")]


def test_a_subscribed_topic_that_does_not_exist_reads_nothing(spark, kafka):
    df = reader(spark, kafka, subscribe="no-such-topic-anywhere")
    assert df.collect() == []


def test_assign_of_a_partition_that_does_not_exist(spark, kafka):
    topic = new_topic(kafka)
    with pytest.raises(PySparkException, match=f"does not host this topic-partition: {topic}-5"):
        reader(spark, kafka, assign=json.dumps({topic: [5]})).collect()


def test_starting_and_ending_offsets(spark, kafka, two_partitions):
    topic, expected, _ = two_partitions
    # partition 0 from offset 1 to 2; partition 1 from earliest (-2) to latest (-1)
    df = reader(
        spark,
        kafka,
        subscribe=topic,
        startingOffsets=json.dumps({topic: {"0": 1, "1": -2}}),
        endingOffsets=json.dumps({topic: {"0": 2, "1": -1}}),
    )
    want = sorted(e for e in expected if (e[3] == 0 and e[4] == 1) or e[3] == 1)
    assert rows(df) == want


def test_starting_and_ending_timestamps(spark, kafka, two_partitions):
    topic, expected, marks = two_partitions
    # from the first record at or after the time before record 1 to the first at or after the
    # time before record 4 (not included); each partition has a record after that time
    # (tansu answers 0 where none is: test_a_timestamp_no_record_reaches)
    df = reader(spark, kafka, subscribe=topic, startingTimestamp=str(marks[1]), endingTimestamp=str(marks[4]))
    assert rows(df) == sorted(expected[1:4])
    per_partition = reader(
        spark,
        kafka,
        subscribe=topic,
        startingOffsetsByTimestamp=json.dumps({topic: {"0": marks[2], "1": marks[0]}}),
    )
    assert rows(per_partition) == sorted(e for i, e in enumerate(expected) if e[3] == 1 or i >= 2)


@pytest.mark.xfail(
    strict=True,
    reason="tansu 0.6.0 answers ListOffsets for a timestamp after every record with offset 0, "
    "not -1 (test_kafka_broker.py checks the broker for it)",
)
def test_a_timestamp_no_record_reaches(spark, kafka, two_partitions):
    topic, _, _ = two_partitions
    late = str(int(time.time() * 1000) + 3_600_000)
    with pytest.raises(IllegalArgumentException, match="No offset matched from request of topic-partition"):
        reader(spark, kafka, subscribe=topic, startingTimestamp=late).collect()
    # with the strategy `latest`, such partitions start at their end: nothing is read
    df = reader(spark, kafka, subscribe=topic, startingTimestamp=late, startingOffsetsByTimestampStrategy="latest")
    assert df.collect() == []


def test_client_settings_go_to_the_kafka_client(spark, kafka, two_partitions):
    topic, expected, _ = two_partitions
    # a consumer group id is allowed (Spark warns), and Kafka's settings pass through
    df = reader(spark, kafka, subscribe=topic, **{"kafka.group.id": "mine", "kafka.client.id": "spate-test"})
    assert rows(df) == sorted(expected)
    with pytest.raises(PySparkException, match="security.protocol"):
        reader(spark, kafka, subscribe=topic, **{"kafka.security.protocol": "NOT_A_PROTOCOL"}).collect()


@pytest.mark.parametrize(
    "options, message",
    [
        ({}, "One of the following options must be specified for Kafka source: subscribe, subscribepattern, assign"),
        ({"subscribe": "a", "assign": '{"a":[0]}'}, "Only one of the following options can be specified"),
        ({"subscribe": " , "}, "No topics to subscribe to as specified value for option 'subscribe' is ' , '"),
        ({"assign": "a"}, "No topicpartitions to assign as specified value for option 'assign' is 'a'"),
        ({"subscribePattern": " "}, "Pattern to subscribe is empty"),
        ({"subscribe": "a", "kafka.auto.offset.reset": "earliest"}, "Kafka option 'auto.offset.reset' is not supported"),
        ({"subscribe": "a", "kafka.key.deserializer": "x"}, "Kafka option 'key.deserializer' is not supported as keys"),
        ({"subscribe": "a", "kafka.value.deserializer": "x"}, "Kafka option 'value.deserializer' is not supported as values"),
        ({"subscribe": "a", "kafka.enable.auto.commit": "true"}, "Kafka option 'enable.auto.commit' is not supported"),
        ({"subscribe": "a", "kafka.interceptor.classes": "x"}, "Kafka option 'interceptor.classes' is not supported"),
        ({"subscribe": "a", "startingOffsets": "latest"}, "starting offset can't be latest for batch queries on Kafka"),
        ({"subscribe": "a", "endingOffsets": "earliest"}, "ending offset can't be earliest for batch queries on Kafka"),
        ({"subscribe": "a", "startingOffsets": '{"a":{"0":-1}}'}, "startingOffsets for a-0 can't be latest"),
        ({"subscribe": "a", "startingOffsets": "{bad"}, 'Expected e.g. {"topicA":{"0":23,"1":-1},"topicB":{"0":-2}}, got {bad'),
        ({"subscribe": "a", "startingTimestamp": "soon"}, "Expected a single long value, got soon"),
        ({"subscribe": "a", "minPartitions": "0"}, "minPartitions must be positive"),
        ({"subscribe": "a", "minOffsetsPerTrigger": "5", "maxOffsetsPerTrigger": "2"}, "The value of minOffsetPerTrigger(5) is higher than the maxOffsetsPerTrigger(2)."),
    ],
)
def test_options_spark_refuses(spark, kafka, options, message):
    with pytest.raises(IllegalArgumentException) as e:
        reader(spark, kafka, **options).collect()
    assert message in str(e.value)


def test_bootstrap_servers_are_required(spark):
    with pytest.raises(IllegalArgumentException, match="Option 'kafka.bootstrap.servers' must be specified"):
        spark.read.format("kafka").option("subscribe", "a").load().collect()


def test_start_after_end_is_sparks_error(spark, kafka, two_partitions):
    topic, _, _ = two_partitions
    with pytest.raises(PySparkException, match="UNRESOLVED_START_OFFSET_GREATER_THAN_END_OFFSET") as e:
        reader(
            spark,
            kafka,
            subscribe=topic,
            startingOffsets=json.dumps({topic: {"0": 2, "1": 0}}),
            endingOffsets=json.dumps({topic: {"0": 1, "1": 1}}),
        ).collect()
    assert e.value.getCondition() == "UNRESOLVED_START_OFFSET_GREATER_THAN_END_OFFSET"


def test_min_partitions_splits_ranges_as_spark_does(spark, kafka):
    from pyspark.sql import functions as F

    topic = new_topic(kafka, partitions=2)
    produce(kafka, topic, [f"a{i}" for i in range(10)], partition=0)
    produce(kafka, topic, [f"b{i}" for i in range(10)], partition=1)

    def partitions(**options):
        df = reader(spark, kafka, subscribe=topic, **options)
        return df.select(F.spark_partition_id().alias("p")).distinct().count(), sorted(
            bytes(r.value).decode() for r in df.collect()
        )

    every = sorted([f"a{i}" for i in range(10)] + [f"b{i}" for i in range(10)])
    # one Spark partition per topic partition; with minPartitions=6 each range of 10 of the
    # 20 offsets becomes round(10 / 20 * 6) = 3 pieces (Spark's KafkaOffsetRangeCalculator)
    assert partitions() == (2, every)
    assert partitions(minPartitions="6") == (6, every)
    assert partitions(minPartitions="2") == (2, every)
