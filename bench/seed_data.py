"""Deterministic data for the seed workloads (numpy + pyarrow, no engine involved).

- events/  (10 million rows by default): seed 002's event schema — user_id, item_id, event_type,
  event_timestamp (microseconds, UTC, 2024-10-01 to 2024-12-01), session_id, amount (set on
  purchases only), device_type. One viral item, `i0000000`, holds 30% of the events: the hot key
  of seed 002's opening story. The other items and the users are drawn uniformly.
- items/   item metadata: item_id, category, brand, price (small: a broadcast candidate).
- bars/    (the same number of rows): seed 001's price bars — symbol, timestamp (one bar a
  minute), close (a random walk), volume.

Each table is written as a fixed number of Parquet files. Usage:
    python bench/seed_data.py OUT_DIR [--events 10000000]
"""

import argparse
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

FILES = 8
USERS = 200_000
ITEMS = 50_000
SYMBOLS = 200
HOT_SHARE = 0.30
START_US = 1_727_740_800_000_000  # 2024-10-01T00:00:00Z
SPAN_US = 61 * 24 * 3600 * 1_000_000


def ids(prefix, numbers, width):
    """`prefix` followed by the zero-padded numbers, as an Arrow string array."""
    digits = pc.utf8_lpad(pc.cast(pa.array(numbers), pa.string()), width, "0")
    return pc.binary_join_element_wise(pa.scalar(prefix), digits, "")


def write(table, out, name):
    path = out / name
    path.mkdir(parents=True, exist_ok=True)
    step = -(-table.num_rows // FILES)
    for i in range(FILES):
        pq.write_table(table.slice(i * step, step), path / f"part-{i:02d}.parquet")


def events(n, rng):
    users = rng.integers(0, USERS, n)
    items = np.where(rng.random(n) < HOT_SHARE, 0, rng.integers(1, ITEMS, n))
    kinds = np.array(["view", "click", "add_to_cart", "purchase"])
    kind = kinds[rng.choice(4, n, p=[0.70, 0.20, 0.06, 0.04])]
    ts = np.sort(START_US + rng.integers(0, SPAN_US, n))
    half_hours = ts // (1800 * 1_000_000)
    amount = np.where(kind == "purchase", np.round(rng.lognormal(3.0, 1.0, n), 2), np.nan)
    devices = np.array(["mobile", "desktop", "tablet"])
    device = pa.array(devices[rng.choice(3, n, p=[0.6, 0.3, 0.1])], mask=rng.random(n) < 0.01)
    user_id = ids("u", users, 7)
    session_id = pc.binary_join_element_wise(
        pa.scalar("s"), pc.utf8_slice_codeunits(user_id, 1), pa.scalar("-"),
        pc.cast(pa.array(half_hours), pa.string()), ""
    )
    return pa.table({
        "user_id": user_id,
        "item_id": ids("i", items, 7),
        "event_type": pa.array(kind),
        "event_timestamp": pa.array(ts, pa.timestamp("us", tz="UTC")),
        "session_id": session_id,
        "amount": pa.array(amount, mask=np.isnan(amount)),
        "device_type": device,
    })


def items(rng):
    return pa.table({
        "item_id": ids("i", np.arange(ITEMS), 7),
        "category": ids("c", rng.integers(0, 20, ITEMS), 2),
        "brand": ids("b", rng.integers(0, 500, ITEMS), 3),
        "price": np.round(rng.lognormal(3.0, 1.0, ITEMS), 2),
    })


def bars(n, rng):
    per = n // SYMBOLS
    symbol = np.repeat(np.arange(SYMBOLS), per)
    minute = np.tile(np.arange(per), SYMBOLS)
    base = np.repeat(rng.uniform(1.0, 50_000.0, SYMBOLS), per)
    steps = rng.normal(0.0, 0.001, SYMBOLS * per).reshape(SYMBOLS, per)
    close = np.round(base * np.exp(np.cumsum(steps, axis=1)).ravel(), 4)
    return pa.table({
        "symbol": ids("S", symbol, 3),
        "timestamp": pa.array(START_US + minute * 60_000_000, pa.timestamp("us", tz="UTC")),
        "close": close,
        "volume": np.round(rng.uniform(0.1, 100.0, SYMBOLS * per), 3),
    })


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out")
    p.add_argument("--events", type=int, default=10_000_000)
    args = p.parse_args()
    out = Path(args.out)
    rng = np.random.default_rng(20241121)
    write(events(args.events, rng), out, "events")
    write(items(rng), out, "items")
    write(bars(args.events, rng), out, "bars")
    (out / "DONE").write_text(f"{args.events}\n")


if __name__ == "__main__":
    main()
