"""Regression guard: compares two benchmark reports (the JSON that bench/run.py writes beside its
Markdown) for one engine and names every TPC-H query and seed workload that got slower than a
threshold (10% by default), by median time.

    python bench/compare.py OLD.json NEW.json [--engine spate] [--threshold 0.10]

Prints a per-query and per-workload table (old median, new median, new/old) and then the list
of regressions; exits 1 when there is one, so a script or CI step can stop on it. A query timed
in one report only, or that failed in either, is listed as such and never counts as faster or
slower. Times under --floor seconds (default 0.02) in both reports are reported but not judged:
at that size the clock's noise is larger than a 10% change.
"""

import argparse
import json
import math
import sys
from pathlib import Path


def load(path, engine):
    """The engine's entry of a report: {'queries': {name: median_s}, 'workloads': {...}}."""
    entries = json.loads(Path(path).read_text())
    for e in entries:
        if e.get("engine") == engine:
            return {
                kind: {name: r.get("median_s") if r.get("times") else None for name, r in e.get(kind, {}).items()}
                for kind in ("queries", "workloads")
            }
    raise SystemExit(f"{path}: no results for engine {engine!r} (engines: {', '.join(e.get('engine', '?') for e in entries)})")


def compare(old, new, threshold, floor):
    """Rows of (kind, name, old_s, new_s, ratio, verdict); verdict is 'slower', 'faster', 'same',
    'below floor', 'new', 'gone' or 'failed'."""
    rows = []
    for kind in ("queries", "workloads"):
        names = list(old[kind]) + [n for n in new[kind] if n not in old[kind]]
        for name in names:
            a, b = old[kind].get(name), new[kind].get(name)
            if name not in old[kind]:
                rows.append((kind, name, None, b, None, "new"))
            elif name not in new[kind]:
                rows.append((kind, name, a, None, None, "gone"))
            elif a is None or b is None:
                rows.append((kind, name, a, b, None, "failed"))
            else:
                ratio = b / a
                if a < floor and b < floor:
                    verdict = "below floor"
                elif ratio > 1 + threshold:
                    verdict = "slower"
                elif ratio < 1 / (1 + threshold):
                    verdict = "faster"
                else:
                    verdict = "same"
                rows.append((kind, name, a, b, ratio, verdict))
    return rows


def fmt(x, spec):
    return "—" if x is None else format(x, spec)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("old")
    p.add_argument("new")
    p.add_argument("--engine", default="spate")
    p.add_argument("--threshold", type=float, default=0.10, help="fraction slower that counts (0.10 = 10%%)")
    p.add_argument("--floor", type=float, default=0.02, help="seconds below which a time is not judged")
    args = p.parse_args(argv)
    rows = compare(load(args.old, args.engine), load(args.new, args.engine), args.threshold, args.floor)
    print(f"{args.engine}: {args.old} -> {args.new}\n")
    print("| kind | name | old (s) | new (s) | new/old | verdict |\n|---|---|---|---|---|---|")
    for kind, name, a, b, ratio, verdict in rows:
        print(f"| {kind} | {name} | {fmt(a, '.3f')} | {fmt(b, '.3f')} | {fmt(ratio, '.2f')} | {verdict} |")
    judged = [r[4] for r in rows if r[4] is not None and r[5] != "below floor"]
    if judged:
        print(f"\nGeometric mean new/old: {math.exp(sum(map(math.log, judged)) / len(judged)):.3f} ({len(judged)} timed)")
    slower = [r for r in rows if r[5] == "slower"]
    if slower:
        print(f"\nMore than {args.threshold:.0%} slower:")
        for kind, name, a, b, ratio, _ in slower:
            print(f"- {name} ({kind}): {a:.3f} s -> {b:.3f} s ({ratio:.2f}x)")
        return 1
    print(f"\nNothing more than {args.threshold:.0%} slower.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
