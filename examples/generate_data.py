"""Generates the local data the seed examples read, deterministically (same bytes on every
machine): `python examples/generate_data.py [DATA_DIR]` (default examples/data).

- ecommerce/events/events.jsonl  seed 000's Kafka values: one JSON event per line (epoch-ms
                                 timestamps, revenue on purchases), with repeated deliveries
                                 (same event_id and timestamp) and a few malformed lines
- ecommerce/campaigns/           seed 000's reference data (Parquet): one row per campaign type
- crypto/bars/                   seed 001's minute bars (Parquet): 3 symbols over 2 days
- crypto/stream/                 the same bars as JSON messages, one file per 6 hours (the stream)
- ml/events/year=2024/month=M/   seed 002's events (Parquet, Hive-partitioned), Oct-Nov 2024
- ml/items/                      seed 002's item metadata (Parquet)
"""

import json
import os
import math
import random
import shutil
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

EVENT_TYPES = ["view", "click", "add_to_cart", "purchase"]
START = datetime(2024, 11, 15, tzinfo=timezone.utc)


def ecommerce(root: Path, rng: random.Random) -> None:
    events = root / "ecommerce" / "events"
    events.mkdir(parents=True)
    lines = []
    for i in range(3000):
        kind = rng.choices(EVENT_TYPES, weights=[60, 20, 12, 8])[0]
        ts = int((START + timedelta(seconds=rng.randrange(6 * 3600))).timestamp() * 1000) + rng.randrange(1000)
        event = {
            "event_id": f"e{i:05d}",
            "user_id": f"u{rng.randrange(120):03d}",
            "session_id": f"s{rng.randrange(400):03d}",
            "event_type": kind,
            "product_id": f"p{rng.randrange(50):02d}",
            "revenue": round(rng.uniform(5, 300), 2) if kind == "purchase" else None,
            "timestamp": ts,
            "metadata": json.dumps({"ua": rng.choice(["ios", "android", "web"])}),
        }
        lines.append(json.dumps(event))
        if rng.random() < 0.04:  # the producer retried: the same event again
            lines.append(json.dumps(event))
    for at in (10, 500, 1500, 2500, 2999):
        lines.insert(at, '{"event_id": "broken", "timestamp": ')
    (events / "events.jsonl").write_text("\n".join(lines) + "\n")
    campaigns = pa.table(
        {
            "campaign_type": EVENT_TYPES,
            "campaign_id": ["c-view", "c-click", "c-cart", "c-buy"],
            "category": ["awareness", "engagement", "engagement", "conversion"],
            "discount": [0.0, 0.05, 0.1, 0.15],
        }
    )
    (root / "ecommerce" / "campaigns").mkdir(parents=True)
    pq.write_table(campaigns, root / "ecommerce" / "campaigns" / "part-0.parquet")


def crypto(root: Path) -> None:
    rows = {k: [] for k in ["symbol", "timestamp", "open", "high", "low", "close", "volume"]}
    base_ts = datetime(2024, 1, 1, tzinfo=timezone.utc)
    for symbol, base in (("BTC", 40000.0), ("ETH", 2500.0), ("SOL", 100.0)):
        prev = base
        for i in range(2 * 24 * 60):
            close = round(base * (1 + 0.02 * math.sin(i / 37.0) + 0.01 * math.sin(i / 5.0) + 0.00002 * i), 4)
            rows["symbol"].append(symbol)
            rows["timestamp"].append(base_ts + timedelta(minutes=i))
            rows["open"].append(prev)
            rows["high"].append(round(max(prev, close) * 1.0005, 4))
            rows["low"].append(round(min(prev, close) * 0.9995, 4))
            rows["close"].append(close)
            rows["volume"].append(float(10 + (i * 7) % 13))
            prev = close
    schema = pa.schema(
        [
            ("symbol", pa.string()),
            ("timestamp", pa.timestamp("us", tz="UTC")),
            ("open", pa.float64()),
            ("high", pa.float64()),
            ("low", pa.float64()),
            ("close", pa.float64()),
            ("volume", pa.float64()),
        ]
    )
    (root / "crypto" / "bars").mkdir(parents=True)
    pq.write_table(pa.table(rows, schema=schema), root / "crypto" / "bars" / "part-0.parquet")
    # the same bars as the JSON messages of a price topic, in time order, one file per 6 hours:
    # what the streaming example reads in place of Kafka
    stream = root / "crypto" / "stream"
    stream.mkdir(parents=True)
    n = len(rows["symbol"])
    by_time = sorted(range(n), key=lambda i: (rows["timestamp"][i], rows["symbol"][i]))
    for part in range(8):
        lines = []
        for i in by_time:
            if int((rows["timestamp"][i] - base_ts).total_seconds() // (6 * 3600)) == part:
                message = {k: rows[k][i] for k in rows}
                message["timestamp"] = rows["timestamp"][i].strftime("%Y-%m-%dT%H:%M:%S.000Z")
                lines.append(json.dumps(message))
        path = stream / f"prices-{part}.json"
        path.write_text("\n".join(lines) + "\n")
        # the file source takes files in modification-time order
        os.utime(path, (1_700_000_000 + part, 1_700_000_000 + part))


def ml(root: Path, rng: random.Random) -> None:
    kinds = ["view", "click", "purchase"]
    months = {10: [], 11: []}
    start = datetime(2024, 10, 1, tzinfo=timezone.utc)
    for i in range(4000):
        ts = start + timedelta(seconds=rng.randrange(61 * 86400))
        kind = rng.choices(kinds, weights=[70, 20, 10])[0]
        user = f"user{rng.randrange(200):03d}"
        months[ts.month].append(
            {
                "user_id": user,
                "item_id": f"item{rng.randrange(300):03d}" if rng.random() > 0.02 else None,
                "event_type": kind,
                "event_timestamp": ts,
                "session_id": f"{user}-s{rng.randrange(6)}",
                "amount": round(rng.uniform(1, 500), 2) if kind == "purchase" else None,
                "device_type": rng.choice(["mobile", "desktop", "tablet"]),
                "event_date": ts.date(),
            }
        )
    schema = pa.schema(
        [
            ("user_id", pa.string()),
            ("item_id", pa.string()),
            ("event_type", pa.string()),
            ("event_timestamp", pa.timestamp("us", tz="UTC")),
            ("session_id", pa.string()),
            ("amount", pa.float64()),
            ("device_type", pa.string()),
            ("event_date", pa.date32()),
        ]
    )
    for month, rows in months.items():
        d = root / "ml" / "events" / "year=2024" / f"month={month}"
        d.mkdir(parents=True)
        rows.sort(key=lambda r: r["event_timestamp"])
        pq.write_table(pa.Table.from_pylist(rows, schema=schema), d / "part-0.parquet")
    items = pa.table(
        {
            "item_id": [f"item{i:03d}" for i in range(300)],
            "category": [["books", "games", "garden", "toys"][i % 4] for i in range(300)],
            "price_tier": [["low", "mid", "high"][i % 3] for i in range(300)],
            "avg_rating": [round(1 + (i * 37 % 400) / 100, 2) for i in range(300)],
            "age_days": [i * 3 % 700 for i in range(300)],
        }
    )
    (root / "ml" / "items").mkdir(parents=True)
    pq.write_table(items, root / "ml" / "items" / "part-0.parquet")


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "examples/data")
    for part in ("ecommerce", "crypto", "ml"):
        shutil.rmtree(root / part, ignore_errors=True)
    rng = random.Random(20241115)
    ecommerce(root, rng)
    crypto(root)
    ml(root, rng)
    print(f"wrote example data to {root}")


if __name__ == "__main__":
    main()
