"""Spark's XML files and parsing of DataFrames, for python/tests/test_xml_io.py: the text of a
written XML file, what reading it back and reading a hand-written file give, and
spark.read.xml(df) / spark.read.json(df) over DataFrames of strings. One JSON object per line.
Run with pyspark 4.2.1: /tmp/spark42/bin/python xml_io.py > xml_io.out"""

import glob
import json
import os
import tempfile

from pyspark.sql import SparkSession

spark = SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false").getOrCreate()
spark.conf.set("spark.sql.session.timeZone", "UTC")

# the tests use the same rows and file texts
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


def show(case, df):
    rows = [[v if not hasattr(v, "asDict") else v.asDict(recursive=True) for v in r] for r in df.collect()]
    print(json.dumps({"case": case, "dtypes": df.dtypes, "rows": rows}))


d = tempfile.mkdtemp()
spark.createDataFrame(PEOPLE).coalesce(1).write.option("rowTag", "person").format("xml").save(d + "/o")
(data,) = [f for f in glob.glob(d + "/o/*.xml")]
print(json.dumps({"case": "written", "text": open(data).read()}))
show("read_back", spark.read.option("rowTag", "person").xml(d + "/o").orderBy("name"))
with open(d + "/in.xml", "w") as f:
    f.write(HAND_WRITTEN)
show("hand_written", spark.read.option("rowTag", "person").xml(d + "/in.xml").orderBy("_id"))
xml_df = spark.createDataFrame([(t,) for t in XML_TEXTS], schema="value STRING")
show("parse_xml", spark.read.option("rowTag", "person").xml(xml_df).orderBy("name"))
json_df = spark.createDataFrame([(t,) for t in JSON_TEXTS], schema="value STRING")
show("parse_json", spark.read.json(json_df).orderBy("a"))
