"""Runs PySpark's own docstring examples against a Spark Connect server (issue 23).

The modules and, for each, the globals, option flags and docstring removals are those of the
module's `_test()` function in pyspark-client 4.2 (Spark runs its Connect doctests that way):
a docstring passes when every example in it gives the documented output.

Each module runs in a worker subprocess (`--worker`) that reports one JSON line per docstring;
the parent gives every docstring `--timeout` seconds, and kills and restarts a worker that
takes longer (the docstring counts as failed, "timeout").

`known_failures.txt` is the contract: one line per docstring expected to fail,
`<module>:<qualified name>  <one-line reason>` (the reason is what the docstring's first
failed example does, written by `--write-known`). A docstring not listed must pass; a listed one
that passes is reported too (strict), so the list only shrinks as Spate is fixed. A reason
starting with `flaky:` marks a docstring whose outcome varies from run to run (it is run and
counted, not checked); each says why.

    python python/conformance/doctests.py --remote sc://127.0.0.1:15002 [--module functions]
        [--write-known]   # rewrite the list from this run, keeping the reasons already given
"""

import argparse
import doctest
import importlib
import json
import os
import queue
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

KNOWN = Path(__file__).with_name("known_failures.txt")

# short name -> (module whose docstrings run, option flags, attributes whose __doc__ the
# module's _test() deletes when pandas and pyarrow are present)
FLAGS_CONNECT = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE | doctest.IGNORE_EXCEPTION_DETAIL
FLAGS_NDIFF = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE | doctest.REPORT_NDIFF
MODULES = {
    "functions": ("pyspark.sql.connect.functions.builtin", FLAGS_CONNECT),
    "dataframe": ("pyspark.sql.dataframe", FLAGS_CONNECT),
    "column": ("pyspark.sql.column", FLAGS_CONNECT),
    "group": ("pyspark.sql.connect.group", FLAGS_NDIFF),
    "window": ("pyspark.sql.window", FLAGS_CONNECT),
    "readwriter": ("pyspark.sql.connect.readwriter", FLAGS_CONNECT),
}
# point 3 of the issue: reported, not part of the 724
EXTRA = {
    "catalog": ("pyspark.sql.catalog", FLAGS_NDIFF),
    "session": ("pyspark.sql.session", FLAGS_NDIFF),
    "connect.dataframe": ("pyspark.sql.connect.dataframe", FLAGS_CONNECT),
}


def docstrings(module_name):
    """The module's docstrings that have examples, in a stable order, as doctest finds them."""
    module = importlib.import_module(module_name)
    tests = doctest.DocTestFinder().find(module, module.__name__)
    return module, sorted((t for t in tests if t.examples), key=lambda t: t.name)


def worker(short, remote, start):
    """Runs module `short`'s docstrings from index `start`, one JSON line per docstring."""
    from pyspark.sql import SparkSession

    name, flags = {**MODULES, **EXTRA}[short]
    module, tests = docstrings(name)
    spark = SparkSession.builder.appName(f"{name} tests").remote(remote).getOrCreate()
    globs = dict(module.__dict__)
    globs["spark"] = spark
    os.chdir(tempfile.mkdtemp(prefix="spate-doctest-"))
    for i, test in enumerate(tests[start:], start):
        print(json.dumps({"start": i}), flush=True)
        test.globs = dict(globs)
        out = []
        runner = doctest.DocTestRunner(optionflags=flags)
        t0 = time.time()
        try:
            result = runner.run(test, out=out.append, clear_globs=True)
            failed = result.failed
        except BaseException as e:  # a docstring that breaks the runner fails, nothing more
            failed, out = 1, [f"runner: {type(e).__name__}: {e}"]
        print(
            json.dumps(
                {
                    "index": i,
                    "name": qualname(test.name, name),
                    "passed": failed == 0,
                    "seconds": round(time.time() - t0, 2),
                    "detail": "".join(out)[:20000],
                }
            ),
            flush=True,
        )
    spark.stop()


def qualname(test_name, module_name):
    return test_name[len(module_name) + 1 :] if test_name.startswith(module_name + ".") else test_name


def run_module(short, remote, timeout):
    """Every docstring of module `short`: {qualified name: (passed, detail)}."""
    name, _ = {**MODULES, **EXTRA}[short]
    _, tests = docstrings(name)
    names = [qualname(t.name, name) for t in tests]
    results = {}
    start = 0
    while start < len(tests):
        proc = subprocess.Popen(
            [sys.executable, __file__, "--worker", short, "--remote", remote, "--start", str(start)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        lines = queue.Queue()
        threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout] + [lines.put(None)], daemon=True).start()
        current, deadline = start, time.time() + timeout + 30  # the first one also connects
        while True:
            try:
                line = lines.get(timeout=max(0.0, deadline - time.time()))
            except queue.Empty:
                proc.kill()
                break
            if line is None:
                break
            msg = json.loads(line)
            if "start" in msg:
                current, deadline = msg["start"], time.time() + timeout
            else:
                results[msg["name"]] = (msg["passed"], msg["detail"])
                current = msg["index"] + 1
        proc.wait()
        if current < len(tests) and names[current] not in results:
            results[names[current]] = (False, f"timeout after {timeout} s (or the worker died)")
        start = max(current + 1, start + 1) if current < len(tests) else len(tests)
        start = next((i for i in range(start, len(tests)) if names[i] not in results), len(tests))
        if all(n in results for n in names):
            break
    return results


def read_known():
    known = {}
    if KNOWN.exists():
        for line in KNOWN.read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                key, _, reason = line.partition("  ")
                known[key.strip()] = reason.strip()
    return known


def write_known(failures, known):
    lines = [
        "# PySpark docstrings Spate is known to fail (python/conformance/doctests.py): one per line,",
        "# <module>:<qualified name>  <reason>. Listed ones must fail; unlisted ones must pass.",
    ]
    for key in sorted(failures):
        reason = known.get(key, "")
        lines.append(f"{key}  {reason if reason.startswith('flaky:') else failures[key]}")
    KNOWN.write_text("\n".join(lines) + "\n")


LATER = (
    "CommonInlineUserDefinedFunction",
    "relation MapPartitions",
    "relation GroupMap",
    "relation CoGroupMap",
    "PythonUDTF",
    "pythonUDTF",
)


def first_problem(detail):
    """A one-line reason for a failure, from its first failed example."""
    if any(marker in detail for marker in LATER):
        return "Python UDFs, pandas/Arrow functions and UDTFs are a later issue"
    for block in detail.split("*" * 70):
        if "Failed example:" not in block:
            continue
        if "Exception raised:" in block:
            tail = block.split("Exception raised:", 1)[1].splitlines()
            errors = [ln.strip() for ln in tail if re.match(r"[\w.]*(Error|Exception)\b", ln.strip())]
            message = errors[-1] if errors else (tail[-1].strip() if tail else "?")
            message = re.sub(r"^pyspark\.errors\.exceptions\.connect\.", "", message)
            return ("raises " + message)[:200]
        if "Differences (ndiff" in block:
            diff = block.split("Differences (ndiff", 1)[1].splitlines()[1:]
            minus = [ln.strip()[1:].strip() for ln in diff if ln.strip().startswith("- ")]
            plus = [ln.strip()[1:].strip() for ln in diff if ln.strip().startswith("+ ")]
            if minus and minus[0].startswith("Traceback") and not plus:
                return f"raises nothing where Spark raises {minus[-1]}"[:200]
            return f"output differs: expected {minus[:1]}, got {plus[:1]}"[:200]
        if "Expected:" in block:
            expected = block.split("Expected:", 1)[1].split("Got", 1)[0].splitlines()
            got = block.split("Got:", 1)[1].splitlines() if "Got:" in block else []
            expected = [ln.strip() for ln in expected if ln.strip()]
            got = [ln.strip() for ln in got if ln.strip() and ln.strip() != "<BLANKLINE>"]
            for e, g in zip(expected, got):
                if e != g:
                    return f"output differs: expected {e!r}, got {g!r}"[:200]
            return f"output differs: {len(expected)} lines expected, {len(got)} got"
    return "fails"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--remote", required=True)
    parser.add_argument("--module", action="append", help="short names; default: the six")
    parser.add_argument("--extra", action="store_true", help="also catalog, session, connect.dataframe")
    parser.add_argument("--timeout", type=float, default=60)
    parser.add_argument("--write-known", action="store_true")
    parser.add_argument("--details", help="write every failure's output to this file")
    parser.add_argument("--worker")
    parser.add_argument("--start", type=int, default=0)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.remote, args.start)
        return 0
    shorts = args.module or list(MODULES) + (list(EXTRA) if args.extra else [])
    known = read_known()
    failures, passed_total, total = {}, 0, 0
    unexpected, stale = [], []
    details = []
    for short in shorts:
        results = run_module(short, args.remote, args.timeout)
        ok = sum(1 for p, _ in results.values() if p)
        print(f"{short}: {ok} / {len(results)} docstrings pass", flush=True)
        if short in MODULES:
            passed_total += ok
            total += len(results)
        for qn, (passed, detail) in sorted(results.items()):
            key = f"{short}:{qn}"
            if not passed:
                failures[key] = first_problem(detail)
                details.append(f"=== {key}\n{detail}\n")
                if key not in known:
                    unexpected.append(key)
            elif key in known and not known[key].startswith("flaky:"):
                stale.append(key)
    if total:
        print(f"total: {passed_total} / {total} docstrings pass ({100 * passed_total / total:.1f}%)")
    if args.details:
        Path(args.details).write_text("".join(details))
    if args.write_known:
        ran = {k for k in known if k.split(":", 1)[0] not in shorts}
        flaky = {k: v for k, v in known.items() if v.startswith("flaky:")}
        write_known({**{k: known[k] for k in ran}, **flaky, **failures}, known)
        return 0
    for key in unexpected:
        print(f"FAILS, not on the list: {key}: {failures[key]}")
    for key in stale:
        print(f"PASSES, still on the list (remove it): {key}")
    return 1 if unexpected or stale else 0


if __name__ == "__main__":
    sys.exit(main())
