"""Plans and planning time of TPC-H queries on several engines, to explain where one is slower.

For each engine (a server started as bench/run.py starts it) and query: the physical plan
(`df.explain(mode="formatted")` through pyspark-client, as the engine prints it), the median
time of `explain` (analysis and planning, no execution) and of `collect()` over 5 runs after a
warm-up. Writes bench/results/<date>-explain.md.

Usage: python bench/explain.py --engines spate,sail --queries 22,11,20 [--sf 1]
"""

import argparse
import contextlib
import datetime as dt
import io
import os
import statistics
import time
from pathlib import Path

import run

HERE = Path(__file__).resolve().parent


def timed(f, n=5):
    f()
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def engine_plans(engine, args, queries, data):
    with run.server(engine, args, f"{engine}-explain") as (spark, _sampler, _startup):
        for t in run.TABLES:
            spark.read.parquet(str(data / t)).createOrReplaceTempView(t)
        out = {}
        for name, sql in queries:
            buf = io.StringIO()
            with contextlib.redirect_stdout(buf):
                spark.sql(sql).explain(mode="formatted")
            plan_s = timed(lambda: spark.sql(sql).explain(mode="formatted"))
            run_s = timed(lambda: spark.sql(sql).collect())
            out[name] = {"plan": buf.getvalue(), "plan_s": plan_s, "run_s": run_s}
            print(f"{engine:6} {name:4} plan {plan_s:.3f} s  run {run_s:.3f} s", flush=True)
        return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sf", default="1")
    p.add_argument("--engines", default="spate,sail")
    p.add_argument("--queries", required=True)
    p.add_argument("--spark-python", default=os.environ.get("SPARK_PYTHON", "python3"))
    p.add_argument("--memory-limit", help="as in bench/run.py: the engines' memory pool")
    args = p.parse_args()
    args.out = HERE / "logs"
    args.out.mkdir(exist_ok=True)
    data = HERE / "data" / f"sf{args.sf}"
    names = [f"q{int(i)}" for i in args.queries.split(",")]
    queries = [(n, (HERE / "tpch" / "queries" / f"{n}.sql").read_text()) for n in names]
    engines = args.engines.split(",")
    plans = {e: engine_plans(e, args, queries, data) for e in engines}
    lines = [f"# Plans of TPC-H SF{args.sf} queries — {dt.date.today().isoformat()}", "",
             "Median of 5 after a warm-up: `explain` (analysis + planning) and `collect()`.", "",
             "| query | " + " | ".join(f"{e} plan (s) | {e} run (s)" for e in engines) + " |",
             "|---|" + "---|---|" * len(engines)]
    for n in names:
        lines.append(f"| {n} | " + " | ".join(f"{plans[e][n]['plan_s']:.3f} | {plans[e][n]['run_s']:.3f}"
                                              for e in engines) + " |")
    for n in names:
        for e in engines:
            lines += ["", f"## {n} on {e}", "", "```", plans[e][n]["plan"].rstrip(), "```"]
    path = HERE / "results" / f"{dt.date.today().isoformat()}-explain.md"
    path.write_text("\n".join(lines) + "\n")
    print(path)


if __name__ == "__main__":
    main()
