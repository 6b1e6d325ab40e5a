"""PySpark's own docstring examples against a real `spate serve` (issue 23): the runner
(python/conformance/doctests.py) runs the six modules' docstrings as their `_test()` functions
do, and the committed list of known failures is the contract — a docstring not listed must
pass, a listed one that passes must be taken off the list."""

import subprocess
import sys
from pathlib import Path

from conftest import spawn_server

RUNNER = Path(__file__).resolve().parents[1] / "conformance" / "doctests.py"


def test_docstring_examples_match_the_known_failures(tmp_path_factory):
    with spawn_server(tmp_path_factory) as server:
        run = subprocess.run(
            [sys.executable, str(RUNNER), "--remote", server["url"], "--extra"],
            capture_output=True,
            text=True,
            timeout=1800,
        )
    print(run.stdout)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-3000:]
