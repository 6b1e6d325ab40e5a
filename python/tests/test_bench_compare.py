"""bench/compare.py, the benchmark's regression guard, run as a script on two reports in
bench/run.py's JSON layout: it names exactly the queries and workloads more than 10% slower and
exits 1, and exits 0 when nothing regressed."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench" / "compare.py"


def report(path, engine_times, workload_times=None, other_engine=True):
    """A report with median times per query (None: the query failed)."""
    def entries(times):
        return {n: ({"times": [t] * 3, "median_s": t} if t is not None else {"times": [], "error": "boom"})
                for n, t in times.items()}
    data = [{"engine": "spate", "queries": entries(engine_times), "workloads": entries(workload_times or {})}]
    if other_engine:
        # Another engine's entry, much slower: must not be read for spate.
        data.append({"engine": "spark", "queries": entries({n: 100.0 for n in engine_times}), "workloads": {}})
    path.write_text(json.dumps(data))
    return path


def run(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True)


def test_names_exactly_the_queries_more_than_ten_percent_slower(tmp_path):
    old = report(tmp_path / "old.json", {"q1": 1.00, "q2": 0.50, "q3": 0.20, "q4": 2.00, "q5": 0.010},
                 {"features_30d": 20.0, "hot_key_join": 0.30})
    # q1 +25% (slower), q2 +8% (within), q3 exactly +10% (within), q4 -40% (faster),
    # q5 doubles but stays under the 0.02 s floor; features_30d +11% (slower).
    new = report(tmp_path / "new.json", {"q1": 1.25, "q2": 0.54, "q3": 0.22, "q4": 1.20, "q5": 0.019},
                 {"features_30d": 22.2, "hot_key_join": 0.15})
    r = run(old, new)
    assert r.returncode == 1, r.stdout + r.stderr
    tail = r.stdout.split("More than 10% slower:")[1]
    assert [line.split(" ")[1] for line in tail.strip().splitlines()] == ["q1", "features_30d"]
    assert "- q1 (queries): 1.000 s -> 1.250 s (1.25x)" in tail
    table = {line.split(" | ")[1]: line.split(" | ")[-1].rstrip(" |") for line in r.stdout.splitlines()
             if line.startswith("| queries") or line.startswith("| workloads")}
    assert table == {"q1": "slower", "q2": "same", "q3": "same", "q4": "faster", "q5": "below floor",
                     "features_30d": "slower", "hot_key_join": "faster"}


def test_threshold_option_and_clean_exit(tmp_path):
    old = report(tmp_path / "old.json", {"q1": 1.0, "q2": 1.0})
    new = report(tmp_path / "new.json", {"q1": 1.08, "q2": 0.5})
    r = run(old, new)
    assert r.returncode == 0 and "Nothing more than 10% slower." in r.stdout
    # geometric mean of 1.08 and 0.5
    assert f"Geometric mean new/old: {(1.08 * 0.5) ** 0.5:.3f} (2 timed)" in r.stdout
    r = run(old, new, "--threshold", "0.05")
    assert r.returncode == 1 and "- q1 (queries): 1.000 s -> 1.080 s (1.08x)" in r.stdout


def test_failed_new_and_gone_queries_are_listed_not_judged(tmp_path):
    old = report(tmp_path / "old.json", {"q1": 1.0, "q2": 1.0, "q3": 1.0})
    new = report(tmp_path / "new.json", {"q1": None, "q2": 1.0, "q9": 5.0})
    r = run(old, new)
    assert r.returncode == 0, r.stdout
    verdicts = {line.split(" | ")[1]: line.split(" | ")[-1].rstrip(" |") for line in r.stdout.splitlines()
                if line.startswith("| queries")}
    assert verdicts == {"q1": "failed", "q2": "same", "q3": "gone", "q9": "new"}


def test_engine_must_be_in_the_report(tmp_path):
    old = report(tmp_path / "old.json", {"q1": 1.0}, other_engine=False)
    r = run(old, old, "--engine", "sail")
    assert r.returncode != 0 and "no results for engine 'sail'" in r.stderr


def test_committed_report_against_itself_has_no_regression():
    committed = ROOT / "bench" / "results" / "2026-11-21.json"
    r = run(committed, committed)
    assert r.returncode == 0 and "Geometric mean new/old: 1.000 (28 timed)" in r.stdout
