"""The `spate` binary's `sql` and `run` commands, driven as a user would."""

import re
import subprocess
import sys
import textwrap

from conftest import free_port, spate_binary


def test_sql_prints_an_aligned_table(tmp_dir):
    out = subprocess.run(
        [spate_binary(), "sql", "--warehouse", str(tmp_dir / "wh"), "-e", "SELECT 2 AS n, 'xyz' AS s"],
        capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout == "+---+---+\n|n  |s  |\n+---+---+\n|2  |xyz|\n+---+---+\n"


def test_sql_reports_errors_with_exit_code(tmp_dir):
    out = subprocess.run(
        [spate_binary(), "sql", "--warehouse", str(tmp_dir / "wh"), "-e", "SELECT * FROM missing_table"],
        capture_output=True, text=True, timeout=60,
    )
    assert out.returncode != 0
    assert "TABLE_OR_VIEW_NOT_FOUND" in out.stderr


def test_sql_draws_sparks_console_progress_bar_for_a_long_query(tmp_dir):
    """`spark.ui.showConsoleProgress=true`: a query that runs over half a second draws Spark's
    `[Stage N:==>  (done + running) / total]` line on standard error, rewritten in place with
    carriage returns and cleared at the end; without it (standard error is not a terminal here)
    nothing is drawn."""
    query = "SELECT count(DISTINCT id % 1000003) AS n FROM range(0, 60000000)"
    expected = "+-------+\n|n      |\n+-------+\n|1000003|\n+-------+\n"
    out = subprocess.run(
        [spate_binary(), "sql", "--warehouse", str(tmp_dir / "wh"),
         "--conf", "spark.ui.showConsoleProgress=true", "-e", query],
        capture_output=True, timeout=300,
    )
    # bytes: text mode would turn the carriage returns into newlines
    stderr = out.stderr.decode()
    assert out.returncode == 0, stderr
    assert out.stdout.decode() == expected
    bars = re.findall(r"\r(\[Stage \d+:[=> ]*\((\d+) \+ (\d+)\) / (\d+)\])", stderr)
    assert bars, repr(stderr)
    for bar, done, running, total in bars:
        assert len(bar) <= 80 and int(done) + int(running) <= int(total)
    assert stderr.endswith("\r"), "the bar is cleared when the query ends"
    quiet = subprocess.run(
        [spate_binary(), "sql", "--warehouse", str(tmp_dir / "wh"), "-e", query],
        capture_output=True, text=True, timeout=300,
    )
    assert quiet.stdout == expected
    assert "[Stage" not in quiet.stderr


def test_run_forwards_output_and_exit_code(tmp_dir):
    script = tmp_dir / "job.py"
    script.write_text(textwrap.dedent("""
        import os, sys
        from pyspark.sql import SparkSession
        spark = SparkSession.builder.remote(os.environ["SPARK_REMOTE"]).getOrCreate()
        print("rows", spark.range(7).count(), sys.argv[1])
        sys.exit(3)
    """))
    out = subprocess.run(
        [spate_binary(), "run", "--warehouse", str(tmp_dir / "wh"), str(script), "hello"],
        capture_output=True, text=True, timeout=120, env={"SPATE_PYTHON": sys.executable, "PATH": "/usr/bin:/bin"},
    )
    assert out.returncode == 3, out.stderr
    assert "rows 7 hello" in out.stdout


def test_run_serves_the_ui_and_leaves_an_event_log_for_history(tmp_dir):
    """`spate run` serves the web UI while the script runs (its URL printed) and, with the event
    log on, leaves one finished log (no `.inprogress`) holding the script's queries."""
    import json
    events = tmp_dir / "events"
    script = tmp_dir / "job.py"
    script.write_text(textwrap.dedent("""
        import os, urllib.request, json
        from pyspark.sql import SparkSession
        spark = SparkSession.builder.remote(os.environ["SPARK_REMOTE"]).getOrCreate()
        print("sum", spark.range(1, 11).groupBy().sum("id").collect()[0][0])
        ui = os.environ["UI"]
        apps = json.loads(urllib.request.urlopen(ui + "/api/v1/applications").read())
        print("app", apps[0]["id"], apps[0]["name"])
    """))
    port = free_port()
    out = subprocess.run(
        [spate_binary(), "run", "--warehouse", str(tmp_dir / "wh"),
         "--conf", f"spark.ui.port={port}", "--conf", "spark.eventLog.enabled=true",
         "--conf", f"spark.eventLog.dir={events}", "--conf", "spark.app.name=nightly", str(script)],
        capture_output=True, text=True, timeout=120,
        env={"SPATE_PYTHON": sys.executable, "PATH": "/usr/bin:/bin", "UI": f"http://127.0.0.1:{port}"},
    )
    assert out.returncode == 0, out.stderr
    assert f"web UI at http://127.0.0.1:{port}" in out.stderr
    assert "sum 55" in out.stdout
    app_id = out.stdout.split("app ")[1].split()[0]
    assert "nightly" in out.stdout
    logs = sorted(p.name for p in events.iterdir())
    assert logs == [app_id]
    lines = [json.loads(l) for l in (events / app_id).read_text().splitlines()]
    assert lines[0]["Event"] == "ApplicationStart" and lines[0]["app"]["name"] == "nightly"
    assert lines[-1]["Event"] == "ApplicationEnd"
    ends = [l["record"] for l in lines if l["Event"] == "QueryEnd"]
    assert any(r["rows_out"] == 1 and r["status"] == "Succeeded" for r in ends), ends


def test_run_without_the_ui(tmp_dir):
    script = tmp_dir / "job.py"
    script.write_text("import os\nfrom pyspark.sql import SparkSession\n"
                      "print(SparkSession.builder.remote(os.environ['SPARK_REMOTE']).getOrCreate().range(3).count())\n")
    out = subprocess.run(
        [spate_binary(), "run", "--warehouse", str(tmp_dir / "wh"), "--conf", "spark.ui.enabled=false", str(script)],
        capture_output=True, text=True, timeout=120, env={"SPATE_PYTHON": sys.executable, "PATH": "/usr/bin:/bin"},
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "3"
    assert "web UI" not in out.stderr
