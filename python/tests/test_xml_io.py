"""XML files and parsed DataFrames give Apache Spark 4.2.1's answers (python/spark_reference/
xml_io.py and its committed output): the exact text of a written XML file (declaration, root
tag, four-space indentation, escaping, nulls left out), reading it back, reading a file whose
rows sit at several depths with attributes and repeated elements, spark.read.xml(df) and
spark.read.json(df) (a corrupt JSON text kept in _corrupt_record)."""

import glob
import json
from pathlib import Path

import pytest

REFERENCE = Path(__file__).resolve().parents[1] / "spark_reference" / "xml_io.out"
CASES = {c["case"]: c for c in map(json.loads, REFERENCE.read_text().splitlines())}

PEOPLE = [{"age": 100, "name": "Hyukjin Kwon"}, {"age": None, "name": "A & B"}]
HAND_WRITTEN = (
    '<root><person id="1"><name>Al</name></person><other/>'
    '<person id="2"><name>Bo</name><tags><t>a</t><t>b</t></tags></person></root>'
)
XML_TEXTS = [
    "<person><name>Alice</name><age>25</age></person>",
    "<person><name>Bob</name><age>30</age><x>1.5</x></person>",
]
JSON_TEXTS = ['{"a": 1, "b": "x"}', '{"a": 2.5}', "not json"]


@pytest.fixture(autouse=True)
def utc(spark):
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    yield
    spark.conf.unset("spark.sql.session.timeZone")


def check(case, df):
    want = CASES[case]
    rows = [[v if not hasattr(v, "asDict") else v.asDict(recursive=True) for v in r] for r in df.collect()]
    assert [list(t) for t in df.dtypes] == want["dtypes"]
    assert rows == want["rows"]


def test_written_file_and_reading_it_back(spark, tmp_path):
    out = str(tmp_path / "o")
    spark.createDataFrame(PEOPLE).coalesce(1).write.option("rowTag", "person").format("xml").save(out)
    (data,) = glob.glob(out + "/*.xml")
    assert Path(data).read_text() == CASES["written"]["text"]
    check("read_back", spark.read.option("rowTag", "person").xml(out).orderBy("name"))


def test_rows_at_any_depth_with_attributes_and_repeats(spark, tmp_path):
    path = tmp_path / "in.xml"
    path.write_text(HAND_WRITTEN)
    check("hand_written", spark.read.option("rowTag", "person").xml(str(path)).orderBy("_id"))


def test_read_xml_and_json_of_a_dataframe(spark):
    xml_df = spark.createDataFrame([(t,) for t in XML_TEXTS], schema="value STRING")
    check("parse_xml", spark.read.option("rowTag", "person").xml(xml_df).orderBy("name"))
    json_df = spark.createDataFrame([(t,) for t in JSON_TEXTS], schema="value STRING")
    check("parse_json", spark.read.json(json_df).orderBy("a"))
