"""Rows per partition of seed 002's hot-key shuffle join (bench/workloads.py's hot_key_join) on
Spate, with the adaptive skew join on and off: the join's output rows counted by
spark_partition_id(), on bench/seed_data.py's events (30% of them on one item). Starts a
release `spate serve` as bench/run.py does and prints a Markdown table.

Usage: python bench/partitions.py [--events 10000000] [--shuffle-partitions N]
(Spate caps the shuffle partitions at the machine's cores.)
"""

import argparse
import time
from pathlib import Path

from pyspark.sql import functions as F

import run
import workloads

HERE = Path(__file__).resolve().parent


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--events", type=int, default=10_000_000)
    p.add_argument("--data-dir", default=str(HERE / "data"))
    p.add_argument("--shuffle-partitions", default=None)
    args = p.parse_args()
    args.out = HERE / "logs"
    args.out.mkdir(exist_ok=True)
    data = Path(args.data_dir) / f"seed-{args.events}"
    print("| skew join | partition rows (largest first) | largest share | join + count time |")
    print("|---|---|---|---|")
    with run.server("spate", args, "spate-partitions") as (spark, _, _):
        spark.conf.set("spark.sql.autoBroadcastJoinThreshold", "-1")
        if args.shuffle_partitions:
            spark.conf.set("spark.sql.shuffle.partitions", args.shuffle_partitions)
        for enabled in ["false", "true"]:
            spark.conf.set("spark.sql.adaptive.skewJoin.enabled", enabled)
            events = workloads.read_events(spark, data)
            items = spark.read.parquet(str(data / "items"))
            joined = events.join(items, on="item_id", how="left")
            t0 = time.perf_counter()
            rows = joined.groupBy(F.spark_partition_id()).count().collect()
            took = time.perf_counter() - t0
            counts = sorted((r[1] for r in rows), reverse=True)
            share = counts[0] / sum(counts)
            label = "on" if enabled == "true" else "off"
            print(f"| {label} | {', '.join(f'{c:,}' for c in counts)} | {share:.1%} | {took:.2f} s |")


if __name__ == "__main__":
    main()
