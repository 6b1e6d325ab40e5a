"""Reading CSV and JSON whose values do not all parse: Spark's `mode` (PERMISSIVE, DROPMALFORMED,
FAILFAST), the corrupt-record column, and `dateFormat` / `timestampFormat`. The expected rows
are what Apache Spark 4.0.1 returns on the same files (python/spark_reference/read_modes.py and
its committed output read_modes.out)."""

import datetime as dt

import pytest
from pyspark.errors import AnalysisException
from pyspark.errors.exceptions.connect import SparkException

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
S = "id int, name string, score double, day date"
J = "id int, name string, tags array<string>, at timestamp"
D = dt.date

CSV_ROWS = [
    (1, "alice", 3.5, D(2024, 1, 5)),
    (2, "bob", None, D(2024, 1, 6)),
    (3, "carol", 4.0, None),
    (4, "dave", None, None),
    (5, "erin", 2.5, D(2024, 1, 9)),
    (6, None, None, None),
]
CSV_RAW = [None, "2,bob,oops,2024-01-06", "3,carol,4.0,notadate", "4,dave", "5,erin,2.5,2024-01-09,extra", None]


@pytest.fixture
def files(tmp_path, spark):
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    for name, text in [("people.csv", PEOPLE_CSV), ("people.json", PEOPLE_JSON), ("fmt.csv", FORMATS_CSV)]:
        (tmp_path / name).write_text(text)
    return lambda name: str(tmp_path / name)


def rows(df):
    return [tuple(r) for r in df.collect()]


def test_csv_permissive_nulls_values_that_do_not_parse(spark, files):
    df = spark.read.option("header", True).schema(S).csv(files("people.csv"))
    assert df.dtypes == [("id", "int"), ("name", "string"), ("score", "double"), ("day", "date")]
    assert sorted(rows(df)) == CSV_ROWS
    explicit = spark.read.option("header", True).option("mode", "PERMISSIVE").schema(S)
    assert sorted(rows(explicit.csv(files("people.csv")))) == CSV_ROWS


def test_csv_corrupt_record_column_keeps_the_raw_line(spark, files):
    df = spark.read.option("header", True).schema(S + ", _corrupt_record string").csv(files("people.csv"))
    assert sorted(rows(df)) == [r + (raw,) for r, raw in zip(CSV_ROWS, CSV_RAW)]
    named = (
        spark.read.option("header", True)
        .option("columnNameOfCorruptRecord", "bad")
        .schema(S + ", bad string")
        .csv(files("people.csv"))
    )
    assert sorted(rows(named.select("id", "bad"))) == [(r[0], raw) for r, raw in zip(CSV_ROWS, CSV_RAW)]
    middle = spark.read.option("header", True).schema(
        "id int, _corrupt_record string, name string, score double, day date"
    )
    got = sorted(rows(middle.csv(files("people.csv"))))
    assert got == [(r[0], raw) + r[1:] for r, raw in zip(CSV_ROWS, CSV_RAW)]


def test_csv_dropmalformed_drops_bad_lines(spark, files):
    df = spark.read.option("header", True).option("mode", "DROPMALFORMED").schema(S).csv(files("people.csv"))
    assert sorted(rows(df)) == [CSV_ROWS[0], CSV_ROWS[5]]


def test_failfast_fails_with_spark_error_class(spark, files):
    df = spark.read.option("header", True).option("mode", "FAILFAST").schema(S).csv(files("people.csv"))
    with pytest.raises(SparkException) as e:
        df.collect()
    assert e.value.getCondition() == "FAILED_READ_FILE.NO_HINT"
    assert e.value.getSqlState() == "KD001"
    assert "people.csv" in str(e.value) and "2,bob,oops,2024-01-06" in str(e.value)
    j = spark.read.option("mode", "failfast").schema(J).json(files("people.json"))
    with pytest.raises(SparkException, match=r'\{"id": "x", "name": "bob"\}'):
        j.collect()


JSON_ROWS = [
    (1, "alice", ["a"], dt.datetime(2024, 1, 5, 10, 30)),
    (None, "bob", None, None),
    (None, None, None, None),
    (4, "17", None, None),
    (5, None, ["1", "b"], None),
]


def test_json_modes_and_corrupt_record(spark, files):
    key = lambda r: (r[0] is None, r[0] or 0, r[1] or "")  # noqa: E731
    df = spark.read.schema(J).json(files("people.json"))
    assert sorted(rows(df), key=key) == sorted(JSON_ROWS, key=key)
    dropped = spark.read.option("mode", "DROPMALFORMED").schema(J).json(files("people.json"))
    assert sorted(rows(dropped), key=key) == [JSON_ROWS[0], JSON_ROWS[4]]
    corrupt = spark.read.schema(J + ", _corrupt_record string").json(files("people.json"))
    raw = [None, '{"id": "x", "name": "bob"}', '{"id": 3, "name": ', '{"id": 4, "name": 17, "at": "bad"}', None]
    assert sorted(rows(corrupt), key=key) == sorted([r + (c,) for r, c in zip(JSON_ROWS, raw)], key=key)


def test_date_and_timestamp_formats(spark, files):
    df = (
        spark.read.option("header", True)
        .option("dateFormat", "dd/MM/yyyy")
        .option("timestampFormat", "MM/dd/yyyy HH:mm:ss")
        .schema("d date, t timestamp")
        .csv(files("fmt.csv"))
    )
    assert rows(df) == [
        (D(2024, 1, 5), dt.datetime(2024, 1, 5, 10, 30, 15)),
        (D(2023, 12, 31), dt.datetime(2023, 12, 31, 23, 59, 59)),
        (None, None),  # "1/2/2024" has one-digit fields where the pattern wants two
    ]
    default = spark.read.option("header", True).schema("d string, t timestamp").csv(files("fmt.csv"))
    assert [r.t for r in default.collect()] == [None, None, None]


def test_timestamps_without_offset_are_in_the_session_time_zone(spark, files):
    spark.conf.set("spark.sql.session.timeZone", "America/Los_Angeles")
    try:
        df = spark.read.schema(J).json(files("people.json")).where("id = 1")
        (epoch,) = df.selectExpr("cast(at as long)").first()
    finally:
        spark.conf.set("spark.sql.session.timeZone", "UTC")
    # 10:30 Pacific Standard Time is 18:30 UTC
    assert epoch == int(dt.datetime(2024, 1, 5, 18, 30, tzinfo=dt.timezone.utc).timestamp())


def test_partition_columns_with_a_schema(spark, tmp_path):
    for k, text in [(1, "10\nx\n"), (2, "20\n")]:
        (tmp_path / f"k={k}").mkdir()
        (tmp_path / f"k={k}" / "part.csv").write_text(text)
    df = spark.read.schema("v int").csv(str(tmp_path))
    assert df.columns == ["v", "k"]
    assert sorted(rows(df), key=str) == sorted([(10, 1), (None, 1), (20, 2)], key=str)
    assert rows(df.where("k = 2")) == [(20, 2)]


def test_corrupt_record_column_must_be_a_string(spark, files):
    with pytest.raises(AnalysisException) as e:
        spark.read.schema("a int, _corrupt_record int").json(files("people.json")).collect()
    assert e.value.getCondition() == "INVALID_CORRUPT_RECORD_TYPE"
    assert '`_corrupt_record`' in str(e.value) and '"INT"' in str(e.value)


def test_multiline_json_modes(spark, tmp_path):
    # Expected rows: python/spark_reference/read_multiline.py and read_multiline.out.
    good = '[\n  {"id": 1, "name": "a"},\n  {"id": 2, "name": "b"}\n]\n'
    one = '{\n  "id": 3,\n  "name": "c"\n}\n'
    bad = '{\n  "id": 4,\n  "name": \n'
    for name, text in [("1good.json", good), ("2one.json", one), ("3bad.json", bad)]:
        (tmp_path / name).write_text(text)
    schema = "id int, name string, _corrupt_record string"

    def read(mode):
        return spark.read.schema(schema).option("multiLine", True).option("mode", mode).json(str(tmp_path))

    rows = sorted((tuple(r) for r in read("PERMISSIVE").collect()), key=repr)
    assert rows == [(1, "a", None), (2, "b", None), (3, "c", None), (None, None, bad)]
    assert sorted(tuple(r) for r in read("DROPMALFORMED").collect()) == [(1, "a", None), (2, "b", None), (3, "c", None)]
    with pytest.raises(SparkException) as e:
        read("FAILFAST").collect()
    assert e.value.getCondition() == "FAILED_READ_FILE.NO_HINT"
    assert "3bad.json" in str(e.value)
