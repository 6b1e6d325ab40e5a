"""SQL queries give Apache Spark 4.2.1's answers (python/spark_reference/sql_cases.py and its
committed output), by topic: the VARIANT functions, reflect/java_method/try_reflect, time_bucket, the spatial
functions; each
query's column names, rows and error condition (a query Spark fails without a condition must
fail here too), in the session time zone the case names. Timestamps are compared as the client
gives them, local date-times of this process's zone, which the reference shares: UTC."""

import datetime
import decimal
import json
import time
from pathlib import Path

import pytest
from pyspark.errors import PySparkException
from pyspark.sql import Row
from pyspark.sql.types import VariantVal

REFERENCE = Path(__file__).resolve().parents[1] / "spark_reference" / "sql_cases.out"
CASES = [json.loads(line) for line in REFERENCE.read_text().splitlines() if line.strip()]


def plain(v):
    """The form the reference script writes values in."""
    if isinstance(v, VariantVal):
        return {"variant": v.toJson()}
    if type(v).__name__ in ("Geometry", "Geography"):
        return {type(v).__name__.lower(): bytes(v.getBytes()).hex(), "srid": v.getSrid()}
    if isinstance(v, Row):
        return {k: plain(x) for k, x in v.asDict().items()}
    if isinstance(v, (bytes, bytearray)):
        return {"hex": bytes(v).hex()}
    if isinstance(v, (datetime.date, datetime.datetime, decimal.Decimal)):
        return str(v)
    if isinstance(v, list):
        return [plain(x) for x in v]
    return v


@pytest.fixture(autouse=True)
def zone_back(spark):
    yield
    spark.conf.unset("spark.sql.session.timeZone")


@pytest.mark.skipif(time.localtime().tm_gmtoff != 0, reason="the reference ran with TZ=UTC")
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c['topic']}:{c['sql'][7:60]}")
def test_sql_is_sparks(spark, case):
    spark.conf.set("spark.sql.session.timeZone", case["tz"])
    if "error" in case:
        with pytest.raises(PySparkException) as e:
            spark.sql(case["sql"]).collect()
        if case["error"] is not None:
            assert e.value.getCondition() == case["error"]
        return
    df = spark.sql(case["sql"])
    rows = [[plain(x) for x in r] for r in df.collect()]
    assert rows == case["rows"]
    assert df.columns == case["columns"]
