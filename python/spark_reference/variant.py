"""Spark's VARIANT functions, for python/tests/test_variant.py: each SQL query's column names
and rows (variants as their JSON text, structs as dicts, bytes as hex), or the error condition
it raises. One JSON object per line."""

import json
import datetime
import decimal

from pyspark.sql import Row, SparkSession
from pyspark.sql.types import VariantVal

spark = SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false").getOrCreate()
spark.conf.set("spark.sql.session.timeZone", "America/Los_Angeles")

QUERIES = [
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


def plain(v):
    if isinstance(v, VariantVal):
        return {"variant": v.toJson()}
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
    return type(e).__name__


for q in QUERIES:
    try:
        df = spark.sql(q)
        rows = [[plain(x) for x in r] for r in df.collect()]
        print(json.dumps({"sql": q, "columns": df.columns, "rows": rows}))
    except Exception as e:  # the condition Spark raises
        print(json.dumps({"sql": q, "error": condition(e)}))
