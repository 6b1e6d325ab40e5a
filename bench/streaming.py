"""Structured Streaming benchmark (issue 21): the same streaming queries, through pyspark-client,
against Spate (release) and Apache Spark 4.0.1 (local mode, Spark Connect plugin) on this
machine, in the same run. Sail has no Structured Streaming and is listed as such.

Workloads:
- rate_noop: rate source -> filter and projection -> noop sink, processingTime 1 s.
- rate_window: rate source -> 10 s watermark -> 10 s tumbling window count -> noop (append).
  For both: rows per second of processing, i.e. the input rows of the batches after the first
  divided by the time those batches took (Spark's `processedRowsPerSecond`, summed over batches).
- file_parquet, file_delta: JSON files -> parse (the json source) -> Parquet / Delta,
  availableNow: rows per second of wall time from start() to the end of the query (Delta on
  Spate only: the local Spark server has no delta-spark package).
- one_row: one-row files arriving one at a time into a file stream -> memory sink: the
  median `triggerExecution` of those batches (trigger to commit, as the engine reports it),
  and, as `e2e`, the median time from the file's arrival to the client seeing the batch's
  progress (polling every 5 ms; it includes the engine's wait for new files).
Peak memory is the server's resident memory (with its children) during each workload.

Run: bench/.venv/bin/python bench/streaming.py --spark-python bench/.venv-spark/bin/python
(after `cargo build --release -p spate-cli`); writes bench/results/<name>.json and .md.
"""

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run import server  # noqa: E402 - the TPC-H harness's engine servers and memory sampler


def processed_rate(progress):
    """Input rows over busy seconds, for the batches after the first (the warm-up)."""
    batches = [p for p in progress[1:] if p.numInputRows > 0]
    rows = sum(p.numInputRows for p in batches)
    seconds = sum(p.durationMs["triggerExecution"] for p in batches) / 1000
    return (rows / seconds if seconds else 0.0), rows, len(batches)


def run_rate(spark, args, windowed):
    from pyspark.sql import functions as F

    df = spark.readStream.format("rate").option("rowsPerSecond", args.rows_per_second).load()
    if windowed:
        df = df.withWatermark("timestamp", "10 seconds").groupBy(F.window("timestamp", "10 seconds")).count()
    else:
        df = df.where(F.col("value") % 3 != 0).select((F.col("value") * 2).alias("v"), "timestamp")
    q = df.writeStream.format("noop").outputMode("append").trigger(processingTime="1 second").start()
    time.sleep(args.seconds)
    q.stop()
    rate, rows, batches = processed_rate(q.recentProgress)
    return {"rows_per_second": rate, "rows": rows, "batches": batches}


def run_file(spark, args, work, fmt):
    src, out = work / "in", work / fmt
    q = (
        spark.readStream.schema("id long, user string, amount double, ts timestamp")
        .option("maxFilesPerTrigger", 4)
        .json(str(src))
        .writeStream.format(fmt)
        .option("checkpointLocation", str(work / "ckpt"))
        .trigger(availableNow=True)
    )
    started = time.time()
    q = q.start(str(out))
    q.awaitTermination()
    seconds = time.time() - started
    rows = args.files * args.rows_per_file
    return {"rows_per_second": rows / seconds, "rows": rows, "seconds": seconds}


def run_one_row(spark, args, work):
    src = work / "one"
    src.mkdir()
    q = spark.readStream.schema("id long").json(str(src)).writeStream.format("memory").queryName("one_row").start()
    arrivals = []
    for i in range(args.one_row_batches):
        tmp = src / f".{i}.tmp"
        tmp.write_text(json.dumps({"id": i}) + "\n")
        written = time.time()
        os.rename(tmp, src / f"{i}.json")
        deadline = time.time() + 30
        while time.time() < deadline and len([p for p in q.recentProgress if p.numInputRows > 0]) <= i:
            time.sleep(0.005)
        arrivals.append((time.time() - written) * 1000)
        time.sleep(0.2)
    q.stop()
    took = [p.durationMs["triggerExecution"] for p in q.recentProgress if p.numInputRows > 0]
    return {
        "median_ms": statistics.median(took),
        "e2e_median_ms": statistics.median(arrivals),
        "batches": len(took),
        "all_ms": took,
        "e2e_ms": arrivals,
    }


def write_input(args, work):
    src = work / "in"
    src.mkdir()
    for f in range(args.files):
        with open(src / f"part-{f:03d}.json", "w") as out:
            for i in range(args.rows_per_file):
                n = f * args.rows_per_file + i
                out.write(f'{{"id": {n}, "user": "u{n % 997}", "amount": {n % 1000 / 10}, "ts": "2026-12-01T10:{n // 60000 % 60:02d}:{n // 1000 % 60:02d}Z"}}\n')


def run_engine(engine, args):
    if engine == "sail":
        return {"skipped": "Sail has no Structured Streaming"}
    results = {}
    with server(engine, args, f"streaming-{engine}") as (spark, sampler, startup):
        results["startup_s"] = startup
        for name in args.workloads.split(","):
            work = Path(tempfile.mkdtemp(prefix=f"spate-bench-{name}-"))
            try:
                if name.startswith("file_"):
                    if name == "file_delta" and engine == "spark":
                        r = {"skipped": "the local Spark server has no delta-spark package"}
                        print(engine, name, r, flush=True)
                        results[name] = r
                        continue
                    write_input(args, work)
                sampler.reset()
                if name == "rate_noop":
                    r = run_rate(spark, args, windowed=False)
                elif name == "rate_window":
                    r = run_rate(spark, args, windowed=True)
                elif name.startswith("file_"):
                    r = run_file(spark, args, work, name.removeprefix("file_"))
                else:
                    r = run_one_row(spark, args, work)
                r["peak_rss_mb"] = sampler.peak / 2**20
            except Exception as e:  # noqa: BLE001 - reported per workload
                r = {"error": f"{type(e).__name__}: {str(e).splitlines()[0][:300]}"}
            finally:
                shutil.rmtree(work, ignore_errors=True)
            print(engine, name, {k: v for k, v in r.items() if k != "all_ms"}, flush=True)
            results[name] = r
    return results


def report(args, results):
    lines = [
        f"# Structured Streaming benchmark ({time.strftime('%Y-%m-%d')})",
        "",
        f"Machine: {os.cpu_count()} cores. Engines: Spate (release), Apache Spark 4.0.1 local[*] "
        "(Spark Connect plugin); Sail has no Structured Streaming. "
        f"Rate source at {args.rows_per_second:,} rows/s for {args.seconds} s; "
        f"file_*: {args.files} files x {args.rows_per_file:,} JSON rows; "
        f"one_row: {args.one_row_batches} one-row files. Produced by `bench/streaming.py`.",
        "",
        "| workload | metric | Spate | Spark | Spate / Spark | peak MiB Spate | peak MiB Spark |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in args.workloads.split(","):
        s, k = results.get("spate", {}).get(name, {}), results.get("spark", {}).get(name, {})
        if name == "one_row":
            metric, a, b = "median trigger-to-commit ms (lower is better)", s.get("median_ms"), k.get("median_ms")
            ea, eb = s.get("e2e_median_ms"), k.get("e2e_median_ms")
            if ea and eb:
                lines.append(
                    f"| one_row e2e | median file-arrival-to-progress ms (lower is better) | {ea:,.0f} | {eb:,.0f} | {ea / eb:.2f}x | | |"
                )
        else:
            metric, a, b = "rows/s (higher is better)", s.get("rows_per_second"), k.get("rows_per_second")
        ratio = f"{a / b:.2f}x" if a and b else "-"
        fmt = (lambda v: f"{v:,.0f}" if isinstance(v, (int, float)) else (s.get("error") or s.get("skipped") or "-"))
        fmt_k = (lambda v: f"{v:,.0f}" if isinstance(v, (int, float)) else (k.get("error") or k.get("skipped") or "-"))
        lines.append(
            f"| {name} | {metric} | {fmt(a)} | {fmt_k(b)} | {ratio} | "
            f"{s.get('peak_rss_mb', 0):,.0f} | {k.get('peak_rss_mb', 0):,.0f} |"
        )
    lines += ["", "Raw numbers: the .json file next to this one."]
    return "\n".join(lines) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--engines", default="spate,spark,sail")
    p.add_argument("--workloads", default="rate_noop,rate_window,file_parquet,file_delta,one_row")
    p.add_argument("--rows-per-second", type=int, default=2_000_000)
    p.add_argument("--seconds", type=int, default=20)
    p.add_argument("--files", type=int, default=20)
    p.add_argument("--rows-per-file", type=int, default=100_000)
    p.add_argument("--one-row-batches", type=int, default=10)
    p.add_argument("--name", default=None)
    p.add_argument("--memory-limit", default=None)
    p.add_argument("--spark-python", default=os.environ.get("SPARK_PYTHON", sys.executable))
    args = p.parse_args()
    args.out = HERE / "logs"
    args.out.mkdir(exist_ok=True)
    results = {e: run_engine(e, args) for e in args.engines.split(",")}
    name = args.name or f"{time.strftime('%Y-%m-%d')}-streaming"
    (HERE / "results" / f"{name}.json").write_text(json.dumps(results, indent=1) + "\n")
    text = report(args, results)
    (HERE / "results" / f"{name}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
