"""Shared helpers of the Kafka tests: topics made, records produced and records read back with
an independent client (kafka-python), never with Spate.

Producers send one record per request batch (`batch_size=0`): tansu 0.6.0's memory engine
reports a wrong high watermark after a batched produce (test_kafka_broker.py names the
defect), and a source reading "up to latest" would stop early through no fault of its own.
Records Spate writes are read back by fetching until nothing more comes, for the same reason.
"""

import uuid

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic


def new_topic(kafka, partitions=1, prefix="t"):
    name = f"{prefix}-{uuid.uuid4().hex[:10]}"
    admin = KafkaAdminClient(bootstrap_servers=kafka)
    try:
        admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])
    finally:
        admin.close()
    return name


def delete_topic(kafka, topic):
    admin = KafkaAdminClient(bootstrap_servers=kafka)
    try:
        admin.delete_topics([topic])
    finally:
        admin.close()


class Producer:
    """A kafka-python producer sending one record per batch; `send` waits for the broker."""

    def __init__(self, kafka):
        self.p = KafkaProducer(bootstrap_servers=kafka, batch_size=0, linger_ms=0)

    def send(self, topic, value, key=None, partition=0, headers=None, timestamp_ms=None):
        """Sends one record; returns its offset."""
        return self.send_meta(topic, value, key, partition, headers, timestamp_ms).offset

    def send_meta(self, topic, value, key=None, partition=0, headers=None, timestamp_ms=None):
        """Sends one record; returns the broker's acknowledgement (offset, timestamp)."""
        enc = lambda v: v.encode() if isinstance(v, str) else v  # noqa: E731
        return self.p.send(
            topic,
            value=enc(value),
            key=enc(key),
            partition=partition,
            headers=headers,
            timestamp_ms=timestamp_ms,
        ).get(timeout=30)

    def close(self):
        self.p.flush()
        self.p.close()


def produce(kafka, topic, values, partition=0, **kwargs):
    """Sends `values` to one partition; returns their offsets."""
    p = Producer(kafka)
    try:
        return [p.send(topic, v, partition=partition, **kwargs) for v in values]
    finally:
        p.close()


def fetch_all(kafka, topic, partitions=1, isolation_level="read_uncommitted"):
    """Every record of `topic` as (partition, offset, key, value, headers), read by fetching
    from offset 0 until nothing more comes for three seconds."""
    consumer = KafkaConsumer(
        bootstrap_servers=kafka,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=3000,
        isolation_level=isolation_level,
    )
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        for tp in tps:
            consumer.seek(tp, 0)
        return sorted(
            (m.partition, m.offset, m.key, m.value, list(m.headers or [])) for m in consumer
        )
    finally:
        consumer.close()


def reader(spark, kafka, stream=False, **options):
    """`spark.read` / `spark.readStream` of Kafka at the test broker with `options`."""
    r = (spark.readStream if stream else spark.read).format("kafka").option("kafka.bootstrap.servers", kafka)
    for k, v in options.items():
        r = r.option(k, v)
    return r.load()
