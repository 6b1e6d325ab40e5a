"""Benchmark harness: the same Spark SQL, sent through the same PySpark Connect client, to Spate,
Apache Spark and Sail servers on this machine, over the same data.

Each engine runs as a Spark Connect server in its own process: Spate (`spate serve`, release
build), Apache Spark 4 in local mode with its Spark Connect plugin (a classic PySpark session
that serves Spark Connect, see spark_server.py), and Sail (`sail spark server`). For each engine
the harness measures start-up (launch to the first answered query), then per TPC-H query one
warm-up and N timed runs of `collect()` (median reported), and the peak resident memory of the
server's process tree. Results are compared across engines (row counts, values with a float
tolerance); a query whose answer differs from Spark's is reported as a failure, not a time.

Usage (bench/run.sh sets up the environment first):
    python bench/run.py --sf 1 --engines spate,spark,sail [--runs 3] [--queries 1,3,5]
"""

import argparse
import datetime as dt
import decimal
import json
import math
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TABLES = ["customer", "lineitem", "nation", "orders", "part", "partsupp", "region", "supplier"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_command(engine, port, args):
    if engine == "spate":
        target = os.environ.get("CARGO_TARGET_DIR", str(Path.home() / ".cache" / "spate-target"))
        return [str(Path(target) / "release" / "spate"), "serve", "--port", str(port)]
    if engine == "sail":
        return [str(Path(sys.executable).parent / "sail"), "spark", "server", "--port", str(port)]
    if engine == "spark":
        return [args.spark_python, str(HERE / "spark_server.py"), str(port)]
    raise SystemExit(f"unknown engine {engine}")


class MemorySampler:
    """Samples the resident memory of a process and its children; keeps the peak."""

    def __init__(self, pid):
        self.proc = psutil.Process(pid)
        self.peak = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def rss(self):
        total = 0
        try:
            procs = [self.proc] + self.proc.children(recursive=True)
        except psutil.Error:
            return 0
        for p in procs:
            try:
                total += p.memory_info().rss
            except psutil.Error:
                pass
        return total

    def run(self):
        while not self.stop.is_set():
            self.peak = max(self.peak, self.rss())
            time.sleep(0.1)

    def reset(self):
        self.peak = self.rss()

    def close(self):
        self.stop.set()
        self.thread.join()


def connect(url, deadline, proc):
    from pyspark.sql import SparkSession

    last = None
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode} (see bench/logs)")
        try:
            spark = SparkSession.builder.remote(url).create()
            spark.sql("select 1").collect()
            return spark
        except Exception as e:  # the server is not up yet
            last = e
            time.sleep(0.2)
    raise RuntimeError(f"server at {url} did not answer: {last}")


def normalize(v):
    if isinstance(v, decimal.Decimal):
        return float(v)
    if isinstance(v, (dt.date, dt.datetime)):
        return v.isoformat()
    return v


def same_value(a, b):
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            return a is b
        return math.isclose(float(a), float(b), rel_tol=1e-6, abs_tol=1e-2)
    return a == b


def same_rows(a, b):
    def eq(x, y):
        return len(x) == len(y) and all(
            len(r) == len(s) and all(same_value(u, v) for u, v in zip(r, s)) for r, s in zip(x, y)
        )

    if len(a) != len(b):
        return False
    # Rows that tie on the ORDER BY keys may come in either order.
    return eq(a, b) or eq(sorted(a, key=repr), sorted(b, key=repr))


def run_engine(engine, args, queries, data):
    port = free_port()
    log = open(args.out / f"{engine}.log", "w")
    started = time.time()
    # The client's pyspark marks the environment as Spark Connect only; the Spark server's
    # classic session must not inherit that.
    env = {k: v for k, v in os.environ.items() if k not in ("SPARK_CONNECT_MODE_ENABLED", "SPARK_REMOTE")}
    proc = subprocess.Popen(
        server_command(engine, port, args), stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env
    )
    sampler = MemorySampler(proc.pid)
    out = {"engine": engine, "queries": {}}
    try:
        spark = connect(f"sc://127.0.0.1:{port}", time.time() + 180, proc)
        out["startup_s"] = time.time() - started
        for t in TABLES:
            spark.read.parquet(str(data / t)).createOrReplaceTempView(t)
        sampler.reset()
        for name, sql in queries:
            q = {"times": []}
            try:
                rows = [[normalize(v) for v in r] for r in spark.sql(sql).collect()]
                q["rows"] = rows
                for _ in range(args.runs):
                    t0 = time.perf_counter()
                    spark.sql(sql).collect()
                    q["times"].append(time.perf_counter() - t0)
                q["median_s"] = statistics.median(q["times"])
            except Exception as e:
                q["error"] = f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"
            out["queries"][name] = q
            print(f"{engine:6} {name:4} {q.get('median_s', float('nan')):8.3f} s {q.get('error', '')}", flush=True)
        out["peak_rss_mb"] = sampler.peak / 2**20
        spark.stop()
    finally:
        sampler.close()
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
    return out


def geomean(xs):
    xs = [x for x in xs if x and x > 0]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else float("nan")


def report(args, results, names):
    by = {r["engine"]: r for r in results}
    ref = "spark" if "spark" in by else results[0]["engine"]
    status = {}
    for name in names:
        ref_q = by[ref]["queries"].get(name, {})
        for e, r in by.items():
            q = r["queries"].get(name, {})
            if "error" in q:
                status[(e, name)] = "error"
            elif e != ref and "rows" in ref_q and not same_rows(q["rows"], ref_q["rows"]):
                status[(e, name)] = "wrong"
            else:
                status[(e, name)] = "ok"

    def t(e, name):
        q = by.get(e, {}).get("queries", {}).get(name, {})
        return q.get("median_s") if status.get((e, name)) == "ok" else None

    others = [e for e in ("spark", "sail") if e in by]
    lines = [
        f"# TPC-H SF{args.sf} — {dt.date.today().isoformat()}",
        "",
        f"Engines: {', '.join(by)}; {args.runs} timed runs after one warm-up, median of `collect()` "
        f"through pyspark-client; answers checked against {ref}'s. Machine: {os.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB.",
        "",
        "| query | " + " | ".join(f"{e} (s)" for e in by) + " | " + " | ".join(f"spate/{o}" for o in others) + " |",
        "|---|" + "---|" * (len(by) + len(others)),
    ]
    ratios = {o: [] for o in others}
    for name in names:
        cells = []
        for e in by:
            v = t(e, name)
            cells.append(f"{v:.3f}" if v is not None else status[(e, name)])
        rs = []
        for o in others:
            a, b = t("spate", name), t(o, name)
            if a and b:
                ratios[o].append(a / b)
                rs.append(f"{a / b:.2f}")
            else:
                rs.append("—")
        lines.append(f"| {name} | " + " | ".join(cells) + " | " + " | ".join(rs) + " |")
    lines += ["", "| engine | start-up (s) | peak RSS (MiB) | queries ok |", "|---|---|---|---|"]
    for e, r in by.items():
        ok = sum(1 for n in names if status[(e, n)] == "ok")
        lines.append(f"| {e} | {r.get('startup_s', float('nan')):.2f} | {r.get('peak_rss_mb', float('nan')):.0f} | {ok}/{len(names)} |")
    lines.append("")
    for o in others:
        lines.append(f"Geometric mean of spate/{o} over the queries both answered right: **{geomean(ratios[o]):.2f}** ({len(ratios[o])} queries).")
    failures = [f"{e} {n}: {status[(e, n)]}" + (f" ({by[e]['queries'][n]['error']})" if status[(e, n)] == "error" else "")
                for e in by for n in names if status[(e, n)] != "ok"]
    if failures:
        lines += ["", "Failures:", ""] + [f"- {f}" for f in failures]
    stamp = dt.date.today().isoformat()
    plot = args.results / f"{stamp}.png"
    plot_ratios(names, others, t, plot)
    lines += ["", f"![spate / other per query]({plot.name})", ""]
    md = args.results / f"{stamp}.md"
    md.write_text("\n".join(lines))
    (args.results / f"{stamp}.json").write_text(json.dumps(
        [{k: v for k, v in r.items() if k != "queries"} | {"queries": {n: {k: v for k, v in q.items() if k != "rows"} for n, q in r["queries"].items()}} for r in results],
        indent=1))
    print("\n".join(lines))
    return md


def plot_ratios(names, others, t, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(12, 4.5))
    width = 0.8 / max(1, len(others))
    for i, o in enumerate(others):
        xs, ys = [], []
        for j, n in enumerate(names):
            a, b = t("spate", n), t(o, n)
            if a and b:
                xs.append(j + i * width)
                ys.append(a / b)
        ax.bar(xs, ys, width=width, label=f"spate / {o}")
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_yscale("log")
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(names))])
    ax.set_xticklabels(names)
    ax.set_ylabel("time ratio (lower: Spate faster)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sf", default="1")
    p.add_argument("--engines", default="spate,spark,sail")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--queries", default=",".join(str(i) for i in range(1, 23)))
    p.add_argument("--data-dir", default=str(HERE / "data"))
    p.add_argument("--spark-python", default=os.environ.get("SPARK_PYTHON", sys.executable))
    args = p.parse_args()
    args.results = HERE / "results"
    args.results.mkdir(exist_ok=True)
    args.out = HERE / "logs"
    args.out.mkdir(exist_ok=True)
    data = Path(args.data_dir) / f"sf{args.sf}"
    if not (data / "lineitem").exists():
        subprocess.run(
            [str(Path(sys.executable).parent / "tpchgen-cli"), "parquet", "-s", str(args.sf), "--parts=4", f"--output-dir={data}"],
            check=True,
        )
    names = [f"q{int(i)}" for i in args.queries.split(",")]
    queries = [(n, (HERE / "tpch" / "queries" / f"{n}.sql").read_text()) for n in names]
    results = [run_engine(e, args, queries, data) for e in args.engines.split(",")]
    report(args, results, names)


if __name__ == "__main__":
    main()
