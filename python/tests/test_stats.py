"""Pivot, describe/summary, the stat functions (crosstab, cov, corr, approxQuantile, freqItems),
na.replace and the notebook HTML rendering. Expected values are computed in Python from the same
rows; output shapes, names and Spark's quirks (pivot cells are NULL where a combination has no
rows even for count; cov/corr count a null as 0.0; crosstab writes a null key as 'null') were
checked against Apache Spark 4.0.1 on the same data."""

import math
import statistics

import pytest
from pyspark.errors import IllegalArgumentException
from pyspark.sql import functions as F

ROWS = [("a", "x", 1, 2.0), ("a", "y", 2, 3.0), ("b", "x", 3, None), ("b", "x", 4, 5.0), (None, "z", 5, 1.5)]


@pytest.fixture
def s(spark):
    return spark.createDataFrame(ROWS, "k string, p string, v int, d double")


def test_pivot_discovers_sorted_values(s):
    out = s.groupBy("k").pivot("p").sum("v").orderBy("k")
    assert out.columns == ["k", "x", "y", "z"]
    expect = {}
    for k, p, v, _ in ROWS:
        expect.setdefault(k, {}).setdefault(p, 0)
        expect[k][p] += v
    for r in out.collect():
        assert [r[c] for c in "xyz"] == [expect[r["k"]].get(c) for c in "xyz"]


def test_pivot_with_values_and_several_aggregates(s):
    out = s.groupBy("k").pivot("p", ["x", "y"]).agg(F.sum("v"), F.max("d"))
    assert out.columns == ["k", "x_sum(v)", "x_max(d)", "y_sum(v)", "y_max(d)"]
    rows = {r["k"]: tuple(r)[1:] for r in out.collect()}
    assert rows["a"] == (1, 2.0, 2, 3.0)
    assert rows["b"] == (7, 5.0, None, None)
    assert rows[None] == (None, None, None, None)


def test_pivot_count_is_null_for_missing_combinations(s):
    rows = {r["k"]: (r["x"], r["y"], r["z"]) for r in s.groupBy("k").pivot("p").count().collect()}
    assert rows == {"a": (1, 1, None), "b": (2, None, None), None: (None, None, 1)}


def test_pivot_null_value_is_a_column_named_null(s):
    out = s.groupBy("p").pivot("k").agg(F.sum("v").alias("s"))
    assert out.columns == ["p", "null", "a", "b"]


def test_describe_matches_python_statistics(s):
    out = {r["summary"]: r for r in s.describe().collect()}
    assert list(out) == ["count", "mean", "stddev", "min", "max"]
    vs = [r[2] for r in ROWS]
    ds = [r[3] for r in ROWS if r[3] is not None]
    assert out["count"]["k"] == "4" and out["count"]["v"] == "5" and out["count"]["d"] == "4"
    assert float(out["mean"]["v"]) == statistics.mean(vs)
    assert math.isclose(float(out["stddev"]["d"]), statistics.stdev(ds))
    assert out["mean"]["k"] is None
    assert (out["min"]["k"], out["max"]["k"], out["min"]["v"], out["max"]["d"]) == ("a", "b", "1", "5.0")
    assert s.describe("v").columns == ["summary", "v"]


def test_summary_percentiles_are_actual_values(s):
    out = {r["summary"]: r for r in s.summary().collect()}
    assert list(out) == ["count", "mean", "stddev", "min", "25%", "50%", "75%", "max"]
    # the value at rank ceil(p * n) of the sorted values
    ds = sorted(r[3] for r in ROWS if r[3] is not None)
    for label, p in [("25%", 0.25), ("50%", 0.5), ("75%", 0.75)]:
        assert out[label]["v"] == str(sorted(r[2] for r in ROWS)[math.ceil(p * 5) - 1])
        assert out[label]["d"] == str(ds[math.ceil(p * len(ds)) - 1])
        assert out[label]["k"] is None
    picked = s.summary("count", "min", "50%").collect()
    assert [r["summary"] for r in picked] == ["count", "min", "50%"]
    with pytest.raises(IllegalArgumentException):
        s.summary("bogus").collect()


def test_crosstab_counts_pairs(s):
    out = s.crosstab("k", "p")
    assert out.columns == ["k_p", "x", "y", "z"]
    rows = {r["k_p"]: (r["x"], r["y"], r["z"]) for r in out.collect()}
    assert rows == {"a": (1, 1, 0), "b": (2, 0, 0), "null": (0, 0, 1)}


def sample_cov(xs, ys):
    mx, my = statistics.mean(xs), statistics.mean(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / (len(xs) - 1)


def test_cov_and_corr_count_nulls_as_zero(s):
    vs = [float(r[2]) for r in ROWS]
    ds = [r[3] if r[3] is not None else 0.0 for r in ROWS]
    cov = sample_cov(vs, ds)
    corr = cov / (statistics.stdev(vs) * statistics.stdev(ds))
    assert math.isclose(s.stat.cov("v", "d"), cov)
    assert math.isclose(s.stat.corr("v", "d"), corr)


def test_approx_quantile_exact_with_zero_error(s):
    assert s.approxQuantile("v", [0.0, 0.5, 1.0], 0.0) == [1.0, 3.0, 5.0]
    assert s.approxQuantile(["v", "d"], [0.25], 0.0) == [[2.0], [1.5]]


def test_freq_items_lists_frequent_values(s):
    r = s.freqItems(["k", "v"]).first()
    assert s.freqItems(["k", "v"]).columns == ["k_freqItems", "v_freqItems"]
    assert sorted(r["k_freqItems"], key=str) == sorted({"a", "b", None}, key=str)
    assert sorted(r["v_freqItems"]) == [1, 2, 3, 4, 5]
    # with support 0.3 only values in more than 30% of rows remain
    r = s.freqItems(["k"], support=0.3).first()
    assert sorted(r["k_freqItems"]) == ["a", "b"]


def test_replace_by_type(s):
    out = s.replace("a", "A").collect()
    assert [r["k"] for r in out] == ["A" if r[0] == "a" else r[0] for r in ROWS]
    out = s.replace({"x": "X", "y": None}, subset=["p"]).collect()
    assert [r["p"] for r in out] == [{"x": "X", "y": None}.get(r[1], r[1]) for r in ROWS]
    out = s.replace(1, 10).collect()
    assert [r["v"] for r in out] == [10 if r[2] == 1 else r[2] for r in ROWS]
    assert [r["d"] for r in out] == [r[3] for r in ROWS]
    out = s.na.replace([1, 2], [7, 8], "v").collect()
    assert [r["v"] for r in out] == [{1: 7, 2: 8}.get(r[2], r[2]) for r in ROWS]


def test_repr_html_with_eager_evaluation(spark):
    df = spark.createDataFrame([("a<b", 1), ("c", None)], "k string, v int")
    spark.conf.set("spark.sql.repl.eagerEval.enabled", "true")
    try:
        assert df._repr_html_() == (
            "<table border='1'>\n<tr><th>k</th><th>v</th></tr>\n"
            "<tr><td>a&lt;b</td><td>1</td></tr>\n<tr><td>c</td><td>NULL</td></tr>\n</table>\n"
        )
        spark.conf.set("spark.sql.repl.eagerEval.maxNumRows", "1")
        assert df._repr_html_().endswith("</table>\nonly showing top 1 row\n")
    finally:
        spark.conf.unset("spark.sql.repl.eagerEval.enabled")
        spark.conf.unset("spark.sql.repl.eagerEval.maxNumRows")
