"""Benchmark harness: the same Spark SQL and DataFrame code, sent through the same PySpark
Connect client, to Spate, Apache Spark and Sail servers on this machine, over the same data.

Each engine runs as a Spark Connect server in its own process: Spate (`spate serve`, release
build), Apache Spark 4 in local mode with its Spark Connect plugin (a classic PySpark session
that serves Spark Connect, see spark_server.py), and Sail (`sail spark server`). The engines'
servers are up together and take turns: per TPC-H query one warm-up on each, then each timed
run of `collect()` goes round the engines, so that the drift of this machine's speed (20-40%
within an hour) falls on all of them alike. For each engine the harness measures start-up
(launch to the first answered query), the median time and server CPU time (user + system of
its process tree) of the N timed runs, and the peak resident memory of the server's process
tree. Then the seed workloads (bench/workloads.py over bench/seed_data.py's 10 million
events), each in fresh servers, interleaved the same way: one warm-up and N timed runs of its
Parquet write, with the peak memory of each server during that workload. Results are compared
across engines (TPC-H: row counts and values with a float tolerance; workloads: a fingerprint of the written files); an
answer that differs from Spark's is reported as a failure, not a time.

Usage (bench/run.sh sets up the environment first):
    python bench/run.py --sf 1 --engines spate,spark,sail [--runs 3] [--queries 1,3,5|none]
                        [--workloads features_30d,indicators|none] [--events 10000000] [--name NAME]
"""

import argparse
import contextlib
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

import workloads as seed_workloads

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TABLES = ["customer", "lineitem", "nation", "orders", "part", "partsupp", "region", "supplier"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def memory_bytes(text):
    """'4g', '512m' or a number of bytes."""
    units = {"k": 2**10, "m": 2**20, "g": 2**30}
    text = text.strip().lower()
    return int(float(text[:-1]) * units[text[-1]]) if text[-1] in units else int(text)


def server_command(engine, port, args):
    """The engine's server command line and its extra environment. With --memory-limit each
    engine gets its own notion of one: Spate's and Sail's memory pools (both DataFusion's
    spilling pool), Spark's driver JVM heap (local mode runs every task in the driver)."""
    limit = args.memory_limit
    if engine == "spate":
        target = os.environ.get("CARGO_TARGET_DIR", str(Path.home() / ".cache" / "spate-target"))
        cmd = [str(Path(target) / "release" / "spate"), "serve", "--port", str(port)]
        return cmd + (["--memory-limit", limit] if limit else []), {}
    if engine == "sail":
        env = {}
        if limit:
            env = {"SAIL_RUNTIME__MEMORY_POOL__TYPE": "fair",
                   "SAIL_RUNTIME__MEMORY_POOL__FAIR__MAX_SIZE": str(memory_bytes(limit))}
        return [str(Path(sys.executable).parent / "sail"), "spark", "server", "--port", str(port)], env
    if engine == "spark":
        return [args.spark_python, str(HERE / "spark_server.py"), str(port), limit or "8g"], {}
    raise SystemExit(f"unknown engine {engine}")


class MemorySampler:
    """Samples the resident memory of a process and its children; keeps the peak."""

    def __init__(self, pid):
        self.proc = psutil.Process(pid)
        self.peak = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def tree(self):
        """The server process and its living children."""
        try:
            return [self.proc] + self.proc.children(recursive=True)
        except psutil.Error:
            return []

    def total(self, measure):
        """`measure` summed over the process tree, skipping processes that just ended."""
        total = 0
        for p in self.tree():
            try:
                total += measure(p)
            except psutil.Error:
                pass
        return total

    def rss(self):
        return self.total(lambda p: p.memory_info().rss)

    def cpu(self):
        """User and system CPU seconds of the process and its living children so far."""
        return self.total(lambda p: sum(p.cpu_times()[:2]))

    def run(self):
        while not self.stop.is_set():
            self.peak = max(self.peak, self.rss())
            time.sleep(0.1)

    def reset(self):
        self.peak = self.rss()

    def close(self):
        self.stop.set()
        self.thread.join()


# Sessions whose first query failed while their server was starting. They are kept, never
# garbage-collected: pyspark-client's SparkSession.__del__ closes the client, which shuts down
# the thread pool every session's result iterators share, and when that runs on one of the
# pool's own threads it waits for itself (seen as a hang with two servers up at once; with
# one, as "cannot schedule new futures after shutdown").
_FAILED_SESSIONS = []


def connect(url, deadline, proc):
    from pyspark.sql import SparkSession

    last = None
    host, port = url.removeprefix("sc://").split(":")
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode} (see bench/logs)")
        try:  # no session until the server listens
            socket.create_connection((host, int(port)), timeout=1).close()
        except OSError as e:
            last = e
            time.sleep(0.2)
            continue
        spark = SparkSession.builder.remote(url).create()
        try:
            spark.sql("select 1").collect()
            return spark
        except Exception as e:  # listening, not answering yet
            _FAILED_SESSIONS.append(spark)
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


def fingerprint(path):
    """What a workload's output must agree on: row count, column names, and per column the
    null count plus the sum (numbers) or the number of distinct values (anything else)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    t = ds.dataset(str(path), format="parquet").to_table()
    cols = {}
    for name in t.column_names:
        c = t.column(name)
        entry = {"nulls": c.null_count}
        if pa.types.is_integer(c.type) or pa.types.is_floating(c.type) or pa.types.is_decimal(c.type):
            entry["sum"] = pc.sum(pc.cast(c, pa.float64())).as_py()
        else:
            entry["distinct"] = pc.count_distinct(c).as_py()
        cols[name] = entry
    return {"rows": t.num_rows, "columns": cols}


def same_fingerprint(a, b, approximate):
    if a["rows"] != b["rows"] or list(a["columns"]) != list(b["columns"]):
        return False
    for name, x in a["columns"].items():
        y = b["columns"][name]
        if x.keys() != y.keys() or x["nulls"] != y["nulls"] or x.get("distinct") != y.get("distinct"):
            return False
        if "sum" in x:
            if (x["sum"] is None) != (y["sum"] is None):
                return False
            tol = 0.02 if name in approximate else 1e-6
            if x["sum"] is not None and not math.isclose(x["sum"], y["sum"], rel_tol=tol, abs_tol=1e-6):
                return False
    return True


def run_workload(sessions, w, args):
    """One seed workload on every engine at once (a fresh server each): the warm-up and then
    each timed run go round the engines in turn, so that drift of the machine's speed falls
    on all of them alike."""
    res = {e: {"times": [], "cpu": []} for e in sessions}
    for e, (spark, sampler) in sessions.items():
        sampler.reset()
        for k, v in w.conf.items():
            spark.conf.set(k, v)
    for i in range(args.runs + 1):
        for e, (spark, sampler) in sessions.items():
            if "error" in res[e]:
                continue
            try:
                c0, t0 = sampler.cpu(), time.perf_counter()
                w.build(spark, args.seed_data).write.mode("overwrite").parquet(str(args.out_data / e / w.name))
                if i:  # the first run is the warm-up
                    res[e]["times"].append(time.perf_counter() - t0)
                    res[e]["cpu"].append(sampler.cpu() - c0)
            except Exception as ex:
                res[e]["error"] = f"{type(ex).__name__}: {str(ex).splitlines()[0][:200]}"
    for e, (spark, sampler) in sessions.items():
        r = res[e]
        if "error" not in r:
            r["median_s"] = statistics.median(r["times"])
            r["cpu_median_s"] = statistics.median(r["cpu"])
            r["fingerprint"] = fingerprint(args.out_data / e / w.name)
        r["peak_rss_mb"] = sampler.peak / 2**20
    return res


@contextlib.contextmanager
def server(engine, args, log_name):
    """Starts an engine's server; yields (session, memory sampler, seconds to the first answer)."""
    port = free_port()
    log = open(args.out / f"{log_name}.log", "w")
    started = time.time()
    # The client's pyspark marks the environment as Spark Connect only; the Spark server's
    # classic session must not inherit that.
    env = {k: v for k, v in os.environ.items() if k not in ("SPARK_CONNECT_MODE_ENABLED", "SPARK_REMOTE")}
    cmd, extra_env = server_command(engine, port, args)
    proc = subprocess.Popen(
        cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env | extra_env
    )
    sampler = MemorySampler(proc.pid)
    try:
        spark = connect(f"sc://127.0.0.1:{port}", time.time() + 180, proc)
        startup = time.time() - started
        spark.conf.set("spark.sql.session.timeZone", "UTC")
        yield spark, sampler, startup
        spark.stop()
    finally:
        sampler.close()
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def run_queries(sessions, args, queries, data):
    """The TPC-H queries on every engine's server, kept up together: per query, a warm-up on
    each engine (its answer is the one compared), then the timed runs go round the engines in
    turn, so that drift of the machine's speed falls on all of them alike."""
    out = {e: {} for e in sessions}
    for spark, _sampler in sessions.values():
        for t in TABLES:
            spark.read.parquet(str(data / t)).createOrReplaceTempView(t)
    for name, sql in queries:
        qs = {e: {"times": [], "cpu": []} for e in sessions}
        for e, (spark, _sampler) in sessions.items():
            try:
                qs[e]["rows"] = [[normalize(v) for v in r] for r in spark.sql(sql).collect()]
            except Exception as ex:
                qs[e]["error"] = f"{type(ex).__name__}: {str(ex).splitlines()[0][:200]}"
        for _ in range(args.runs):
            for e, (spark, sampler) in sessions.items():
                q = qs[e]
                if "error" in q:
                    continue
                try:
                    c0, t0 = sampler.cpu(), time.perf_counter()
                    spark.sql(sql).collect()
                    q["times"].append(time.perf_counter() - t0)
                    q["cpu"].append(sampler.cpu() - c0)
                except Exception as ex:
                    q["error"] = f"{type(ex).__name__}: {str(ex).splitlines()[0][:200]}"
        for e, q in qs.items():
            if "error" not in q:
                q["median_s"] = statistics.median(q["times"])
                q["cpu_median_s"] = statistics.median(q["cpu"])
            out[e][name] = q
            print(f"{e:6} {name:4} {q.get('median_s', float('nan')):8.3f} s {q.get('error', '')}", flush=True)
    return out


TRANSFER_COLUMNS = [
    "id",
    "CAST(id % 1000 AS INT) AS k",
    "CAST(id AS DOUBLE) / 7 AS x",
    "concat('name-', CAST(id % 100000 AS STRING)) AS s",
    "date_add(DATE'2020-01-01', CAST(id % 3650 AS INT)) AS d",
]


def run_transfer(spark, args, sampler):
    """Results to the client: `collect()` and `toPandas()` of args.transfer rows x 5 columns
    (long, int, double, string, date) made by the server, timed end to end in the client."""
    import pyarrow.compute as pc

    res = {"rows": args.transfer}
    df = spark.range(args.transfer).selectExpr(*TRANSFER_COLUMNS)
    sampler.reset()
    try:
        table = df.toArrow()  # the warm-up; its size is the MiB in MiB/s
        res["mib"] = table.nbytes / 2**20
        res["check"] = [table.num_rows, pc.sum(table.column("id")).as_py(), pc.sum(table.column("k")).as_py(),
                        pc.count_distinct(table.column("s")).as_py(), str(pc.max(table.column("d")).as_py())]
        del table
        for what, action in (("topandas", lambda: df.toPandas()), ("collect", lambda: df.collect())):
            times = []
            for _ in range(args.runs):
                t0 = time.perf_counter()
                out = action()
                times.append(time.perf_counter() - t0)
                assert len(out) == args.transfer, f"{what} gave {len(out)} rows"
                del out
            res[f"{what}_s"] = statistics.median(times)
    except Exception as e:
        res["error"] = f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"
    res["peak_rss_mb"] = sampler.peak / 2**20
    return res


@contextlib.contextmanager
def servers(engines, args, suffix=""):
    """Every engine's server, up together; yields {engine: (session, sampler)} and the
    start-up times."""
    with contextlib.ExitStack() as stack:
        sessions, startups = {}, {}
        for e in engines:
            spark, sampler, startup = stack.enter_context(server(e, args, f"{e}{suffix}"))
            sessions[e], startups[e] = (spark, sampler), startup
        yield sessions, startups


def run_engines(engines, args, queries, data):
    """TPC-H in one server per engine; each seed workload in fresh ones, so that its peak
    memory is its own; all engines' servers up together, their runs interleaved."""
    outs = {e: {"engine": e, "queries": {}, "workloads": {}} for e in engines}
    if queries:
        with servers(engines, args) as (sessions, startups):
            for e, (_spark, sampler) in sessions.items():
                outs[e]["startup_s"] = startups[e]
                sampler.reset()
            for e, qs in run_queries(sessions, args, queries, data).items():
                outs[e]["queries"] = qs
            for e, (_spark, sampler) in sessions.items():
                outs[e]["peak_rss_mb"] = sampler.peak / 2**20
    for w in args.workloads:
        with servers(engines, args, f"-{w.name}") as (sessions, startups):
            for e, res in run_workload(sessions, w, args).items():
                outs[e].setdefault("startup_s", startups[e])
                outs[e]["workloads"][w.name] = res
                print(f"{e:6} {w.name:16} {res.get('median_s', float('nan')):8.3f} s "
                      f"{res['peak_rss_mb']:7.0f} MiB {res.get('error', '')}", flush=True)
    if args.transfer:
        for e in engines:
            with server(e, args, f"{e}-transfer") as (spark, sampler, startup):
                outs[e].setdefault("startup_s", startup)
                outs[e]["transfer"] = res = run_transfer(spark, args, sampler)
            print(f"{e:6} toPandas {res.get('topandas_s', float('nan')):8.3f} s, collect "
                  f"{res.get('collect_s', float('nan')):8.3f} s {res['peak_rss_mb']:7.0f} MiB "
                  f"{res.get('error', '')}", flush=True)
    return [outs[e] for e in engines]


def geomean(xs):
    xs = [x for x in xs if x and x > 0]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else float("nan")


def statuses(by, ref, kind, names, same):
    """'ok', 'error' or 'wrong' (differs from the reference engine's answer) per (engine, name)."""
    status = {}
    for name in names:
        ref_r = by[ref][kind].get(name, {})
        for e, r in by.items():
            q = r[kind].get(name, {})
            if "error" in q or not q:
                status[(e, name)] = "error"
            elif e != ref and "error" not in ref_r and ref_r and not same(name, q, ref_r):
                status[(e, name)] = "wrong"
            else:
                status[(e, name)] = "ok"
    return status


def ratio_table(by, names, status, kind, others, label, memory=False):
    """Markdown rows of medians per engine and spate/other ratios; returns (lines, ratios)."""
    def t(e, name):
        q = by[e][kind].get(name, {})
        return q.get("median_s") if status.get((e, name)) == "ok" else None

    def cpu(e, name):
        q = by[e][kind].get(name, {})
        return q.get("cpu_median_s") if status.get((e, name)) == "ok" else None

    header = [label] + [f"{e} (s)" for e in by] + [f"spate/{o}" for o in others]
    header += [f"{e} cpu (s)" for e in by] + [f"spate/{o} cpu" for o in others]
    header += [f"{e} peak MiB" for e in by] if memory else []
    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    ratios = {o: [] for o in others}
    cpu_ratios = {o: [] for o in others}
    for name in names:
        cells = [f"{t(e, name):.3f}" if t(e, name) is not None else status[(e, name)] for e in by]
        for o in others:
            a, b = t("spate", name), t(o, name)
            if a and b:
                ratios[o].append(a / b)
            cells.append(f"{a / b:.2f}" if a and b else "—")
        cells += [f"{cpu(e, name):.2f}" if cpu(e, name) is not None else "—" for e in by]
        for o in others:
            a, b = cpu("spate", name), cpu(o, name)
            if a and b:
                cpu_ratios[o].append(a / b)
            cells.append(f"{a / b:.2f}" if a and b else "—")
        if memory:
            cells += [f"{by[e][kind].get(name, {}).get('peak_rss_mb', float('nan')):.0f}" for e in by]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines, ratios, cpu_ratios, t


CPU_NOTE = (" cpu: the median over the timed runs of the user and system CPU seconds the "
            "server's process tree spent during the run (psutil): the work done, which this "
            "machine's timing noise moves less than the elapsed time.")


def report(args, results, names):
    by = {r["engine"]: r for r in results}
    ref = "spark" if "spark" in by else results[0]["engine"]
    others = [e for e in ("spark", "sail") if e in by]
    wl_names = [w.name for w in args.workloads]
    approx = {w.name: w.approximate for w in args.workloads}
    q_status = statuses(by, ref, "queries", names, lambda n, a, b: same_rows(a["rows"], b["rows"]))
    w_status = statuses(by, ref, "workloads", wl_names,
                        lambda n, a, b: same_fingerprint(a["fingerprint"], b["fingerprint"], approx[n]))
    lines = [
        f"# Spate, Apache Spark and Sail — {dt.date.today().isoformat()}",
        "",
        f"Engines: {', '.join(by)}, each a Spark Connect server driven by pyspark-client, all up together; {args.runs} timed "
        f"runs after one warm-up, median, the engines taking turns run by run; answers checked against {ref}'s. Machine: {os.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB."
        + (f" Memory limit {args.memory_limit}: Spate `--memory-limit`, Sail's fair memory pool "
           f"(`SAIL_RUNTIME__MEMORY_POOL__*`), Spark's `spark.driver.memory`; peak RSS is the whole "
           f"server process tree, measured every 0.1 s." if args.memory_limit else ""),
    ]
    plot_names, plot_t = [], {}

    def section(title, intro, names_, status, kind, label, memory=False):
        rows, ratios, cpu_ratios, t = ratio_table(by, names_, status, kind, others, label, memory)
        section_lines = ["", title, "", intro + CPU_NOTE, ""] + rows + [""]
        for o in others:
            section_lines.append(f"Geometric mean of spate/{o} over the {kind} both answered right: "
                                 f"**{geomean(ratios[o]):.2f}** ({len(ratios[o])} {kind}); of the "
                                 f"server CPU time: {geomean(cpu_ratios[o]):.2f}.")
        plot_names.extend(names_)
        plot_t.update({n: t for n in names_})
        return section_lines

    if names:
        lines += section(f"## TPC-H SF{args.sf}", "Time of `spark.sql(query).collect()`.",
                         names, q_status, "queries", "query")
    if wl_names:
        lines += section(f"## Seed workloads, {args.events:,} events",
                         "Time of the workload's Parquet write (bench/workloads.py); peak RSS of the server "
                         "process tree during the workload's runs; outputs compared by fingerprint "
                         "(rows, columns, per-column null counts and sums or distinct counts).",
                         wl_names, w_status, "workloads", "workload", memory=True)
    if args.transfer:
        lines += transfer_section(args, by, others)
    lines += ["", "## Engines", "", "| engine | start-up (s) | TPC-H peak RSS (MiB) | queries ok | workloads ok |",
              "|---|---|---|---|---|"]
    for e, r in by.items():
        q_ok = sum(1 for n in names if q_status[(e, n)] == "ok")
        w_ok = sum(1 for n in wl_names if w_status[(e, n)] == "ok")
        lines.append(f"| {e} | {r.get('startup_s', float('nan')):.2f} | {r.get('peak_rss_mb', float('nan')):.0f} | "
                     f"{q_ok}/{len(names)} | {w_ok}/{len(wl_names)} |")
    failures = [f"{e} {n}: {st[(e, n)]}" + (f" ({by[e][kind][n]['error']})" if st[(e, n)] == "error" and n in by[e][kind] else "")
                for kind, st, ns in (("queries", q_status, names), ("workloads", w_status, wl_names))
                for e in by for n in ns if st[(e, n)] != "ok"]
    if failures:
        lines += ["", "Failures:", ""] + [f"- {f}" for f in failures]
    stamp = args.name or dt.date.today().isoformat()
    plot = args.results / f"{stamp}.png"
    plot_ratios(plot_names, others, lambda e, n: plot_t[n](e, n), plot)
    lines += ["", f"![spate / other per query and workload]({plot.name})", ""]
    md = args.results / f"{stamp}.md"
    md.write_text("\n".join(lines))
    (args.results / f"{stamp}.json").write_text(json.dumps(
        [{k: v for k, v in r.items() if k != "queries"} | {"queries": {n: {k: v for k, v in q.items() if k != "rows"} for n, q in r["queries"].items()}} for r in results],
        indent=1))
    print("\n".join(lines))
    return md


def transfer_section(args, by, others):
    """The results-to-the-client table: per engine and action, time, rows/s and MiB/s."""
    ref = by.get("spark", {}).get("transfer", {})
    lines = ["", f"## Results to the client, {args.transfer:,} rows x 5 columns", "",
             "`spark.range(n).selectExpr(long, int, double, string, date)` made by the server and "
             "pulled by the client: `toPandas()` and `collect()`, end to end. MiB is the Arrow size "
             "of the result (`toArrow().nbytes`); peak RSS is the server's during these runs. "
             "A result whose row count or column sums differ from Spark's is marked wrong.", "",
             "| engine | toPandas (s) | rows/s | MiB/s | collect (s) | rows/s | MiB/s | peak MiB | "
             + " | ".join(f"spate/{o} toPandas" for o in others) + " |",
             "|---" * (8 + len(others)) + "|"]
    spate = by.get("spate", {}).get("transfer", {})
    for e, r in by.items():
        t = r.get("transfer", {})
        if "error" in t or not t:
            lines.append(f"| {e} | error: {t.get('error', 'not run')} |")
            continue
        if ref and "check" in ref and t.get("check") != ref["check"]:
            lines.append(f"| {e} | wrong: {t.get('check')} vs spark's {ref['check']} |")
            continue
        cells = []
        for what in ("topandas", "collect"):
            secs = t[f"{what}_s"]
            cells += [f"{secs:.2f}", f"{t['rows'] / secs:,.0f}", f"{t['mib'] / secs:.0f}"]
        cells.append(f"{t['peak_rss_mb']:.0f}")
        for o in others:
            a, b = spate.get("topandas_s"), by[o].get("transfer", {}).get("topandas_s")
            cells.append(f"{a / b:.2f}" if a and b and e == "spate" else "")
        lines.append(f"| {e} | " + " | ".join(cells) + " |")
    return lines


def plot_ratios(names, others, t, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(14, 5))
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
    ax.set_xticklabels(names, rotation=45, ha="right")
    ax.set_ylabel("time ratio (lower: Spate faster)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sf", default="1")
    p.add_argument("--name", default=None, help="report file name under bench/results (default: the date)")
    p.add_argument("--engines", default="spate,spark,sail")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--queries", default=",".join(str(i) for i in range(1, 23)))
    p.add_argument("--workloads", default=",".join(w.name for w in seed_workloads.WORKLOADS))
    p.add_argument("--events", type=int, default=10_000_000)
    p.add_argument("--transfer", type=int, default=10_000_000,
                   help="rows of the collect/toPandas benchmark (0: skip it)")
    p.add_argument("--memory-limit", default=None,
                   help="e.g. 4g: Spate's and Sail's memory pool, Spark's driver heap")
    p.add_argument("--data-dir", default=str(HERE / "data"))
    p.add_argument("--spark-python", default=os.environ.get("SPARK_PYTHON", sys.executable))
    args = p.parse_args()
    args.results = HERE / "results"
    args.results.mkdir(exist_ok=True)
    args.out = HERE / "logs"
    args.out.mkdir(exist_ok=True)
    wanted = [] if args.workloads == "none" else args.workloads.split(",")
    args.workloads = [w for w in seed_workloads.WORKLOADS if w.name in wanted]
    args.seed_data = Path(args.data_dir) / f"seed-{args.events}"
    args.out_data = Path(args.data_dir) / "out"
    if args.workloads and not (args.seed_data / "DONE").exists():
        subprocess.run([sys.executable, str(HERE / "seed_data.py"), str(args.seed_data), "--events", str(args.events)],
                       check=True)
    data = Path(args.data_dir) / f"sf{args.sf}"
    if args.queries != "none" and not (data / "lineitem").exists():
        subprocess.run(
            [str(Path(sys.executable).parent / "tpchgen-cli"), "parquet", "-s", str(args.sf), "--parts=4", f"--output-dir={data}"],
            check=True,
        )
    names = [] if args.queries == "none" else [f"q{int(i)}" for i in args.queries.split(",")]
    queries = [(n, (HERE / "tpch" / "queries" / f"{n}.sql").read_text()) for n in names]
    results = run_engines(args.engines.split(","), args, queries, data)
    report(args, results, names)


if __name__ == "__main__":
    main()
