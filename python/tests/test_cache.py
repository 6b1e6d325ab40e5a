"""cache/persist/unpersist: the storage level reported back, laziness (the first action computes
the cached rows), reuse (later actions read the kept rows even after the files underneath
changed, as with Spark's cache) and unpersist going back to the source."""

from pyspark import StorageLevel


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
