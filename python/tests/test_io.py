"""Reading and writing files and tables with Spark's options and save modes."""

import pytest
from pyspark.errors import AnalysisException
from pyspark.sql import functions as F

from conftest import datafusion_plan

ROWS = [(1, "a", 1.5, "2024-01-01"), (2, "b", None, "2024-01-01"), (3, "c", 3.5, "2024-01-02")]


@pytest.fixture
def df(spark):
    return spark.createDataFrame(ROWS, ["id", "name", "score", "day"])


def test_parquet_round_trip_and_modes(spark, df, tmp_dir):
    path = str(tmp_dir / "p")
    df.write.parquet(path)
    back = spark.read.parquet(path)
    assert back.dtypes == df.dtypes
    assert sorted(tuple(r) for r in back.collect()) == sorted(ROWS, key=lambda r: r[0])
    with pytest.raises(AnalysisException) as e:
        df.write.parquet(path)
    assert e.value.getCondition() == "PATH_ALREADY_EXISTS"
    df.write.mode("append").parquet(path)
    assert spark.read.parquet(path).count() == 2 * len(ROWS)
    df.limit(1).write.mode("overwrite").parquet(path)
    assert spark.read.parquet(path).count() == 1
    df.write.mode("ignore").parquet(path)
    assert spark.read.parquet(path).count() == 1


def test_partitioned_write_reads_back_with_partition_column(spark, df, tmp_dir):
    path = tmp_dir / "parts"
    df.write.partitionBy("day").option("compression", "zstd").parquet(str(path))
    dirs = sorted(p.name for p in path.iterdir() if p.is_dir())
    assert dirs == ["day=2024-01-01", "day=2024-01-02"]
    back = spark.read.parquet(str(path))
    assert set(back.columns) == {"id", "name", "score", "day"}
    assert back.filter(F.col("day") == "2024-01-02").select("id").collect()[0].id == 3


def test_csv_defaults_header_and_infer_schema(spark, tmp_dir):
    path = tmp_dir / "in.csv"
    path.write_text("id,name,price\n1,apple,1.5\n2,pear,\n")
    raw = spark.read.csv(str(path))
    assert raw.columns == ["_c0", "_c1", "_c2"]
    assert all(t == "string" for _, t in raw.dtypes)
    assert raw.count() == 3
    typed = spark.read.option("header", True).option("inferSchema", True).csv(str(path))
    assert typed.columns == ["id", "name", "price"]
    assert dict(typed.dtypes)["price"] == "double"
    assert typed.filter(F.col("price").isNull()).count() == 1


def test_csv_sep_and_explicit_schema(spark, tmp_dir):
    path = tmp_dir / "semi.csv"
    path.write_text("1;x\n2;y\n")
    df = spark.read.schema("n INT, s STRING").option("sep", ";").csv(str(path))
    assert df.dtypes == [("n", "int"), ("s", "string")]
    assert [tuple(r) for r in df.orderBy("n").collect()] == [(1, "x"), (2, "y")]


def test_json_lines_sorted_fields(spark, tmp_dir):
    path = tmp_dir / "in.json"
    path.write_text('{"b": 1, "a": "x"}\n{"b": 2, "a": "y", "c": 1.5}\n')
    df = spark.read.json(str(path))
    assert df.columns == ["a", "b", "c"]
    assert dict(df.dtypes) == {"a": "string", "b": "bigint", "c": "double"}


def test_text_read_and_write(spark, tmp_dir):
    path = tmp_dir / "lines.txt"
    path.write_text("hello\nworld\n")
    df = spark.read.text(str(path))
    assert df.columns == ["value"]
    assert [r.value for r in df.collect()] == ["hello", "world"]


def test_json_and_csv_writes(spark, df, tmp_dir):
    df.write.json(str(tmp_dir / "j"))
    assert spark.read.json(str(tmp_dir / "j")).count() == len(ROWS)
    df.write.option("header", True).csv(str(tmp_dir / "c"))
    back = spark.read.option("header", True).csv(str(tmp_dir / "c"))
    assert sorted(back.columns) == sorted(df.columns)
    assert back.count() == len(ROWS)


def test_save_as_table_insert_into_and_table(spark, df):
    df.write.saveAsTable("people_tbl")
    assert spark.table("people_tbl").count() == len(ROWS)
    df.limit(1).write.insertInto("people_tbl")
    assert spark.table("people_tbl").count() == len(ROWS) + 1
    assert spark.sql("SELECT count(*) AS n FROM people_tbl").first().n == len(ROWS) + 1
    with pytest.raises(AnalysisException):
        df.write.saveAsTable("people_tbl")
    df.write.mode("overwrite").saveAsTable("people_tbl")
    assert spark.table("people_tbl").count() == len(ROWS)


def test_path_glob_filter_and_recursive_file_lookup(spark, tmp_dir):
    root = tmp_dir / "g"
    (root / "x=1").mkdir(parents=True)
    (root / "x=2").mkdir(parents=True)
    (root / "x=1" / "a.csv").write_text("n\n1\n2\n")
    (root / "x=2" / "b.csv").write_text("n\n3\n")
    (root / "x=2" / "c.txt").write_text("n\n99\n")
    reader = spark.read.option("header", True)
    everything = reader.csv(str(root))
    assert sorted(tuple(r) for r in everything.collect()) == [("1", 1), ("2", 1), ("3", 2), ("99", 2)]
    # pathGlobFilter keeps matching file names at any depth; partition columns stay
    only_csv = reader.option("pathGlobFilter", "*.csv").csv(str(root))
    assert only_csv.columns == ["n", "x"]
    assert sorted(tuple(r) for r in only_csv.collect()) == [("1", 1), ("2", 1), ("3", 2)]
    # recursiveFileLookup reads the files below without inferring partition columns
    flat = reader.option("recursiveFileLookup", True).option("pathGlobFilter", "*.csv").csv(str(root))
    assert flat.columns == ["n"]
    assert sorted(r.n for r in flat.collect()) == ["1", "2", "3"]


def test_partition_pruning_is_visible_in_explain(spark, df, tmp_dir):
    path = str(tmp_dir / "pruned")
    df.write.partitionBy("day").parquet(path)
    query = spark.read.parquet(path).filter("day = '2024-01-02'")
    plan = datafusion_plan(query)
    # only the files of the selected partition are scanned
    assert "day=2024-01-02" in plan and "day=2024-01-01" not in plan
    assert [r.id for r in query.collect()] == [r[0] for r in ROWS if r[3] == "2024-01-02"]


def test_json_multiline_documents(spark, tmp_dir):
    root = tmp_dir / "docs"
    root.mkdir()
    (root / "one.json").write_text('{\n  "b": "x",\n  "a": 1\n}\n')
    (root / "many.json").write_text('[\n {"a": 2, "b": "y"},\n {"a": 3}\n]\n')
    df = spark.read.option("multiLine", True).json(str(root))
    assert df.dtypes == [("a", "bigint"), ("b", "string")]
    assert sorted(tuple(r) for r in df.collect()) == [(1, "x"), (2, "y"), (3, None)]


def test_csv_null_value_is_written_and_read(spark, tmp_dir):
    # nullValue: the text a null is written as, and the text read back as null
    out = str(tmp_dir / "nulls")
    df = spark.createDataFrame([(1, None), (2, "b")], "id INT, name STRING")
    df.write.option("nullValue", "<none>").mode("overwrite").csv(out)
    texts = sorted(
        line for f in (tmp_dir / "nulls").glob("*.csv") for line in f.read_text().splitlines()
    )
    assert texts == ["1,<none>", "2,b"]
    plain = spark.read.schema(df.schema).csv(out).orderBy("id").collect()
    assert [(r.id, r.name) for r in plain] == [(1, "<none>"), (2, "b")]
    back = spark.read.schema(df.schema).option("nullValue", "<none>").csv(out).orderBy("id")
    assert [(r.id, r.name) for r in back.collect()] == [(1, None), (2, "b")]


def test_text_read_takes_the_schemas_column_name(spark, tmp_dir):
    path = tmp_dir / "letters.txt"
    path.write_text("a\nb\n")
    df = spark.read.schema("letter STRING").text(str(path))
    assert df.columns == ["letter"]
    assert [r.letter for r in df.collect()] == ["a", "b"]
    with pytest.raises(AnalysisException, match="single string column"):
        spark.read.schema("a STRING, b INT").text(str(path)).collect()


def test_orc_round_trip_and_files_other_writers_read(spark, tmp_dir):
    import datetime

    import pyarrow as pa
    import pyarrow.orc as orc

    rows = [(1, "a", 1.5, True, datetime.date(2024, 1, 2)), (2, None, None, False, None)]
    df = spark.createDataFrame(rows, "id bigint, s string, x double, b boolean, d date")
    out = tmp_dir / "orc_out"
    df.write.orc(str(out))
    files = sorted(p.name for p in out.iterdir() if p.suffix == ".orc")
    assert files and all(f.startswith("part-00000-") and f.endswith("-c000.snappy.orc") for f in files)
    # another ORC reader (Apache Arrow's C++ one) reads what Spate wrote
    table = pa.concat_tables([orc.read_table(str(out / f)) for f in files])
    assert table.to_pylist() == [dict(zip(["id", "s", "x", "b", "d"], r)) for r in rows]
    back = spark.read.orc(str(out))
    assert back.schema.simpleString() == "struct<id:bigint,s:string,x:double,b:boolean,d:date>"
    assert [tuple(r) for r in back.orderBy("id").collect()] == rows
    assert [r.s for r in spark.read.format("orc").load(str(out)).select("s").collect()] == ["a", None]
    # a file Arrow wrote, read by Spate
    written = tmp_dir / "arrow.orc"
    orc.write_table(pa.table({"k": pa.array([3, 4], pa.int32()), "v": ["x", "y"]}), str(written))
    got = spark.read.orc(str(written))
    assert got.schema.simpleString() == "struct<k:int,v:string>"
    assert [tuple(r) for r in got.collect()] == [(3, "x"), (4, "y")]
    # a file named without the extension is read when named, as Spark reads it
    plain = tmp_dir / "no_extension"
    plain.write_bytes(written.read_bytes())
    assert spark.read.orc(str(plain)).count() == 2


def test_parquet_merge_schema_unions_the_files_columns(spark, tmp_dir):
    a, b = tmp_dir / "merge_a", tmp_dir / "merge_b"
    spark.createDataFrame([(10, "Alice")], ["age", "name"]).write.parquet(str(a))
    spark.createDataFrame([(70, "Bob")], ["height", "name"]).write.parquet(str(b))
    merged = spark.read.option("mergeSchema", "true").parquet(str(a), str(b))
    assert sorted(merged.columns) == ["age", "height", "name"]
    got = sorted(tuple(r) for r in merged.select("name", "age", "height").collect())
    assert got == [("Alice", 10, None), ("Bob", None, 70)]
    # without mergeSchema Spark takes one file's schema
    assert len(spark.read.parquet(str(a), str(b)).columns) == 2
