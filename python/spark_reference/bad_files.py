"""Spark's answers for bad input files: text with bytes that are not UTF-8 (CSV, JSON Lines,
text), Parquet files that are corrupt, truncated, empty or not Parquet at all, read with and
without spark.sql.files.ignoreCorruptFiles. python/tests/test_bad_files.py writes the same
files (python/tests/bad_files_data.py) and compares with this output."""

import os
import sys
import tempfile

from pyspark.sql import SparkSession

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
import bad_files_data as data  # noqa: E402

spark = (
    SparkSession.builder.master("local[1]")
    .config("spark.ui.enabled", "false")
    .config("spark.sql.session.timeZone", "UTC")
    .getOrCreate()
)
d = tempfile.mkdtemp()
paths = data.write_all(d)


def show(label, df):
    rows = sorted((tuple(r) for r in df.collect()), key=repr)
    print("==", label, df.dtypes)
    for r in rows:
        print(repr(r))


def error(label, thunk):
    try:
        thunk()
        print("!!", label, "no error")
    except Exception as e:
        cond = getattr(e, "getCondition", lambda: None)() or getattr(e, "getErrorClass", lambda: None)()
        text = str(e)
        # the first error class Spark names in its message, and whether it names the file
        import re

        classes = re.findall(r"\[([A-Z_]+(?:\.[A-Z_]+)?)\]", text)
        print("!!", label, type(e).__name__, cond, classes[:2], "names part-1.parquet:", "part-1.parquet" in text)


show("csv", spark.read.option("header", True).csv(paths["csv"]))
show("json", spark.read.json(paths["json"]))
show("text", spark.read.text(paths["text"]))
show("empty text files", spark.read.option("header", True).csv(paths["empty_dir"]))

for kind in ["corrupt", "truncated", "not_parquet", "empty"]:
    error(f"parquet {kind}", lambda: spark.read.schema(data.PARQUET_SCHEMA).parquet(paths[f"parquet_{kind}"]).collect())
    error(f"parquet {kind} inferred", lambda: spark.read.parquet(paths[f"parquet_{kind}"]).collect())
    spark.conf.set("spark.sql.files.ignoreCorruptFiles", "true")
    df = spark.read.schema(data.PARQUET_SCHEMA).parquet(paths[f"parquet_{kind}"])
    print("==", f"parquet {kind} ignored", [tuple(r) for r in df.selectExpr("count(*)", "sum(id)", "min(v)", "max(v)").collect()])
    spark.conf.set("spark.sql.files.ignoreCorruptFiles", "false")
