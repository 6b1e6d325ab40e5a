"""The seed examples in examples/, each run with `spate run` on data from examples/generate_data.py,
their outputs checked against values computed here, independently, with pandas and plain Python
from the generated input files."""

import json
import math
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from conftest import ROOT, spate_binary

EXAMPLES = ROOT / "examples"


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("example-data")
    subprocess.run([sys.executable, str(EXAMPLES / "generate_data.py"), str(root)], check=True)
    return root


def run_example(name, data, out):
    proc = subprocess.run(
        [spate_binary(), "run", str(EXAMPLES / name), str(data), str(out)],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "SPATE_PYTHON": sys.executable},
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def run_streaming_example(name, data, out, warehouse):
    """A streaming example, its tables in `warehouse`."""
    proc = subprocess.run(
        [spate_binary(), "run", "--warehouse", str(warehouse), str(EXAMPLES / name), str(data), str(out)],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "SPATE_PYTHON": sys.executable},
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def read(path):
    return pq.read_table(str(path)).to_pandas()


def missing(v):
    return v is None or (isinstance(v, float) and math.isnan(v))


def close(a, b, rel=1e-9):
    """Equal within `rel`, or both missing (null / NaN)."""
    if missing(a) or missing(b):
        return missing(a) and missing(b)
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-9)


# --- seed 000 -----------------------------------------------------------------------------


def test_ecommerce_pipeline(data, tmp_path):
    out = tmp_path / "ecommerce"
    run_example("ecommerce_pipeline.py", data, out)
    lines = (data / "ecommerce" / "events" / "events.jsonl").read_text().splitlines()
    events, malformed = [], 0
    for line in lines:
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            malformed += 1
    assert malformed == 5

    # hourly revenue: tumbling 1-hour windows of the seconds (ms / 1000 truncated)
    hourly = {}
    for e in events:
        hour = e["timestamp"] // 1000 // 3600 * 3600
        h = hourly.setdefault((hour, e["event_type"]), {"rev": [], "users": set()})
        if e["revenue"] is not None:
            h["rev"].append(e["revenue"] * 1.08)
        h["users"].add(e["user_id"])
    got = read(out / "hourly_revenue")
    assert list(got.columns) == ["window", "event_type", "total_revenue", "unique_users", "avg_order_value"]
    assert len(got) == len(hourly)
    for _, r in got.iterrows():
        start = int(r["window"]["start"].timestamp())
        assert int(r["window"]["end"].timestamp()) - start == 3600
        h = hourly[(start, r["event_type"])]
        assert r["unique_users"] == len(h["users"])
        if h["rev"]:
            assert close(r["total_revenue"], sum(h["rev"])) and close(r["avg_order_value"], sum(h["rev"]) / len(h["rev"]))
        else:
            assert close(r["total_revenue"], None) and close(r["avg_order_value"], None)

    # sliding 5-minute windows every 2 minutes: a row is in every window that contains it
    sessions = {}
    for e in events:
        t = e["timestamp"] // 1000
        last = t - t % 120
        for start in range(last, t - 300, -120):
            if start <= t < start + 300:
                sessions[(start, e["user_id"], e["event_type"])] = sessions.get((start, e["user_id"], e["event_type"]), 0) + 1
    got = read(out / "user_sessions")
    assert list(got.columns) == [
        "window", "user_id", "event_type", "event_count", "avg_revenue", "dimension",
        "campaign_type", "campaign_id", "category", "discount",
    ]
    assert len(got) == len(sessions)
    for _, r in got.iterrows():
        key = (int(r["window"]["start"].timestamp()), r["user_id"], r["event_type"])
        assert r["event_count"] == sessions[key], key
        assert r["campaign_type"] == r["event_type"] and r["dimension"] == "user_behavior"

    # deduplicated on (event_id, timestamp): the retried deliveries go, and the malformed lines
    # (all fields null) collapse into one row
    unique = {(e["event_id"], e["timestamp"]) for e in events}
    rows = sum(pq.ParquetFile(f).metadata.num_rows for f in (out / "events").glob("*/*/part-*"))
    assert rows == len(unique) + 1
    dirs = sorted(p.name for p in (out / "events").iterdir() if p.is_dir())
    assert dirs == ["event_date=2024-11-15", "event_date=__HIVE_DEFAULT_PARTITION__"]
    categories = sorted(p.name for p in (out / "events" / "event_date=2024-11-15").iterdir())
    assert categories == ["category=awareness", "category=conversion", "category=engagement"]
    kind = {e["event_id"]: e["event_type"] for e in events}
    purchases = sum(1 for eid, _ in unique if kind[eid] == "purchase")
    conversion = read(out / "events" / "event_date=2024-11-15" / "category=conversion")
    assert len(conversion) == purchases


def test_ecommerce_streaming(data, tmp_path, spark):
    out, warehouse = tmp_path / "ecommerce_streaming", tmp_path / "warehouse"
    run_streaming_example("ecommerce_streaming.py", data, out, warehouse)
    check_ecommerce_stream(spark, warehouse, ecommerce_events(data))


def ecommerce_events(data):
    """The generated events that are JSON (some lines are deliberately not)."""
    events = []
    for line in (data / "ecommerce" / "events" / "events.jsonl").read_text().splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            pass
    return events


def check_ecommerce_stream(spark, warehouse, events):
    """Seed 000's two streaming tables against what `events` give, computed here."""
    # complete mode: every hour's revenue, distinct users and average, as in the batch example
    hourly = {}
    for e in events:
        hour = e["timestamp"] // 1000 // 3600 * 3600
        h = hourly.setdefault((hour, e["event_type"]), {"rev": [], "users": set()})
        if e["revenue"] is not None:
            h["rev"].append(e["revenue"] * 1.08)
        h["users"].add(e["user_id"])
    got = spark.read.format("delta").load(str(warehouse / "analytics.db" / "hourly_revenue")).collect()
    assert len(got) == len(hourly)
    for r in got:
        start = int(r.window.start.replace(tzinfo=timezone.utc).timestamp())
        h = hourly[(start, r.event_type)]
        assert r.unique_users == len(h["users"])
        if h["rev"]:
            assert close(r.total_revenue, sum(h["rev"])) and close(r.avg_order_value, sum(h["rev"]) / len(h["rev"]))
    # append mode: the sliding windows that ended 10 minutes before the newest event (the
    # watermark after the data, which a last batch without data applies)
    newest = max(e["timestamp"] // 1000 for e in events)
    watermark = newest - 600
    sessions = {}
    for e in events:
        t = e["timestamp"] // 1000
        last = t - t % 120
        for start in range(last, t - 300, -120):
            if start <= t < start + 300 and start + 300 <= watermark:
                key = (start, e["user_id"], e["event_type"])
                sessions[key] = sessions.get(key, 0) + 1
    got = spark.read.format("delta").load(str(warehouse / "analytics.db" / "events_aggregated")).collect()
    assert len(got) == len(sessions)
    for r in got:
        key = (int(r.window.start.replace(tzinfo=timezone.utc).timestamp()), r.user_id, r.event_type)
        assert r.event_count == sessions[key], key
        assert r.campaign_type == r.event_type and r.dimension == "user_behavior"


def test_crypto_streaming(data, tmp_path, spark):
    out = tmp_path / "crypto_streaming"
    stdout = run_streaming_example("crypto_streaming.py", data, out, tmp_path / "warehouse")
    # one batch per file (8), then one without data that applies the last watermark
    assert "micro-batches: 9," in stdout
    check_crypto_bars(spark, out / "bars_5m", read(data / "crypto" / "bars"))


def check_crypto_bars(spark, path, bars):
    """The 5-minute bars of seed 001's stream against what `bars` (the prices) give, computed
    here: the windows the final watermark (10 minutes behind the newest price) closed."""
    bars = bars.copy()
    bars["start"] = bars.timestamp.dt.floor("5min")
    newest = bars.timestamp.max()
    closed = bars[bars.start + pd.Timedelta(minutes=5) <= newest - pd.Timedelta(minutes=10)]
    expected = closed.groupby(["start", "symbol"]).agg(
        high=("high", "max"), low=("low", "min"), avg_close=("close", "mean"), volume=("volume", "sum"), bars=("close", "size")
    )
    got = spark.read.format("delta").load(str(path)).collect()
    assert len(got) == len(expected)
    for r in got:
        e = expected.loc[(pd.Timestamp(r.window.start, tz="UTC"), r.symbol)]
        assert (r.high, r.low, r.volume, r.bars) == (e.high, e.low, e.volume, e.bars)
        assert close(r.avg_close, e.avg_close)


# --- seed 001 -----------------------------------------------------------------------------

def truncated_ema(values, span):
    alpha = 2.0 / (span + 1)
    out = []
    for i in range(len(values)):
        acc = None
        for x in values[max(0, i - 4 * span + 1): i + 1]:
            if x is None:
                continue  # collect_list skips nulls
            acc = x if acc is None else alpha * x + (1 - alpha) * acc
        out.append(acc)
    return out


def test_crypto_indicators(data, tmp_path):
    out = tmp_path / "crypto"
    run_example("crypto_indicators.py", data, out)
    bars = read(data / "crypto" / "bars").sort_values(["symbol", "timestamp"])
    got = read(out / "indicators").sort_values(["symbol", "timestamp"])
    assert len(got) == len(bars) == 3 * 2880
    for symbol, b in bars.groupby("symbol"):
        g = got[got.symbol == symbol]
        closes = list(b.close)
        sma14 = b.close.rolling(14, min_periods=1).mean()
        delta = b.close.diff()
        gain = delta.where(delta > 0, 0.0).fillna(0.0)
        loss = (-delta).where(delta < 0, 0.0).fillna(0.0)
        avg_gain = gain.rolling(14, min_periods=1).mean()
        avg_loss = loss.rolling(14, min_periods=1).mean()
        rsi = [None if l == 0 else 100 - 100 / (1 + gn / l) for gn, l in zip(avg_gain, avg_loss)]
        ema12, ema26 = truncated_ema(closes, 12), truncated_ema(closes, 26)
        macd = [a - b_ for a, b_ in zip(ema12, ema26)]
        signal = truncated_ema(macd, 9)
        mid = b.close.rolling(20, min_periods=1).mean()
        std = b.close.rolling(20, min_periods=1).std()  # sample std, NaN for one value
        for i, (_, r) in enumerate(g.iterrows()):
            assert close(r.sma_14, sma14.iloc[i]) and close(r.rsi_14, rsi[i]), (symbol, i)
            assert close(r.ema_12, ema12[i]) and close(r.ema_26, ema26[i]), (symbol, i)
            assert close(r.macd, macd[i]) and close(r.macd_signal, signal[i], 1e-8), (symbol, i)
            assert close(r.bb_mid, mid.iloc[i]) and close(r.bb_std, None if math.isnan(std.iloc[i]) else std.iloc[i], 1e-8)
            if not math.isnan(std.iloc[i]):
                assert close(r.bb_upper, mid.iloc[i] + 2 * std.iloc[i], 1e-8)

    for label, minutes in [("1min", 1), ("5min", 5), ("1h", 60), ("daily", 1440)]:
        g = read(out / f"rollup_{label}").sort_values(["symbol", "start"])
        b = bars.assign(start=bars.timestamp.dt.floor(f"{minutes}min"))
        expected = b.groupby(["symbol", "start"]).agg(
            open=("open", "first"), high=("high", "max"), low=("low", "min"),
            close=("close", "last"), volume=("volume", "sum"), bars=("close", "size"),
        ).reset_index()
        assert len(g) == len(expected), label
        for (_, r), (_, e) in zip(g.iterrows(), expected.iterrows()):
            assert (r.symbol, r.start) == (e.symbol, e.start)
            assert (r.open, r.high, r.low, r.close, r.volume, r.bars) == (e.open, e.high, e.low, e.close, e.volume, e.bars)


# --- seed 002 -----------------------------------------------------------------------------


def test_ml_features(data, tmp_path):
    out = tmp_path / "ml"
    stdout = run_example("ml_features.py", data, out)
    parts = [read(p) for p in sorted((data / "ml" / "events").glob("year=2024/month=*/*.parquet"))]
    all_events = pd.concat(parts, ignore_index=True)
    nov = all_events[all_events.event_timestamp.dt.month == 11]
    assert f"Loaded {len(nov):,} events" in stdout
    assert "Validation passed: 200 rows" in stdout

    # latest snapshot per user of the 30-day range-window features
    got = read(out / "latest_features").set_index("user_id")
    assert len(got) == nov.user_id.nunique()
    for user, ev in nov.groupby("user_id"):
        ev = ev.sort_values("event_timestamp")
        last = ev.iloc[-1]
        t = last.event_timestamp
        frame = ev[(ev.event_timestamp >= t - timedelta(days=30)) & (ev.event_timestamp <= t)]
        r = got.loc[user]
        assert r.tx_count_30d == len(frame)
        amounts = frame.amount.dropna()
        assert close(r.avg_amount_30d, amounts.mean() if len(amounts) else None)
        # an HLL++ estimate: two of a handful of sessions can share a register (user090's 5 do,
        # in Spark too, since the hashes and registers are Spark's)
        assert abs(r.sessions_30d - frame.session_id.nunique()) <= 1
        assert r.hour_of_day == t.hour
        dow = (t.weekday() + 1) % 7 + 1  # Spark: Sunday = 1
        assert r.day_of_week == dow and r.is_weekend == (1 if dow in (1, 7) else 0)

    # single-pass conditional aggregation
    got = read(out / "combined").set_index("user_id")
    for user, ev in nov.groupby("user_id"):
        p = ev[ev.event_type == "purchase"]
        r = got.loc[user]
        assert r.event_count == len(ev) and r.purchase_count == len(p)
        assert close(r.total_spend, p.amount.sum() if len(p) else None)

    # the cached feature sets
    users = read(out / "user_features").set_index("user_id")
    for user, ev in nov.groupby("user_id"):
        assert users.loc[user].total_events == len(ev)
        assert users.loc[user].session_count == ev.session_id.nunique()
    items = read(out / "item_features")
    assert items.view_count.sum() == len(nov)
    assert len(items) == nov.item_id.nunique(dropna=False)

    # broadcast join with the item metadata
    meta = read(data / "ml" / "items").set_index("item_id")
    by_cat = read(out / "events_by_category").set_index("category")["count"].to_dict()
    expected = nov.item_id.map(meta.category).fillna("<none>").value_counts().to_dict()
    assert {("<none>" if k is None else k): v for k, v in by_cat.items()} == expected

    # sized output: repartition(n) before the write gives n zstd files
    n = max(1, int(len(nov) * 500 / (1024 * 1024) / 0.2))
    files = sorted(f.name for f in (out / "training").iterdir() if f.name.startswith("part-"))
    assert len(files) == n > 1 and all(f.endswith(".zstd.parquet") for f in files)
    assert sum(len(read(out / "training" / f)) for f in files) == len(nov)

    # point-in-time join: per user, the latest daily snapshot at or before one of the user's
    # event dates in the training range (the seed ranks per user)
    training = all_events[(all_events.event_date >= datetime(2024, 11, 10).date()) & (all_events.event_date <= datetime(2024, 11, 20).date())]
    days = all_events.groupby("user_id").event_date.apply(set).to_dict()
    got = read(out / "pit_features").set_index("user_id")
    expected_users = set(training.user_id)
    assert set(got.index) == expected_users
    for user in expected_users:
        latest_event_day = max(training[training.user_id == user].event_date)
        want = max(d for d in days[user] if d <= latest_event_day)
        assert got.loc[user].feature_date == want
        assert got.loc[user].events_that_day == ((all_events.user_id == user) & (all_events.event_date == want)).sum()


def test_ml_features_delta(data, tmp_path):
    """Seed 002's two Delta functions: daily features written with replaceWhere, the seed's
    training function failing as on Spark (duplicate event_timestamp), the fixed one's
    point-in-time training set and its reproduction after newer features arrived."""
    from deltalake import DeltaTable as LogTable

    out = tmp_path / "ml_delta"
    stdout = run_example("ml_features_delta.py", data, out)
    parts = [read(p) for p in sorted((data / "ml" / "events").glob("year=2024/month=*/*.parquet"))]
    events = pd.concat(parts, ignore_index=True)
    day = lambda s: datetime.strptime(s, "%Y-%m-%d").date()  # noqa: E731

    # ten days of features, one row per user active that day; 11-05 written twice, kept once;
    # 11-11 came later
    features = LogTable(str(out / "features")).to_pandas()
    days = [f"2024-11-{d:02d}" for d in range(1, 12)]
    assert sorted(features.feature_date.unique()) == days
    for d in days:
        active = events[events.event_date == day(d)]
        got = features[features.feature_date == d].set_index("user_id")
        assert len(got) == active.user_id.nunique()
        counts = active.groupby("user_id").size()
        purchases = active[active.event_type == "purchase"].groupby("user_id").size()
        for user in got.index:
            assert got.loc[user].events_that_day == counts[user]
            assert got.loc[user].purchases_that_day == purchases.get(user, 0)
    # 1 write of each of 11 days + the repeated one = 12 commits
    assert len(LogTable(str(out / "features")).history()) == 12

    # as written, the seed's function fails on its duplicate column, as on Spark
    assert "as written: failed as on Spark" in stdout
    assert "DELTA_DUPLICATE_COLUMNS_FOUND" in stdout and "event_timestamp" in stdout
    assert not (out / "training_as_written" / "_delta_log").exists()

    # the fixed function: every event from 11-05 on, with the user's latest daily features (of
    # 11-01..11-10, as of the training end) at or before one of their event days in the range
    assert "training dataset: delta_version_0" in stdout
    training = LogTable(str(out / "training")).to_pandas()
    in_range = events[events.event_date >= day("2024-11-05")]
    assert len(training) == len(in_range)
    featured = events[(events.event_date >= day("2024-11-01")) & (events.event_date <= day("2024-11-10"))]
    feature_days = featured.groupby("user_id").event_date.apply(set).to_dict()
    for user, ev in in_range.groupby("user_id"):
        last = max(ev.event_date)
        candidates = [d for d in feature_days.get(user, ()) if d <= last]
        rows = training[training.user_id == user]
        assert len(rows) == len(ev)
        if candidates:
            want = max(candidates)
            assert set(rows.feature_date) == {want.isoformat()}
            assert set(rows.events_that_day) == {((events.user_id == user) & (events.event_date == want)).sum()}
        else:
            assert rows.feature_date.isna().all()
    # reproduced after 11-11's features arrived: time travel saw the same features
    assert f"reproduced: delta_version_0, {len(in_range)} rows, identical: True" in stdout
