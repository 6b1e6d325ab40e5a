"""Writes to Kafka (`df.write.format("kafka")`, `writeStream.format("kafka")`) against a real
broker (tansu), read back with kafka-python by fetching: values, keys, headers, the topic
option and column, the partition column, where keyed records land (the Java client's murmur2
partitioner, which Spark's producer uses), and Spark's errors for what a Kafka write must be
given."""

import pytest
from kafka.partitioner.default import murmur2
from pyspark.errors import AnalysisException, PySparkException

from kafka_cases import fetch_all, new_topic, produce, reader


def writer(df, kafka, **options):
    w = df.write.format("kafka").option("kafka.bootstrap.servers", kafka)
    for k, v in options.items():
        w = w.option(k, v)
    return w


def test_values_and_keys_to_the_topic_of_the_option(spark, kafka):
    topic = new_topic(kafka)
    df = spark.createDataFrame([(f"k{i}", f"v{i}") for i in range(20)], "key STRING, value STRING")
    writer(df, kafka, topic=topic).save()
    got = fetch_all(kafka, topic)
    assert sorted((k.decode(), v.decode()) for _, _, k, v, _ in got) == [(f"k{i}", f"v{i}") for i in sorted(range(20), key=lambda i: f"k{i}")]
    assert [o for _, o, _, _, _ in got] == list(range(20))


def test_keyed_records_land_where_the_java_client_puts_them(spark, kafka):
    topic = new_topic(kafka, partitions=3)
    keys = [f"user-{i}" for i in range(30)]
    df = spark.createDataFrame([(k, k.upper()) for k in keys], "key STRING, value STRING")
    writer(df, kafka, topic=topic).save()
    got = fetch_all(kafka, topic, partitions=3)
    # Kafka's default partitioner: murmur2 of the key's bytes, positive, modulo partitions
    want = sorted((murmur2(k.encode()) & 0x7FFFFFFF) % 3 for k in keys)
    assert sorted(p for p, _, _, _, _ in got) == want
    assert {k.decode(): p for p, _, k, _, _ in got} == {k: (murmur2(k.encode()) & 0x7FFFFFFF) % 3 for k in keys}


def test_the_topic_column_and_the_option_over_it(spark, kafka):
    a, b, c = new_topic(kafka), new_topic(kafka), new_topic(kafka)
    df = spark.createDataFrame([(a, "to-a"), (b, "to-b"), (a, "to-a-2")], "topic STRING, value STRING")
    writer(df, kafka).save()
    assert sorted(v.decode() for *_, v, _ in fetch_all(kafka, a)) == ["to-a", "to-a-2"]
    assert [v.decode() for *_, v, _ in fetch_all(kafka, b)] == ["to-b"]
    writer(df, kafka, topic=c).save()
    assert sorted(v.decode() for *_, v, _ in fetch_all(kafka, c)) == ["to-a", "to-a-2", "to-b"]


def test_partition_headers_binary_and_null_values(spark, kafka):
    topic = new_topic(kafka, partitions=2)
    df = spark.sql(
        "SELECT * FROM VALUES "
        "(CAST(1 AS INT), CAST('a' AS BINARY), array(named_struct('key', 'h', 'value', CAST('x' AS BINARY)))), "
        "(CAST(0 AS INT), CAST(NULL AS BINARY), CAST(NULL AS ARRAY<STRUCT<key: STRING, value: BINARY>>)) "
        "AS t(partition, value, headers)"
    )
    writer(df, kafka, topic=topic).save()
    got = fetch_all(kafka, topic, partitions=2)
    assert got == [(0, 0, None, None, []), (1, 0, None, b"a", [("h", b"x")])]


def test_what_spark_reads_back(spark, kafka):
    topic = new_topic(kafka)
    df = spark.createDataFrame([("k", "v")], "key STRING, value STRING")
    writer(df, kafka, topic=topic).save()
    row = reader(spark, kafka, subscribe=topic).collect()[0]
    assert (bytes(row.key), bytes(row.value), row.topic, row.partition, row.offset) == (b"k", b"v", topic, 0, 0)


@pytest.mark.parametrize(
    "sql, options, message",
    [
        ("SELECT 'x' AS key", {"topic": "t"}, "Required attribute 'value' not found"),
        (
            "SELECT 'x' AS value",
            {},
            "topic option required when no 'topic' attribute is present. Use the topic option for setting a topic.",
        ),
        ("SELECT 1 AS value", {"topic": "t"}, "value attribute unsupported type int. value must be a(n) string or binary"),
        ("SELECT 'v' AS value, 1 AS key", {"topic": "t"}, "key attribute unsupported type int. key must be a(n) string or binary"),
        ("SELECT 'v' AS value, 1 AS topic", {}, "topic attribute unsupported type int. topic must be a(n) string"),
        ("SELECT 'v' AS value, 'p' AS partition", {"topic": "t"}, "partition attribute unsupported type string. partition must be a(n) int"),
    ],
)
def test_what_a_kafka_write_must_be_given(spark, kafka, sql, options, message):
    with pytest.raises(AnalysisException) as e:
        writer(spark.sql(sql), kafka, **options).save()
    assert message in str(e.value)


def test_a_null_topic_in_the_data(spark, kafka):
    df = spark.sql("SELECT CAST(NULL AS STRING) AS topic, 'v' AS value")
    with pytest.raises(PySparkException) as e:
        writer(df, kafka).save()
    assert "[KAFKA_NULL_TOPIC_IN_DATA] The Kafka message data sent to the producer contains a null topic." in str(e.value)


@pytest.mark.parametrize("mode, name", [("overwrite", "Overwrite"), ("ignore", "Ignore")])
def test_save_modes_kafka_refuses(spark, kafka, mode, name):
    df = spark.sql("SELECT 'v' AS value")
    with pytest.raises(AnalysisException) as e:
        writer(df, kafka, topic="t").mode(mode).save()
    assert f"Save mode {name} not allowed for Kafka. Allowed save modes are Append and ErrorIfExists (default)." in str(e.value)


def test_a_stream_from_kafka_to_kafka(spark, kafka, tmp_dir):
    source, sink = new_topic(kafka), new_topic(kafka)
    produce(kafka, source, [f"m{i}" for i in range(10)])
    q = (
        reader(spark, kafka, stream=True, subscribe=source, startingOffsets="earliest")
        .selectExpr("CAST(offset AS STRING) AS key", "upper(CAST(value AS STRING)) AS value")
        .writeStream.format("kafka")
        .option("kafka.bootstrap.servers", kafka)
        .option("topic", sink)
        .option("checkpointLocation", str(tmp_dir))
        .start()
    )
    try:
        q.processAllAvailable()
        produce(kafka, source, ["m10"])
        q.processAllAvailable()
        got = sorted((k.decode(), v.decode()) for *_, k, v, _ in fetch_all(kafka, sink))
        assert got == sorted((str(i), f"M{i}") for i in range(11))
        assert q.lastProgress["sink"]["numOutputRows"] == 1
    finally:
        q.stop()


def test_a_streaming_kafka_write_is_checked_when_it_starts(spark, kafka, tmp_dir):
    rate = spark.readStream.format("rate").load()
    with pytest.raises(AnalysisException) as e:
        (
            rate.selectExpr("CAST(value AS STRING) AS key")
            .writeStream.format("kafka")
            .option("kafka.bootstrap.servers", kafka)
            .option("topic", "t")
            .option("checkpointLocation", str(tmp_dir))
            .start()
        )
    assert "Required attribute 'value' not found" in str(e.value)
    # and, as Spark, a Kafka sink needs a checkpoint location
    with pytest.raises(AnalysisException, match="checkpointLocation must be specified"):
        rate.selectExpr("CAST(value AS STRING) AS value").writeStream.format("kafka").option(
            "kafka.bootstrap.servers", kafka
        ).option("topic", "t").start()
