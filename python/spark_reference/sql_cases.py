"""SQL queries by topic, for python/tests/test_sql_cases.py: each query's column names and rows
(variants as their JSON text, structs as dicts, bytes as hex), or the error condition it
raises. One JSON object per line. A TIMESTAMP reaches Python as the local date-time of the
process's zone: run it, like the tests, with TZ=UTC. Run with pyspark 4.2.1 (its functions include time_bucket):

    /tmp/spark42/bin/python sql_cases.py > sql_cases.out
"""

import datetime
import decimal
import json
import os
import time

os.environ["TZ"] = "UTC"
time.tzset()

from pyspark.sql import Row, SparkSession  # noqa: E402
from pyspark.sql.types import VariantVal  # noqa: E402

spark = SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false").getOrCreate()
spark.conf.set("spark.sql.session.timeZone", "America/Los_Angeles")

VARIANT = [
    # numbers take the smallest exact type; decimals keep their written scale in the schema
    "SELECT to_json(parse_json('1.50')), to_json(parse_json('1.0')), to_json(parse_json('0.001')),"
    " to_json(parse_json('1E10')), to_json(parse_json('-1.5e300')), to_json(parse_json('92233720368547758070'))",
    "SELECT schema_of_variant(parse_json('[1, 1.5, \"a\"]')) AS a, schema_of_variant(parse_json('[1, 1.5]')) AS b,"
    " schema_of_variant(parse_json('{\"b c\": 0.001, \"a\": null, \"x\": [] }')) AS c,"
    " schema_of_variant(parse_json('92233720368547758070')) AS d, schema_of_variant(parse_json('1e2')) AS e,"
    " schema_of_variant(parse_json('[true, \"x\", 2]')) AS f",
    # objects keep sorted keys; strings are escaped as Jackson does; text after the value is ignored
    "SELECT to_json(parse_json('{ \"b\" : 1, \"a\": [true, null, \"x\\\\u0001/\\\\n\"], \"c\": {} }')) AS j,"
    " to_json(parse_json(' [1, 2] ]')) AS trailing",
    "SELECT parse_json('{\"a\":1,\"a\":2}')",
    "SELECT parse_json('{a : 1}')",
    "SELECT try_parse_json('{\"a\":1,\"a\":2}') AS dup, try_parse_json('{a : 1}') AS bad, try_parse_json('[1]') AS ok",
    "SELECT parse_json(NULL) AS p, to_json(parse_json(NULL)) AS j, schema_of_variant(parse_json(NULL)) AS s",
    # variant_get: paths, casts, nulls
    "SELECT variant_get(parse_json('{\"a\": 1}'), '$.a', 'int'), try_variant_get(parse_json('{\"a\": 1}'), '$.a', 'binary')",
    "SELECT variant_get(parse_json('{\"a\": 1}'), '$.a', 'binary')",
    "SELECT variant_get(parse_json('{\"a\": 300}'), '$.a', 'tinyint')",
    "SELECT variant_get(parse_json('{\"a\": \"x\"}'), '$.a', 'int')",
    "SELECT variant_get(parse_json('{\"a\": 1}'), 'a', 'int')",
    "SELECT variant_get(parse_json('{\"a\": 1}'), '$..a', 'int')",
    "SELECT variant_get(parse_json('{\"a\": {\"b\": [1,2]}}'), '$.a', 'string') AS s,"
    " variant_get(parse_json('{\"a\": 1.5}'), '$.a', 'int') AS i, variant_get(parse_json('{\"a\": \"12\"}'), '$.a', 'int') AS p,"
    " variant_get(parse_json('{\"a\": 1.5}'), '$.a', 'double') AS d, try_variant_get(parse_json('{\"a\": 300}'), '$.a', 'tinyint') AS t",
    "SELECT variant_get(parse_json('{\"a\": {\"b\": [1,2]}}'), '$.a', 'struct<b: array<int>>') AS s,"
    " variant_get(parse_json('{\"a\": {\"b\": [1,2]}}'), '$.a.b[1]', 'variant') AS v, variant_get(parse_json('[1,2]'), '$[5]', 'int') AS missing,"
    " variant_get(parse_json('[{\"x\":1}]'), '$[0][\\'x\\']', 'int') AS quoted, variant_get(parse_json('{\"a\": \"2024-01-01\"}'), '$.a', 'date') AS day",
    "SELECT variant_get(parse_json('{\"a\": true}'), '$.a', 'string') AS b, variant_get(parse_json('{\"a\": 2.50}'), '$.a', 'string') AS d,"
    " variant_get(parse_json('{\"a\": 1e3}'), '$.a', 'string') AS e, variant_get(parse_json('{\"a\": null}'), '$.a', 'string') AS n,"
    " variant_get(parse_json('{\"a\": null}'), '$.a', 'variant') AS v",
    "SELECT is_variant_null(parse_json('null')) AS a, is_variant_null(NULL) AS b, is_variant_null(parse_json('1')) AS c,"
    " is_variant_null(parse_json('{\"a\": null}')) AS d",
    "SELECT CAST(parse_json('{\"b\":1.50,\"a\":[true,null]}') AS STRING) AS s",
    # to_variant_object over structs, maps and arrays of every leaf type
    "SELECT to_json(to_variant_object(named_struct('a', 1, 'b', array(1.5, 2.0), 'c', DATE'2024-01-02',"
    " 'd', TIMESTAMP'2024-01-02 03:04:05.5', 'e', X'0102', 'f', CAST(1.5 AS FLOAT), 'g', map('k', 1),"
    " 'h', TIMESTAMP_NTZ'2024-01-01 00:00:00', 'i', 1.50, 'j', CAST(NULL AS INT)))) AS j",
    "SELECT schema_of_variant(to_variant_object(named_struct('a', CAST(1 AS TINYINT), 'b', 1.50,"
    " 'c', TIMESTAMP_NTZ'2024-01-01 00:00:00', 'd', CAST(1.5 AS FLOAT)))) AS s",
    "SELECT to_json(to_variant_object(array(1, 2))) AS a",
    "SELECT schema_of_variant(parse_json('1.50')) AS a, schema_of_variant(parse_json('100.0')) AS b,"
    " schema_of_variant(to_variant_object(array(100.0BD, 1.50BD, 0.0BD))) AS c, to_json(to_variant_object(array(100.0BD))) AS d",
    "SELECT to_variant_object(1)",
    "SELECT schema_of_variant_agg(v) AS s FROM (SELECT parse_json(j) AS v FROM VALUES ('{\"a\":1}'), ('{\"a\":\"x\",\"b\":2.5}'),"
    " ('{\"c\":[1]}'), (NULL) AS t(j))",
    "SELECT k, schema_of_variant_agg(parse_json(j)) AS s FROM VALUES (1, '1'), (1, '2.5'), (2, '\"x\"'), (2, 'null') AS t(k, j)"
    " GROUP BY k ORDER BY k",
]


# reflect / java_method / try_reflect: the JDK methods Spate knows, and the errors
REFLECT = [
    "SELECT reflect('java.util.UUID', 'fromString', 'a5cf6c42-0c85-418F-af6c-3e4e5b1328f2'),"
    " reflect('java.util.UUID', 'fromString', '1-2-3-4-5')",
    "SELECT reflect('java.util.UUID', 'fromString', 'x')",
    "SELECT try_reflect('java.util.UUID', 'fromString', 'x') AS a, try_reflect('scala.Predef', 'require', false) AS b,"
    " reflect('scala.Predef', 'require', true) AS c, try_reflect('java.lang.Math', 'abs', CAST(NULL AS INT)) AS d",
    "SELECT reflect('java.util.Nope', 'fromString', 'x')",
    "SELECT reflect('java.util.UUID', 'nope', 'x')",
    "SELECT reflect('java.lang.Math', 'sqrt', 2)",
    "SELECT reflect('java.lang.Math', 'abs', -2) AS a, reflect('java.lang.Math', 'abs', -2.5D) AS b,"
    " reflect('java.lang.Math', 'max', 2, 3) AS c, reflect('java.lang.Math', 'sqrt', 2D) AS d,"
    " reflect('java.lang.Math', 'pow', 2D, 0.5D) AS e, reflect('java.lang.String', 'valueOf', 1.0D) AS f,"
    " reflect('java.lang.Math', 'max', 1L, 2L) AS g, reflect('java.lang.Math', 'floor', 2.5D) AS h,"
    " reflect('java.lang.Math', 'round', -2.5D) AS i, reflect('java.lang.Math', 'signum', -3.0D) AS j,"
    " reflect('java.lang.Math', 'exp', 1D) AS k, reflect('java.lang.Math', 'toDegrees', 1D) AS l",
    "SELECT reflect('java.lang.Integer', 'parseInt', '42') AS a, reflect('java.lang.Integer', 'toHexString', -1) AS b,"
    " reflect('java.lang.Long', 'parseLong', '-7') AS c, reflect('java.lang.Integer', 'parseInt', 'ff', 16) AS d,"
    " reflect('java.lang.Boolean', 'parseBoolean', 'TRUE') AS e, java_method('java.lang.String', 'valueOf', true) AS f,"
    " reflect('java.lang.String', 'valueOf', 1.5F) AS g, reflect('java.lang.Integer', 'toBinaryString', 10) AS h",
    "SELECT reflect('java.lang.Integer', 'parseInt', 'x')",
    "SELECT reflect('java.lang.Integer', 'parseInt', '99999999999')",
]

# time_bucket: wall-clock buckets in the session zone for TIMESTAMP, plain ones for
# TIMESTAMP_NTZ, month buckets, origins, and the errors; run in three zones
TIME_BUCKET = [
    "SELECT time_bucket(INTERVAL '15' MINUTE, TIMESTAMP'2024-01-01 11:27:00') AS a,"
    " time_bucket(INTERVAL '1' HOUR, TIMESTAMP'2024-01-01 11:27:00') AS b,"
    " time_bucket(INTERVAL '1' DAY, TIMESTAMP'2024-01-01 11:27:00') AS c,"
    " time_bucket(INTERVAL '2' DAY, TIMESTAMP'2024-01-01 11:27:00') AS d,"
    " time_bucket(INTERVAL '1 12' DAY TO HOUR, TIMESTAMP'2024-01-01 11:27:00') AS e,"
    " time_bucket(INTERVAL '1' HOUR, TIMESTAMP'1969-12-31 23:27:00') AS f",
    "SELECT time_bucket(INTERVAL '1' MONTH, TIMESTAMP'2024-03-15 11:27:00') AS a,"
    " time_bucket(INTERVAL '5' MONTH, TIMESTAMP'2024-03-15 11:27:00') AS b,"
    " time_bucket(INTERVAL '1' YEAR, TIMESTAMP'2024-03-15 11:27:00') AS c,"
    " time_bucket(INTERVAL '1' DAY, TIMESTAMP_NTZ'2024-01-01 11:27:00') AS d,"
    " time_bucket(INTERVAL '1' MONTH, TIMESTAMP_NTZ'2024-03-15 11:27:00') AS e,"
    " time_bucket(INTERVAL '1' MONTH, TIMESTAMP_NTZ'2024-03-15 11:27:00', TIMESTAMP_NTZ'2024-01-31 00:00:00') AS f",
    "SELECT time_bucket(INTERVAL '15' MINUTE, TIMESTAMP'2024-01-01 11:27:00', TIMESTAMP'1970-01-01 00:05:00') AS a,"
    " time_bucket(INTERVAL '1' DAY, TIMESTAMP'2024-03-10 11:27:00', TIMESTAMP'2024-03-09 06:00:00') AS b,"
    " time_bucket(INTERVAL '1' MINUTE, CAST(NULL AS TIMESTAMP)) AS c",
    "SELECT time_bucket(INTERVAL '0' MINUTE, TIMESTAMP'2024-01-01 11:27:00')",
    "SELECT time_bucket(INTERVAL '1' MINUTE, TIMESTAMP_NTZ'2024-01-01 11:27:00', TIMESTAMP'1970-01-01 00:00:00')",
    "SELECT time_bucket(INTERVAL '1' MINUTE, DATE'2024-01-01')",
    "SELECT time_bucket(x, TIMESTAMP'2024-01-01 11:27:00') FROM VALUES (INTERVAL '1' MINUTE) t(x)",
]

# spatial: WKB in and out in both byte orders, SRIDs, and the errors
POINT = "X'0101000000000000000000F03F0000000000000040'"
ZERO = "0" * 16
LINE = f"X'010200000002000000{ZERO}{ZERO}{ZERO}000000000000F03F'"
XDR_MULTI = "X'000000000400000002" + "00000000013FF00000000000004000000000000000" * 2 + "'"
SPATIAL = [
    f"SELECT hex(st_asbinary(st_geogfromwkb({POINT}))) AS a, hex(st_asbinary(st_geomfromwkb({POINT}), 'XDR')) AS b,"
    f" st_srid(st_geogfromwkb({POINT})) AS c, st_srid(st_geomfromwkb({POINT})) AS d,"
    f" st_srid(st_geomfromwkb({POINT}, 3857)) AS e, hex(st_asbinary(st_geomfromwkb({LINE}), 'XDR')) AS f,"
    f" hex(st_asbinary(st_geomfromwkb({XDR_MULTI}))) AS g",
    f"SELECT st_geogfromwkb({POINT}), st_geomfromwkb({POINT}), st_geomfromwkb({POINT}, 3857)",
    f"SELECT st_srid(st_setsrid(st_geomfromwkb({POINT}), 4326)) AS a, typeof(st_geogfromwkb({POINT})) AS b,"
    f" typeof(st_setsrid(st_geomfromwkb({POINT}), 3857)) AS c, st_srid(NULL) AS d, st_geomfromwkb(NULL) AS e",
    "SELECT st_geomfromwkb(X'0102')",
    f"SELECT st_asbinary(st_geomfromwkb({POINT}), 'ABC')",
    f"SELECT st_geomfromwkb({POINT}, 12345)",
    f"SELECT st_setsrid(st_geogfromwkb({POINT}), 3857)",
    "SELECT st_geogfromwkb(X'010100000000000000000069400000000000000040')",
]

# XML functions: inference, parsing by schema (PERMISSIVE), writing
XML = [
    "SELECT schema_of_xml('<p><a>1</a><b>1.5</b><c>true</c><d>x</d><e>2024-01-01</e><f>2024-01-01T10:00:00</f><g></g>"
    "<h attr=\"1\">t</h><i><j>1</j><j>2.5</j></i><k>12345678901234</k></p>') AS s",
    "SELECT schema_of_xml('<p><a>1</a><a>x</a><b><c>1</c></b><b><d>2</d></b></p>') AS a, schema_of_xml('<p a=\"1\"/>') AS b,"
    " schema_of_xml('<p>5</p>') AS c, schema_of_xml('<p><a x=\"2\">1</a></p>', map('excludeAttribute', 'true')) AS d",
    "SELECT to_xml(named_struct('a', 1, 'b', 'x', 'c', array(1,2), 'd', named_struct('e', 1.5D, 'f', CAST(NULL AS INT)),"
    " '_attr', 'v')) AS x, to_xml(named_struct('a', 1), map('rowTag', 'person')) AS y,"
    " to_xml(named_struct('a', DATE'2024-01-02', 'b', TIMESTAMP'2024-01-02 03:04:05', 'c', true, 'd', '<&>')) AS z",
    "SELECT from_xml('<p><a>1</a><b>x</b></p>', 'a INT, b STRING') AS x, from_xml('<p><a>1</a><a>2</a></p>', 'a ARRAY<BIGINT>') AS y,"
    " from_xml('<p><a>x</a></p>', 'a INT') AS z, from_xml('<p a=\"3\"><b>1</b></p>', '_a INT, b INT') AS w,"
    " from_xml('<p><a>1</a>', 'a INT') AS broken, from_xml('<p><a attr=\"1\">5</a></p>', 'a STRUCT<_VALUE: INT, _attr: INT>') AS v",
]

# from_json into maps and arrays, and unquoted field names
JSON = [
    "SELECT from_json('{\"a\": 1, \"b\": 2}', 'MAP<STRING,INT>') AS m, from_json('[{\"a\": 1}, {\"a\": 2}]', 'ARRAY<STRUCT<a: INT>>') AS s,"
    " from_json('[1, 2, 3]', 'ARRAY<INT>') AS a, from_json('{\"a\": 1}', 'ARRAY<INT>') AS wrong, from_json('[1]', 'MAP<STRING,INT>') AS wrong2",
    "SELECT from_json('{a:123, b: \"x, c: 1\"}', 'a INT, b STRING') AS plain,"
    " from_json('{a:123, b: \"x, c: 1\"}', 'a INT, b STRING', map('allowUnquotedFieldNames', 'true')) AS unquoted,"
    " schema_of_json('{a: 1, b: [{c: 1.5}]}', map('allowUnquotedFieldNames', 'true')) AS schema",
    # options of functions in SQL text (a map call there)
    "SELECT to_json(named_struct('a', DATE'2022-02-22'), map('dateFormat', 'yyyy/MM/dd')) AS j,"
    " from_csv('1;x', 'a INT, b STRING', map('sep', ';')) AS c",
]

# count_min_sketch: Spark's serialized sketch of integral values, nulls skipped
COUNT_MIN_SKETCH = [
    "SELECT hex(count_min_sketch(id, 0.5D, 0.9D, 7)) AS a FROM range(100)",
    "SELECT hex(count_min_sketch(IF(id % 3 = 0, NULL, CAST(id AS INT)), 0.3D, 0.95D, 11)) AS a FROM range(40)",
    "SELECT id % 2 AS k, hex(count_min_sketch(id, 1.0D, 0.5D, 3)) AS a FROM range(20) GROUP BY id % 2 ORDER BY k",
    "SELECT hex(count_min_sketch(id, 0.2D, 0.7D, 1111111111111111111)) AS a FROM range(50)",
    "SELECT count_min_sketch(id, 0.0D, 0.5D, 1) FROM range(2)",
]

TOPICS = {
    "count_min_sketch": COUNT_MIN_SKETCH,
    "json": JSON,
    "xml": XML,
    "spatial": SPATIAL,
    "variant": VARIANT,
    "reflect": REFLECT,
    "time_bucket": TIME_BUCKET,
    "time_bucket@UTC": TIME_BUCKET[:3],
    "time_bucket@Asia/Kolkata": TIME_BUCKET[:3],
}


def plain(v):
    if isinstance(v, VariantVal):
        return {"variant": v.toJson()}
    if type(v).__name__ in ("Geometry", "Geography"):
        return {type(v).__name__.lower(): bytes(v.getBytes()).hex(), "srid": v.getSrid()}
    if isinstance(v, Row):
        return {k: plain(x) for k, x in v.asDict().items()}
    if isinstance(v, (bytes, bytearray)):
        return {"hex": bytes(v).hex()}
    if isinstance(v, (datetime.date, datetime.datetime)):
        return str(v)
    if isinstance(v, decimal.Decimal):
        return str(v)
    if isinstance(v, list):
        return [plain(x) for x in v]
    return v


def condition(e):
    """The error condition of a Python-side or JVM-side (Py4JJavaError) Spark exception."""
    if hasattr(e, "getCondition"):
        return e.getCondition()
    j = getattr(e, "java_exception", None)
    while j is not None:
        try:
            if j.getCondition():
                return j.getCondition()
        except Exception:
            pass
        j = j.getCause()
    return None  # an error without a condition (a JVM exception Spark does not classify)


for topic, queries in TOPICS.items():
    # a topic `name@zone` runs in that session time zone
    tz = topic.split("@")[1] if "@" in topic else "America/Los_Angeles"
    spark.conf.set("spark.sql.session.timeZone", tz)
    for q in queries:
        try:
            df = spark.sql(q)
            rows = [[plain(x) for x in r] for r in df.collect()]
            print(json.dumps({"topic": topic, "tz": tz, "sql": q, "columns": df.columns, "rows": rows}))
        except Exception as e:  # the condition Spark raises
            print(json.dumps({"topic": topic, "tz": tz, "sql": q, "error": condition(e)}))
