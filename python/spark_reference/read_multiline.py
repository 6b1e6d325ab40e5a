"""Spark's parse modes for multiLine JSON (python/tests/test_read_modes.py::test_multiline_json_modes):
a file is one document, an object or an array of objects; a file that does not parse is one
corrupt record holding the whole text."""

import os
import tempfile

from pyspark.sql import SparkSession

GOOD = '[\n  {"id": 1, "name": "a"},\n  {"id": 2, "name": "b"}\n]\n'
ONE = '{\n  "id": 3,\n  "name": "c"\n}\n'
BAD = '{\n  "id": 4,\n  "name": \n'
d = tempfile.mkdtemp()
for name, text in [("1good.json", GOOD), ("2one.json", ONE), ("3bad.json", BAD)]:
    with open(os.path.join(d, name), "w") as f:
        f.write(text)

spark = SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false").getOrCreate()
schema = "id int, name string, _corrupt_record string"
for mode in ["PERMISSIVE", "DROPMALFORMED"]:
    rows = spark.read.schema(schema).option("multiLine", True).option("mode", mode).json(d).collect()
    print(mode, sorted([tuple(r) for r in rows], key=repr))
try:
    spark.read.schema(schema).option("multiLine", True).option("mode", "FAILFAST").json(d).collect()
except Exception as e:
    print("FAILFAST", str(e).split("\n")[1][:160])
