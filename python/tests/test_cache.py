"""cache/persist/unpersist: the storage level reported back, laziness (the first action computes
the cached rows), reuse (later actions read the kept rows even after the files underneath
changed, as with Spark's cache) and unpersist going back to the source."""

from pyspark import StorageLevel
from pyspark.sql import functions as F

from conftest import datafusion_plan


def test_storage_levels(spark):
    df = spark.range(5)
    assert df.storageLevel == StorageLevel.NONE and not df.is_cached
    df.cache()
    assert df.storageLevel == StorageLevel.MEMORY_AND_DISK_DESER and df.is_cached
    df.unpersist()
    assert df.storageLevel == StorageLevel.NONE
    other = spark.range(6).persist(StorageLevel.MEMORY_ONLY)
    assert other.storageLevel == StorageLevel.MEMORY_ONLY


def test_cached_rows_are_reused_until_unpersist(spark, tmp_dir):
    path = str(tmp_dir / "p")
    spark.range(10).write.parquet(path)
    df = spark.read.parquet(path)
    df.cache()
    # lazy: rows appended before the first action are part of the cached data
    spark.range(10, 12).write.mode("append").parquet(path)
    assert df.count() == 12
    # kept: rows appended after the first action are not seen while cached
    spark.range(100, 105).write.mode("append").parquet(path)
    assert df.count() == 12
    assert df.filter("id >= 5").count() == 7
    assert "inmemoryrelation" in df.filter("id >= 5")._explain_string(extended=True).lower()
    df.unpersist()
    assert df.count() == 17


def arrow_files(df):
    """The Arrow IPC files of cached rows that the plan of `df` scans."""
    import re

    return sorted(set(re.findall(r"[^\s\[\],]+\.arrow", datafusion_plan(df))))


def test_disk_only_rows_are_kept_in_a_file_and_reused(spark, tmp_dir):
    import os

    path = str(tmp_dir / "d")
    spark.range(10).write.parquet(path)
    df = spark.read.parquet(path).persist(StorageLevel.DISK_ONLY)
    assert df.storageLevel == StorageLevel.DISK_ONLY
    assert df.count() == 10
    spark.range(10, 15).write.mode("append").parquet(path)
    assert df.count() == 10 and df.filter("id % 2 = 0").count() == 5
    files = arrow_files(df)
    assert len(files) == 1 and "inmemoryrelation" in df._explain_string(extended=True).lower()
    assert os.path.exists("/" + files[0].lstrip("/"))
    df.unpersist()
    assert not os.path.exists("/" + files[0].lstrip("/"))
    assert df.count() == 15


def test_memory_budget_sends_cached_rows_to_disk_or_recomputes(spark, tmp_dir):
    path = str(tmp_dir / "b")
    spark.range(50_000).write.parquet(path)
    spark.conf.set("spark.spate.cache.maxMemory", "10k")
    try:
        spilled = spark.read.parquet(path).cache()  # MEMORY_AND_DISK: too big for memory
        assert spilled.count() == 50_000
        assert len(arrow_files(spilled)) == 1
        memory_only = spark.read.parquet(path).filter("id >= 0").persist(StorageLevel.MEMORY_ONLY)
        assert memory_only.count() == 50_000
        spark.range(50_000, 50_010).write.mode("append").parquet(path)
        # MEMORY_ONLY rows that do not fit are not kept: the next action recomputes them
        assert memory_only.count() == 50_010
        # (the DataFrame is still persisted, so its plan still reads it as Spark's would)
        assert arrow_files(memory_only) == []
        # the spilled rows are kept
        assert spilled.count() == 50_000
        spilled.unpersist()
        memory_only.unpersist()
    finally:
        spark.conf.unset("spark.spate.cache.maxMemory")


def test_least_recently_used_rows_go_to_disk_when_memory_is_full(spark):
    # each relation holds about 800 kB (100,000 longs): one fits in 1.2 MB, two do not
    spark.conf.set("spark.spate.cache.maxMemory", "1200k")
    try:
        first = spark.range(100_000).cache()
        assert first.count() == 100_000 and arrow_files(first) == []
        second = spark.range(0, 200_000, 2).cache()
        assert second.count() == 100_000 and arrow_files(second) == []
        assert len(arrow_files(first)) == 1  # evicted to disk, still cached
        assert first.agg({"id": "sum"}).first()[0] == sum(range(100_000))
        first.unpersist()
        second.unpersist()
    finally:
        spark.conf.unset("spark.spate.cache.maxMemory")


def test_clear_cache_forgets_every_cached_dataframe(spark, tmp_dir):
    path = str(tmp_dir / "c")
    spark.range(3).write.parquet(path)
    df = spark.read.parquet(path).cache()
    assert df.count() == 3
    spark.range(3, 5).write.mode("append").parquet(path)
    assert df.count() == 3
    spark.catalog.clearCache()
    assert df.storageLevel == StorageLevel.NONE
    assert df.count() == 5


def test_a_small_cached_table_is_still_broadcast(spark):
    # the cached scan passes its sizes on: joins above it choose as over the uncached table
    big = spark.range(0, 200_000).withColumn("k", F.col("id") % 100)
    small = spark.range(0, 100).withColumnRenamed("id", "k").cache()
    try:
        assert small.count() == 100
        joins = [line for line in datafusion_plan(big.join(small, "k")).splitlines() if "Join" in line]
        assert len(joins) == 1 and "mode=CollectLeft" in joins[0]
        assert big.join(small, "k").count() == 200_000
    finally:
        small.unpersist()
