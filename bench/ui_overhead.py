"""The web UI's overhead: TPC-H at scale factor SF on two Spate servers (release build) side by
side, one with the UI and the event log off (`spark.ui.enabled=false`), one with both on (the
UI on a free port, `spark.eventLog.enabled=true`, plus the key samplers every query gets).
Queries alternate between the two servers — off, on, off, on, ... — so that both see the same
machine; each query runs once to warm up on each, then RUNS timed `collect()`s on each. The
report gives each query's median time on both and the ratio on/off, and the geometric mean of
the ratios (the issue's target: under 1.03). The answers of the two servers are compared.

Usage (after bench/run.sh has built the release binary and bench/.venv):
    bench/.venv/bin/python bench/ui_overhead.py [--sf 1] [--runs 5] [--queries 1,3,5]
"""

import argparse
import datetime as dt
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run import TABLES, connect, free_port, normalize, same_rows  # noqa: E402


def start(binary, confs, log_path):
    port = free_port()
    cmd = [binary, "serve", "--port", str(port)]
    for c in confs:
        cmd += ["--conf", c]
    log = open(log_path, "w")
    env = {k: v for k, v in os.environ.items() if k not in ("SPARK_CONNECT_MODE_ENABLED", "SPARK_REMOTE")}
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env)
    spark = connect(f"sc://127.0.0.1:{port}", time.time() + 180, proc)
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    return proc, spark, log


def stop(proc, spark, log):
    spark.stop()
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)
    log.close()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sf", default="1")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--queries", default=",".join(str(i) for i in range(1, 23)))
    p.add_argument("--data-dir", default=str(HERE / "data"))
    p.add_argument("--name", default=None)
    args = p.parse_args()
    target = os.environ.get("CARGO_TARGET_DIR", str(Path.home() / ".cache" / "spate-target"))
    binary = str(Path(target) / "release" / "spate")
    data = Path(args.data_dir) / f"sf{args.sf}"
    if not (data / "lineitem").exists():
        subprocess.run([str(Path(sys.executable).parent / "tpchgen-cli"), "parquet", "-s", str(args.sf),
                        "--parts=4", f"--output-dir={data}"], check=True)
    out = HERE / "results"
    name = args.name or f"{dt.date.today().isoformat()}-ui-overhead"
    events = Path(tempfile.mkdtemp(prefix="spate-bench-events-"))
    logs = HERE / "logs"
    logs.mkdir(exist_ok=True)
    off = start(binary, ["spark.ui.enabled=false", "spark.eventLog.enabled=false"], logs / f"{name}-off.log")
    on = start(binary, [f"spark.ui.port={free_port()}", "spark.eventLog.enabled=true",
                        f"spark.eventLog.dir={events}"], logs / f"{name}-on.log")
    try:
        for _, spark, _ in (off, on):
            for t in TABLES:
                spark.read.parquet(str(data / t)).createOrReplaceTempView(t)
        results = {}
        for n in args.queries.split(","):
            q = f"q{int(n)}"
            sql = (HERE / "tpch" / "queries" / f"{q}.sql").read_text()
            rows = {}
            for label, (_, spark, _) in (("off", off), ("on", on)):
                rows[label] = [[normalize(v) for v in r] for r in spark.sql(sql).collect()]
            times = {"off": [], "on": []}
            for _ in range(args.runs):
                for label, (_, spark, _) in (("off", off), ("on", on)):
                    t0 = time.perf_counter()
                    spark.sql(sql).collect()
                    times[label].append(time.perf_counter() - t0)
            r = {k: statistics.median(v) for k, v in times.items()}
            r["ratio"] = r["on"] / r["off"]
            r["same"] = same_rows(rows["off"], rows["on"])
            results[q] = r
            print(f"{q:4} off {r['off']:7.3f} s  on {r['on']:7.3f} s  ratio {r['ratio']:.3f}"
                  f"{'' if r['same'] else '  DIFFERENT ANSWERS'}", flush=True)
    finally:
        stop(*off)
        stop(*on)
    geo = math.exp(statistics.mean(math.log(r["ratio"]) for r in results.values()))
    log_bytes = sum(f.stat().st_size for f in events.iterdir())
    report = {"sf": args.sf, "runs": args.runs, "queries": results, "geomean_ratio": geo,
              "event_log_bytes": log_bytes}
    (out / f"{name}.json").write_text(json.dumps(report, indent=2))
    lines = [f"# Web UI overhead, TPC-H SF{args.sf} ({dt.date.today().isoformat()})", "",
             "Two release `spate serve` processes on this machine, queries alternating between them; "
             f"median of {args.runs} timed runs after one warm-up each. `off`: `spark.ui.enabled=false`, "
             "no event log. `on`: the UI served, `spark.eventLog.enabled=true`. Ratio = on / off.", "",
             "| query | off (s) | on (s) | on / off | same answer |", "| --- | --- | --- | --- | --- |"]
    for q, r in results.items():
        lines.append(f"| {q} | {r['off']:.3f} | {r['on']:.3f} | {r['ratio']:.3f} | {'yes' if r['same'] else 'NO'} |")
    lines += ["", f"Geometric mean of on / off: **{geo:.3f}** (target: under 1.03). "
              f"Event log written: {log_bytes / 1024:.0f} KiB for {len(results) * (args.runs + 1)} queries."]
    (out / f"{name}.md").write_text("\n".join(lines) + "\n")
    print(f"geomean on/off {geo:.3f}; report in {out / (name + '.md')}")


if __name__ == "__main__":
    main()
