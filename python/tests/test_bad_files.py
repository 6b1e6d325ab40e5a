"""Bad input files against a real server: text that is not UTF-8, Parquet files that are
corrupt, truncated, not Parquet or empty. Expected answers are real Spark's, from
python/spark_reference/bad_files.py (its output, bad_files.out, is parsed here); the files are
the same bytes (bad_files_data.py). The server must never panic and must keep serving."""

import ast
import re
from pathlib import Path

import pytest
from pyspark.errors.exceptions.connect import SparkException

import bad_files_data as data

REFERENCE = Path(__file__).resolve().parents[1] / "spark_reference" / "bad_files.out"


def spark_answers():
    """Label -> list of row tuples, or ('error', class, names the file) for an error."""
    answers, label = {}, None
    for line in REFERENCE.read_text().splitlines():
        if line.startswith("== "):
            m = re.match(r"== (.*?) (\[.*\])$", line)
            label = m.group(1)
            answers[label] = ast.literal_eval(m.group(2)) if "ignored" in label else []
            if "ignored" in label:
                label = None
        elif line.startswith("!! "):
            m = re.match(r"!! (.*?) (\w+) (\S+) (\[.*?\]) names part-1.parquet: (\w+)$", line)
            if m:
                answers[m.group(1)] = ("error", ast.literal_eval(m.group(4))[0], m.group(5) == "True")
            else:
                answers[line[3:].rsplit(" no error", 1)[0]] = "no error"
            label = None
        elif label is not None:
            answers[label].append(ast.literal_eval(line))
    return answers


SPARK = spark_answers()


@pytest.fixture(scope="module")
def paths(tmp_path_factory):
    return data.write_all(str(tmp_path_factory.mktemp("bad")))


def rows(df):
    return sorted((tuple(r) for r in df.collect()), key=repr)


def test_csv_that_is_not_utf8_reads_with_replacement_characters(spark, paths):
    got = rows(spark.read.option("header", True).csv(paths["csv"]))
    assert got == SPARK["csv"]
    assert got[0] == ("1", "caf\ufffd")


def test_text_that_is_not_utf8_reads_with_replacement_characters(spark, paths):
    assert rows(spark.read.text(paths["text"])) == SPARK["text"]


def test_empty_text_files_are_no_rows(spark, paths):
    assert rows(spark.read.option("header", True).csv(paths["empty_dir"])) == SPARK["empty text files"]


@pytest.mark.xfail(
    strict=True,
    reason="Spark reads a JSON line that is not UTF-8 as a corrupt record (_corrupt_record, "
    "partial fields); Spate reads it with replacement characters in its strings",
)
def test_json_that_is_not_utf8_is_a_corrupt_record_as_in_spark(spark, paths):
    assert rows(spark.read.json(paths["json"])) == SPARK["json"]


def test_json_that_is_not_utf8_reads_and_the_server_keeps_serving(spark, paths):
    got = spark.read.json(paths["json"]).orderBy("id").collect()
    assert [(r.id, r.s) for r in got] == [(1, "caf\ufffd"), (2, "ok"), (3, "a\ufffdb")]


@pytest.mark.parametrize("kind", ["corrupt", "truncated", "not_parquet"])
@pytest.mark.parametrize("schema", [True, False], ids=["with schema", "inferred"])
def test_a_bad_parquet_file_fails_naming_it_and_the_server_goes_on(spark, paths, kind, schema):
    label = f"parquet {kind}" + ("" if schema else " inferred")
    _, error_class, names_file = SPARK[label]
    reader = spark.read.schema(data.PARQUET_SCHEMA) if schema else spark.read
    with pytest.raises(SparkException) as e:
        reader.parquet(paths[f"parquet_{kind}"]).collect()
    assert e.value.getCondition() == error_class == "FAILED_READ_FILE.NO_HINT"
    assert e.value.getSqlState() == "KD001"
    assert ("part-1.parquet" in str(e.value)) == names_file
    assert spark.range(3).count() == 3


@pytest.mark.parametrize("kind", ["corrupt", "truncated", "not_parquet", "empty"])
def test_ignore_corrupt_files_skips_them(spark, paths, kind):
    spark.conf.set("spark.sql.files.ignoreCorruptFiles", "true")
    try:
        df = spark.read.schema(data.PARQUET_SCHEMA).parquet(paths[f"parquet_{kind}"])
        got = [tuple(r) for r in df.selectExpr("count(*)", "sum(id)", "min(v)", "max(v)").collect()]
    finally:
        spark.conf.unset("spark.sql.files.ignoreCorruptFiles")
    assert got == SPARK[f"parquet {kind} ignored"]


def test_an_empty_parquet_file_is_no_rows(spark, paths):
    assert SPARK["parquet empty"] == "no error"
    df = spark.read.parquet(paths["parquet_empty"])
    assert df.count() == 100
    assert sorted(r.id for r in df.collect()) == list(range(100))
