"""Sessions and configuration (the Config RPC) as PySpark sees them."""

import pytest
from pyspark.errors import SparkNoSuchElementException
from pyspark.sql import SparkSession


def test_version_and_defaults(spark):
    assert spark.version.startswith("4.")
    # Spark 4 defaults for keys the seed pipelines set or read.
    assert spark.conf.get("spark.sql.shuffle.partitions") == "200"
    assert spark.conf.get("spark.sql.adaptive.enabled") == "true"
    assert spark.conf.get("spark.sql.autoBroadcastJoinThreshold") == "10485760b"
    assert spark.conf.get("spark.sql.ansi.enabled") == "true"


def test_set_get_unset(spark):
    spark.conf.set("spark.sql.shuffle.partitions", "8")
    assert spark.conf.get("spark.sql.shuffle.partitions") == "8"
    spark.conf.unset("spark.sql.shuffle.partitions")
    assert spark.conf.get("spark.sql.shuffle.partitions") == "200"
    assert spark.conf.get("spark.some.unset.key", "fallback") == "fallback"
    assert spark.conf.isModifiable("spark.sql.shuffle.partitions")


def test_unknown_key_raises_spark_error(spark):
    with pytest.raises(SparkNoSuchElementException) as e:
        spark.conf.get("spark.sql.no.such.key")
    assert e.value.getCondition() == "SQL_CONF_NOT_FOUND"


def test_builder_config_is_applied(server):
    s = (
        SparkSession.builder.remote(server["url"])
        .config("spark.sql.shuffle.partitions", "400")
        .config("spark.serializer", "org.apache.spark.serializer.KryoSerializer")
        .create()
    )
    try:
        assert s.conf.get("spark.sql.shuffle.partitions") == "400"
    finally:
        s.stop()


def test_sessions_are_isolated(server, spark):
    other = SparkSession.builder.remote(server["url"]).create()
    try:
        other.conf.set("spark.sql.session.timeZone", "America/New_York")
        spark.createDataFrame([(1,)], ["a"]).createOrReplaceTempView("only_in_first")
        assert other.conf.get("spark.sql.session.timeZone") == "America/New_York"
        assert spark.conf.get("spark.sql.session.timeZone") != "America/New_York"
        assert [r.a for r in spark.table("only_in_first").collect()] == [1]
        with pytest.raises(Exception):
            other.table("only_in_first").collect()
    finally:
        other.stop()
