"""Bad input gets Spark's exception, error class and a message naming the culprit; the
server survives every one of them."""

import pytest
from pyspark.errors import AnalysisException, IllegalArgumentException, ParseException
from pyspark.sql import functions as F


@pytest.fixture
def df(spark):
    return spark.createDataFrame([(1, 2.0)], ["open", "close"])


def test_missing_column_suggests_close_names(df):
    with pytest.raises(AnalysisException) as e:
        df.select("close_price").collect()
    assert e.value.getCondition() == "UNRESOLVED_COLUMN.WITH_SUGGESTION"
    assert e.value.getSqlState() == "42703"
    assert "`close_price`" in str(e.value)
    assert "`close`" in str(e.value)


def test_unknown_function(df):
    with pytest.raises(AnalysisException) as e:
        df.select(F.call_function("no_such_fn", F.col("open"))).collect()
    assert e.value.getCondition() == "UNRESOLVED_ROUTINE"
    assert "no_such_fn" in str(e.value)


def test_missing_path(spark, tmp_dir):
    missing = tmp_dir / "nope"
    with pytest.raises(AnalysisException) as e:
        spark.read.parquet(str(missing)).collect()
    assert e.value.getCondition() == "PATH_NOT_FOUND"
    assert "nope" in str(e.value)


def test_bad_schema_string(spark, tmp_dir):
    with pytest.raises(ParseException):
        spark.read.schema("a INT,, b").csv(str(tmp_dir)).collect()


def test_bad_config_value(spark):
    with pytest.raises(IllegalArgumentException):
        spark.conf.set("spark.sql.shuffle.partitions", "zero")


def test_server_survives_errors(spark, df):
    for _ in range(3):
        with pytest.raises(AnalysisException):
            df.select("missing").collect()
    assert df.count() == 1


def test_division_by_zero_follows_ansi_mode(server):
    from pyspark.errors import ArithmeticException
    from pyspark.sql import SparkSession

    s = SparkSession.builder.remote(server["url"]).create()
    try:
        df = s.createDataFrame([(1.0, 0.0), (4.0, 2.0)], ["a", "b"])
        with pytest.raises(ArithmeticException) as e:
            df.select(F.col("a") / F.col("b")).collect()
        assert e.value.getCondition() == "DIVIDE_BY_ZERO"
        s.conf.set("spark.sql.ansi.enabled", "false")
        assert [r[0] for r in df.select(F.col("a") / F.col("b")).collect()] == [None, 2.0]
    finally:
        s.stop()
