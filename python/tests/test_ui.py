"""The web UI end to end: seed 002's hot-key join runs through a real `spate serve` from
pyspark-client, then the UI is read through Spark's REST API and in a real browser (Debian's
Chromium driven by Playwright; never `playwright install`), and after the server is gone
through `spate history` over its event log.

The data: events of 200 users over 60 items, where one viral item holds 9 in 10 events (seed
002's "single viral item viewed 40 million times"); joined to the items on item_id with the
skew join and broadcasts off, the task that owns the viral item reads far more rows than the
others. Every expected number is computed here from the rows the test made.

`SPATE_UI_SCREENSHOTS=docs/ui` writes the screenshots the README shows."""

import json
import re
import os
import subprocess
import time
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
from pyspark.sql import functions as F
from pyspark.sql.connect.session import SparkSession

from conftest import abandon, free_port, spate_binary, spawn_server, wait_for_port

CHROMIUM = "/usr/bin/chromium"
VIRAL = "viral_item"
EVENTS = 40_000


def rows():
    events = []
    for n in range(EVENTS):
        item = VIRAL if n % 10 != 0 else f"item_{n % 59:02d}"
        events.append((f"u{n % 200}", item, ("view", "click", "purchase")[n % 3], float(n % 97)))
    items = [(VIRAL, "video")] + [(f"item_{i:02d}", ("music", "news", "sport")[i % 3]) for i in range(59)]
    return events, items


def get(url):
    with urllib.request.urlopen(url, timeout=30) as r:
        return json.loads(r.read())


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    """Runs the hot-key join on a server with its UI and event log on; yields what the test
    needs after the server is gone."""
    ui_port = free_port()
    events_dir = tmp_path_factory.mktemp("spark-events")
    with spawn_server(
        tmp_path_factory,
        "--conf", f"spark.ui.port={ui_port}",
        "--conf", "spark.eventLog.enabled=true",
        "--conf", f"spark.eventLog.dir=file:{events_dir}",
        "--conf", "spark.app.name=MLFeatureEngineering",
    ) as server:
        log = server["log"].read_text()
        assert f"web UI at http://127.0.0.1:{ui_port}" in log
        # create(), not getOrCreate(): another module's session may still be the active one
        spark = SparkSession.builder.remote(server["url"]).create()
        spark.conf.set("spark.sql.adaptive.skewJoin.enabled", "false")
        spark.conf.set("spark.sql.autoBroadcastJoinThreshold", "-1")
        events, items = rows()
        ev = spark.createDataFrame(events, "user_id string, item_id string, event_type string, amount double")
        it = spark.createDataFrame(items, "item_id string, category string")
        per_category = {r["category"]: r["events"] for r in
                        ev.join(it, "item_id").groupBy("category").agg(F.count("*").alias("events")).collect()}
        ui = f"http://127.0.0.1:{ui_port}"
        apps = get(f"{ui}/api/v1/applications")
        state = {"ui": ui, "app": apps[0]["id"], "per_category": per_category, "events_dir": events_dir,
                 "server": server, "spark": spark}
        yield state
        # the history test stops the server: close the channel without calls to it
        abandon(spark)


def expected_per_category():
    events, items = rows()
    category = dict(items)
    return dict(Counter(category[item] for _, item, _, _ in events))


def skew_of(base, app):
    findings = get(f"{base}/api/v1/applications/{app}/skew")
    joins = [f for f in findings if f["operator"].startswith("HashJoinExec")]
    assert len(joins) == 1, findings
    return joins[0]


def test_the_api_names_the_viral_item_as_the_hot_key(job):
    assert job["per_category"] == expected_per_category()
    f = skew_of(job["ui"], job["app"])
    assert f["hotKeys"][0]["key"] == VIRAL
    viral_events = sum(1 for _, item, _, _ in rows()[0] if item == VIRAL)
    # sampled estimate of the viral item's rows in the straggler, within 10%
    assert abs(f["hotKeys"][0]["rows"] - viral_events) < 0.1 * viral_events
    assert f["ratio"] > 5
    # the join's node in the SQL API matched every event to its item
    sql = get(f"{job['ui']}/api/v1/applications/{job['app']}/sql/{f['queryId']}")
    join = next(n for n in sql["nodes"] if n["nodeName"] == "HashJoinExec")
    rows_out = {m["name"]: m["value"] for m in join["metrics"]}["output_rows"]
    assert rows_out == str(EVENTS)
    # the straggler's stage: its tasks' shuffle reads add up to both sides' rows
    stage = get(f"{job['ui']}/api/v1/applications/{job['app']}/stages/{f['stageId']}")[0]
    assert stage["shuffleReadRecords"] == EVENTS + len(rows()[1])
    assert stage["status"] == "COMPLETE"


def browser(tmp_path):
    from playwright.sync_api import sync_playwright  # pinned in python/requirements.txt

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"no Chromium at {CHROMIUM}: .ci/apt.sh installs Debian's chromium")
    p = sync_playwright().start()
    context = p.chromium.launch_persistent_context(
        str(tmp_path / "chromium-profile"),
        executable_path=CHROMIUM,
        headless=True,
        args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
              "--disable-component-update", "--disable-sync", "--no-first-run"],
        viewport={"width": 1400, "height": 900},
    )
    return p, context


def shoot(page, name, tmp_path):
    target = os.environ.get("SPATE_UI_SCREENSHOTS")
    path = Path(target) / f"{name}.png" if target else tmp_path / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000


def test_a_file_scan_node_counts_each_row_once(job, tmp_path):
    # 3 Parquet files of 1000, 2000 and 3000 rows: the scan's node gave 6000 rows (a filter
    # keeps the rows from being counted from the files' statistics)
    spark = job["spark"]
    path = tmp_path / "scan"
    for i, n in enumerate((1000, 2000, 3000)):
        spark.range(n).selectExpr("id", f"{i} AS part").coalesce(1).write.parquet(str(path / f"p{i}"))
    df = spark.read.parquet(*(str(path / f"p{i}") for i in range(3)))
    df = df.where("id >= 0").agg(F.sum("id"), F.count("*"))
    assert tuple(df.collect()[0]) == (sum(range(1000)) + sum(range(2000)) + sum(range(3000)), 6000)
    queries = get(f"{job['ui']}/api/v1/applications/{job['app']}/sql")
    last = get(f"{job['ui']}/api/v1/applications/{job['app']}/sql/{queries[-1]['id']}")
    scans = [n for n in last["nodes"] if n["nodeName"] == "ReadFilesExec"]
    assert len(scans) == 1, [n["nodeName"] for n in last["nodes"]]
    assert {m["name"]: m["value"] for m in scans[0]["metrics"]}["output_rows"] == "6000"


def test_a_browser_finds_the_skewed_stage_and_the_plan_graph(job, tmp_path):
    p, context = browser(tmp_path)
    try:
        page = context.new_page()
        page.goto(job["ui"] + "/")
        # the root opens the jobs; the job list shows the join's query
        assert page.title().startswith("Spark Jobs")
        shoot(page, "jobs", tmp_path)
        page.click("text=Skew")
        box = page.locator("div.skew").first
        assert VIRAL in box.locator("code.hot-key").first.inner_text()
        assert "spark.sql.adaptive.skewJoin.enabled" in box.inner_text()
        shoot(page, "skew", tmp_path)
        # the flagged stage's page: the straggler's shuffle read is the largest in the table
        box.locator("a").first.click()
        assert page.title().startswith("Details for Stage")
        reads = [int(t) for t in page.locator("#tasks tbody tr td:nth-child(5)").all_inner_texts()]
        assert sum(reads) == EVENTS + len(rows()[1])
        viral_events = sum(1 for _, item, _, _ in rows()[0] if item == VIRAL)
        assert max(reads) >= viral_events
        shoot(page, "stage", tmp_path)
        # the query's plan graph: the join's node says how many rows it produced
        page.click("text=SQL / DataFrame")
        page.locator("#queries tr", has_text="skewed").locator("a").first.click()
        f = skew_of(job["ui"], job["app"])
        assert page.title() == f"Details for Query {f['queryId']} - MLFeatureEngineering"
        graph = page.locator("svg#plan-graph")
        assert graph.is_visible()
        join = graph.locator("g.node", has_text="HashJoinExec")
        assert join.count() == 1
        lines = join.locator("text.metric").all_text_contents()
        assert f"rows: {EVENTS}" in lines, lines
        assert "hot" in (join.get_attribute("class") or "")
        assert page.locator("#rows-out").inner_text() == str(len(expected_per_category()))
        shoot(page, "query", tmp_path)
    finally:
        context.close()
        p.stop()


def test_storage_shows_a_cached_dataframe_with_sparks_level(job):
    spark = job["spark"]
    df = spark.range(0, 5000).selectExpr("id", "id % 7 AS k").cache()
    assert df.count() == 5000
    rdds = get(f"{job['ui']}/api/v1/applications/{job['app']}/storage/rdd")
    assert len(rdds) == 1, rdds
    # PySpark's cache() is MEMORY_AND_DISK_DESER, which Spark describes so
    assert rdds[0]["storageLevel"] == "Disk Memory Deserialized 1x Replicated"
    assert rdds[0]["memoryUsed"] > 5000 * 16
    assert rdds[0]["numCachedPartitions"] >= 1
    page = urllib.request.urlopen(f"{job['ui']}/storage/", timeout=30).read().decode()
    assert "<span class=\"num\">5000</span>" in page
    df.unpersist()
    assert get(f"{job['ui']}/api/v1/applications/{job['app']}/storage/rdd") == []


def test_structured_streaming_tab_charts_the_querys_batches(job, tmp_path):
    spark = job["spark"]
    q = (spark.readStream.format("rate").option("rowsPerSecond", 50).load()
         .writeStream.format("memory").queryName("rates").trigger(processingTime="200 milliseconds").start())
    try:
        deadline = time.time() + 60
        while len(q.recentProgress) < 4 and time.time() < deadline:
            time.sleep(0.2)
    finally:
        q.stop()
    progress = [json.loads(p.json) for p in q.recentProgress]
    assert len(progress) >= 4
    page = urllib.request.urlopen(f"{job['ui']}/StreamingQuery/", timeout=30).read().decode()
    assert "rates" in page and q.runId in page and "FINISHED" in page
    p, context = browser(tmp_path)
    try:
        view = context.new_page()
        view.goto(f"{job['ui']}/StreamingQuery/")
        view.click(f"text={q.runId}")
        assert view.title().startswith("Streaming Query Statistics (rates)")
        # the page's batches and rows are the client's own progress reports
        assert view.locator("#batches").inner_text() == str(len(progress))
        assert view.locator("#total-input-rows").inner_text() == str(sum(b["numInputRows"] for b in progress))
        points = view.locator("svg#input-rows circle.point")
        assert points.count() == len(progress)
        values = [float(points.nth(i).get_attribute("data-value")) for i in range(points.count())]
        assert values == [float(b["numInputRows"]) for b in progress]
        assert view.locator("svg#batch-duration circle.point").count() == len(progress)
        shoot(view, "streaming", tmp_path)
    finally:
        context.close()
        p.stop()


def test_watermark_gap_and_state_rows_are_charted_per_batch(job):
    """A windowed count under a watermark: the statistics page charts, per batch, the global
    watermark's gap behind the batch's trigger time and the state rows, as the client's own
    progress reports give them."""
    from datetime import datetime

    spark = job["spark"]
    counts = (spark.readStream.format("rate").option("rowsPerSecond", 20).load()
              .withWatermark("timestamp", "1 second")
              .groupBy(F.window("timestamp", "1 second")).count())
    q = (counts.writeStream.format("memory").queryName("windows").outputMode("append")
         .trigger(processingTime="300 milliseconds").start())
    try:
        deadline = time.time() + 60
        while len(q.recentProgress) < 6 and time.time() < deadline:
            time.sleep(0.2)
    finally:
        q.stop()
    progress = [json.loads(p.json) for p in q.recentProgress]
    assert len(progress) >= 6

    def ms(text):
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000

    gaps = [(b["batchId"], max(0.0, ms(b["timestamp"]) - ms(b["eventTime"]["watermark"])))
            for b in progress if "watermark" in b.get("eventTime", {})]
    state = [(b["batchId"], float(sum(o["numRowsTotal"] for o in b["stateOperators"])))
             for b in progress if b.get("stateOperators")]
    assert gaps and state
    # a later batch's watermark has moved off the epoch: its gap is seconds, not decades
    assert min(g for _, g in gaps) < 60_000
    page = urllib.request.urlopen(f"{job['ui']}/StreamingQuery/statistics/?id={q.runId}", timeout=30).read().decode()

    def points(chart):
        svg = page.split(f'<svg id="{chart}"')[1].split("</svg>")[0]
        found = re.findall(r'data-batch="([^"]+)" data-value="([^"]+)"', svg)
        return [(int(float(b)), float(v)) for b, v in found]

    got = points("watermark-gap")
    assert [b for b, _ in got] == [b for b, _ in gaps]
    for (_, a), (_, b) in zip(got, gaps):
        assert abs(a - b) <= 1.0
    assert points("state-rows") == state


def test_history_serves_the_job_after_its_server_is_gone(job, tmp_path):
    server = job["server"]
    server["proc"].terminate()
    server["proc"].wait(timeout=30)
    logs = list(Path(job["events_dir"]).iterdir())
    # the finished application's log lost its .inprogress suffix
    assert [l.name for l in logs] == [job["app"]]
    port = free_port()
    log_path = tmp_path / "history.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([spate_binary(), "history", str(job["events_dir"]), "--port", str(port)],
                                stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for_port(proc, port, log_path, "spate history")
            base = f"http://127.0.0.1:{port}"
            apps = get(f"{base}/api/v1/applications")
            assert [a["id"] for a in apps] == [job["app"]]
            assert apps[0]["name"] == "MLFeatureEngineering"
            assert apps[0]["attempts"][0]["completed"] is True
            f = skew_of(base, job["app"])
            assert f["hotKeys"][0]["key"] == VIRAL
            p, context = browser(tmp_path)
            try:
                page = context.new_page()
                page.goto(base + "/")
                page.click(f"text={job['app']}")
                page.click("text=Skew")
                assert VIRAL in page.locator("div.skew code.hot-key").first.inner_text()
                shoot(page, "history", tmp_path)
            finally:
                context.close()
                p.stop()
        finally:
            proc.terminate()
            proc.wait(timeout=10)
