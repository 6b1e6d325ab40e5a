"""Spark's parse modes, corrupt-record column and datetime formats for CSV and JSON, on the
data python/tests/test_read_modes.py writes (the same text, repeated here)."""

import os
import tempfile

from pyspark.sql import SparkSession

PEOPLE_CSV = "id,name,score,day\n1,alice,3.5,2024-01-05\n2,bob,oops,2024-01-06\n3,carol,4.0,notadate\n4,dave\n5,erin,2.5,2024-01-09,extra\n6,,,\n"
PEOPLE_JSON = (
    '{"id": 1, "name": "alice", "tags": ["a"], "at": "2024-01-05 10:30"}\n'
    '{"id": "x", "name": "bob"}\n'
    '{"id": 3, "name": \n'
    "\n"
    '{"id": 4, "name": 17, "at": "bad"}\n'
    '{"id": 5, "tags": [1, "b"], "extra": true}\n'
)
FORMATS_CSV = "d,t\n05/01/2024,01/05/2024 10:30:15\n31/12/2023,12/31/2023 23:59:59\n1/2/2024,1/2/2024 1:02:03\n"

d = tempfile.mkdtemp()
for name, text in [("people.csv", PEOPLE_CSV), ("people.json", PEOPLE_JSON), ("fmt.csv", FORMATS_CSV)]:
    with open(os.path.join(d, name), "w") as f:
        f.write(text)
p = lambda n: os.path.join(d, n)  # noqa: E731

spark = (
    SparkSession.builder.master("local[1]")
    .config("spark.ui.enabled", "false")
    .config("spark.sql.session.timeZone", "UTC")
    .getOrCreate()
)
S = "id int, name string, score double, day date"
J = "id int, name string, tags array<string>, at timestamp"


def show(label, df):
    print("==", label, df.dtypes)
    for r in df.collect():
        print(tuple(r))


def error(label, df):
    try:
        df.collect()
        print("!!", label, "no error")
    except Exception as e:  # the JVM error: its first line names the class
        print("!!", label, str(e).split("\n")[1][:300])


def csv():
    return spark.read.option("header", True)


for mode in ["PERMISSIVE", "DROPMALFORMED"]:
    show("csv " + mode, csv().option("mode", mode).schema(S).csv(p("people.csv")))
show("csv corrupt", csv().schema(S + ", _corrupt_record string").csv(p("people.csv")))
show("csv corrupt named", csv().option("columnNameOfCorruptRecord", "bad").schema(S + ", bad string").csv(p("people.csv")))
show("csv corrupt middle", spark.read.option("header", True).schema("id int, _corrupt_record string, name string, score double, day date").csv(p("people.csv")))
error("csv FAILFAST", spark.read.option("header", True).option("mode", "FAILFAST").schema(S).csv(p("people.csv")))
for mode in ["PERMISSIVE", "DROPMALFORMED"]:
    show("json " + mode, spark.read.option("mode", mode).schema(J).json(p("people.json")))
show("json corrupt", spark.read.schema(J + ", _corrupt_record string").json(p("people.json")))
error("json FAILFAST", spark.read.option("mode", "FAILFAST").schema(J).json(p("people.json")))
show("formats", spark.read.option("header", True).option("dateFormat", "dd/MM/yyyy").option("timestampFormat", "MM/dd/yyyy HH:mm:ss").schema("d date, t timestamp").csv(p("fmt.csv")))
show("default formats", spark.read.option("header", True).schema("d string, t timestamp").csv(p("fmt.csv")))
spark.conf.set("spark.sql.session.timeZone", "America/Los_Angeles")
show("session zone", spark.read.schema(J).json(p("people.json")).selectExpr("id", "cast(at as long) as epoch").where("id = 1"))
try:
    spark.read.schema("a int, _corrupt_record int").json(p("people.json")).collect()
except Exception as e:
    print("!! corrupt int", str(e)[:200])
