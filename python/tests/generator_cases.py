"""The generator cases (explode, posexplode, inline, stack, their _outer forms, json_tuple) shared by
python/tests/test_generators.py and python/spark_reference/generators.py, which prints Spark's
answer for each: the output columns (name and type) and the rows, or the error class.

A case is a DataFrame expression over `df` (as users write it, evaluated with `F` in scope) or
a SQL query over the view `g`. Rows are compared as sorted lists: a generator keeps its input
row's order, but the order of input rows across partitions is not part of the contract."""

import datetime
import decimal

SCHEMA = "id int, arr array<int>, m map<string,int>, s array<struct<a:int,b:string>>, csv string"

ROWS = [
    (1, [1, 2, 3], {"x": 1, "y": 2}, [(1, "p"), (2, "q")], "a,b"),
    (2, [], {}, [], ""),
    (3, None, None, None, None),
    (4, [None, 5], {"z": None}, [None, (3, None)], "c"),
]

CASES = [
    'df.select("id", F.explode("arr"))',
    'df.select("id", F.explode_outer("arr"))',
    'df.select("id", F.posexplode("arr"))',
    'df.select("id", F.posexplode_outer("arr"))',
    'df.select("id", F.explode("m"))',
    'df.select("id", F.explode_outer("m"))',
    'df.select("id", F.posexplode("m"))',
    'df.select("id", F.explode("arr").alias("v"))',
    'df.select("id", F.posexplode("arr").alias("p", "v"))',
    'df.select("id", F.explode("m").alias("k", "v"))',
    'df.withColumn("v", F.explode("arr")).select("id", "v")',
    'df.select(F.inline("s"))',
    'df.select("id", F.inline_outer("s"))',
    'df.select("id", F.explode(F.split("csv", ",")).alias("part"))',
    'df.select("id", F.explode(F.sequence(F.lit(1), F.col("id"))).alias("n"))',
    'df.select("id", F.explode(F.array(F.lit(0), F.lit(1), F.lit(2))).alias("salt"))',
    'df.select(F.explode("arr").alias("v")).groupBy("v").count()',
    'df.select("id", (F.col("id") * 10).alias("x"), F.explode("arr")).where(F.col("col") > 1)',
    'df.select("id", F.stack(F.lit(2), F.col("id"), F.lit("a"), F.col("id") * 10, F.lit("b")))',
    'df.select(F.explode("arr") + 1)',
    'df.select(F.explode("arr"), F.explode("arr"))',
    'df.select(F.explode("id"))',
    'df.select(F.explode("m").alias("k"))',
    'df.select("id", F.json_tuple(F.to_json(F.struct("id", "csv", "arr")), "id", "csv", "arr", "nope"))',
    'df.select("id", F.json_tuple(F.to_json(F.struct("csv", "m")), "m", "csv").alias("mm", "c"))',
    'df.select("id", F.json_tuple("csv", "a"))',
    'df.select(F.json_tuple(F.to_json(F.struct("id")), "id").alias("a", "b"))',
]

SQL_CASES = [
    "SELECT id, explode(arr) FROM g",
    "SELECT id, explode(arr) AS v FROM g",
    "SELECT id, explode_outer(arr) FROM g",
    "SELECT id, posexplode(arr) FROM g",
    "SELECT explode(m) FROM g",
    "SELECT inline(s) FROM g",
    "SELECT id, stack(2, id, 'a', id * 10, 'b') FROM g",
    "SELECT v, count(*) AS n FROM (SELECT explode(arr) AS v FROM g) GROUP BY v",
    "SELECT id, explode(arr) + 1 FROM g",
    "SELECT id, json_tuple(to_json(named_struct('n', id, 's', s)), 'n', 's', 'x') FROM g",
    """SELECT json_tuple('{"a": {"z": 1}, "b": [1, 2], "d": null, "e": 1.50, "f": true}', 'a', 'b', 'c', 'd', 'e', 'f')""",
]


def plain(v):
    """A value as JSON can carry it (the reference's format)."""
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    if isinstance(v, dict):
        return {str(k): plain(x) for k, x in v.items()}
    if hasattr(v, "asDict"):
        return {k: plain(x) for k, x in v.asDict().items()}
    if isinstance(v, (datetime.date, datetime.datetime, decimal.Decimal)):
        return str(v)
    return v


def answer(out):
    """The columns and the sorted rows of a DataFrame, as the reference prints them."""
    rows = [plain(list(r)) for r in out.collect()]
    columns = [[f.name, f.dataType.simpleString()] for f in out.schema.fields]
    return {"columns": columns, "rows": sorted(rows, key=repr)}
