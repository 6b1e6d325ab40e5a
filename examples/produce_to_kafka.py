"""Loads the generated example data (`python examples/generate_data.py`) into Kafka topics, for
the Kafka examples (ecommerce_kafka.py, crypto_kafka.py): seed 000's events into `events.raw`
and `events.enriched` (alternately) and `ecommerce.events`, seed 001's price messages into
`crypto-prices`. Uses kafka-python (python/requirements.txt).

Run: `python examples/produce_to_kafka.py [BOOTSTRAP] [DATA_DIR] [old|new|all]`
(defaults 127.0.0.1:9092, examples/data, all): `old` sends the first half of each data set,
`new` the second half — the seeds start at the latest offsets, so records sent before a
query's first run are not read, and those sent after it are.

One record per request (batch_size=0): tansu 0.6.0, the broker the tests run, reports a wrong
latest offset after batched produces (python/tests/test_kafka_broker.py).
"""

import sys
from pathlib import Path

from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

TOPICS = {"events.raw": 3, "events.enriched": 3, "ecommerce.events": 3, "crypto-prices": 2}


def halves(lines, part):
    middle = len(lines) // 2
    return {"old": lines[:middle], "new": lines[middle:], "all": lines}[part]


def main():
    bootstrap = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:9092"
    data = Path(sys.argv[2] if len(sys.argv) > 2 else "examples/data")
    part = sys.argv[3] if len(sys.argv) > 3 else "all"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    for name, partitions in TOPICS.items():
        try:
            admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])
        except TopicAlreadyExistsError:
            pass
    admin.close()
    producer = KafkaProducer(bootstrap_servers=bootstrap, batch_size=0, linger_ms=0)
    events = halves((data / "ecommerce" / "events" / "events.jsonl").read_text().splitlines(), part)
    for i, line in enumerate(events):
        producer.send("events.raw" if i % 2 == 0 else "events.enriched", line.encode())
        producer.send("ecommerce.events", line.encode())
    prices = []
    for f in sorted((data / "crypto" / "stream").iterdir()):
        prices += f.read_text().splitlines()
    prices = halves(prices, part)
    for line in prices:
        producer.send("crypto-prices", line.encode())
    producer.flush()
    producer.close()
    print(f"sent {len(events)} events and {len(prices)} prices ({part})")


if __name__ == "__main__":
    main()
