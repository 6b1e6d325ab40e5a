"""The catalog API and SQL catalog statements against the warehouse and temporary views."""

import pytest
from pyspark.errors import AnalysisException


def test_current_and_list_databases(spark):
    assert spark.catalog.currentDatabase() == "default"
    assert "default" in [d.name for d in spark.catalog.listDatabases()]
    assert spark.catalog.databaseExists("default")
    assert not spark.catalog.databaseExists("no_such_db")
    assert spark.catalog.currentCatalog() == "spark_catalog"


def test_list_tables_views_and_columns(spark):
    df = spark.createDataFrame([(1, "a")], "id INT, name STRING")
    df.write.mode("overwrite").saveAsTable("cat_people")
    df.createOrReplaceTempView("cat_view")
    tables = {t.name: t for t in spark.catalog.listTables()}
    assert tables["cat_people"].tableType == "MANAGED" and not tables["cat_people"].isTemporary
    assert tables["cat_people"].namespace == ["default"]
    assert tables["cat_view"].isTemporary and tables["cat_view"].tableType == "TEMPORARY"
    cols = spark.catalog.listColumns("cat_people")
    assert [(c.name, c.dataType, c.nullable) for c in cols] == [("id", "int", True), ("name", "string", True)]
    assert spark.catalog.tableExists("cat_people")
    assert spark.catalog.tableExists("cat_view")
    assert not spark.catalog.tableExists("cat_missing")
    assert [t.name for t in spark.catalog.listTables(pattern="cat_p*")] == ["cat_people"]


def test_drop_temp_view_and_global_temp_view(spark):
    spark.range(3).createOrReplaceTempView("to_drop")
    assert spark.catalog.dropTempView("to_drop") is True
    assert spark.catalog.dropTempView("to_drop") is False
    spark.range(4).createOrReplaceGlobalTempView("shared_view")
    assert spark.table("global_temp.shared_view").count() == 4
    assert spark.sql("SELECT count(*) AS n FROM global_temp.shared_view").first().n == 4
    assert spark.catalog.dropGlobalTempView("shared_view") is True


def test_global_temp_views_are_shared_between_sessions(server, spark):
    from pyspark.sql import SparkSession

    spark.range(2).createOrReplaceGlobalTempView("across")
    other = SparkSession.builder.remote(server["url"]).create()
    try:
        assert other.table("global_temp.across").count() == 2
    finally:
        other.stop()


def test_set_current_database_requires_existing(spark):
    with pytest.raises(AnalysisException) as e:
        spark.catalog.setCurrentDatabase("no_such_db")
    assert e.value.getCondition() == "SCHEMA_NOT_FOUND"


def test_function_exists(spark):
    assert spark.catalog.functionExists("upper")
    assert not spark.catalog.functionExists("no_such_function_xyz")
