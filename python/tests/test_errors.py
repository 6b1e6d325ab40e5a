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
    assert e.value.getErrorClass() == "UNRESOLVED_COLUMN.WITH_SUGGESTION"
    assert e.value.getSqlState() == "42703"
    assert "`close_price`" in str(e.value)
    assert "`close`" in str(e.value)


def test_unknown_function(df):
    with pytest.raises(AnalysisException) as e:
        df.select(F.call_function("no_such_fn", F.col("open"))).collect()
    assert e.value.getErrorClass() == "UNRESOLVED_ROUTINE"
    assert "no_such_fn" in str(e.value)


def test_missing_path(spark, tmp_dir):
    missing = tmp_dir / "nope"
    with pytest.raises(AnalysisException) as e:
        spark.read.parquet(str(missing)).collect()
    assert e.value.getErrorClass() == "PATH_NOT_FOUND"
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
