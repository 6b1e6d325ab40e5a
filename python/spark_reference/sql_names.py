"""Spark's output column names, types and values for SQL text without aliases, on the view `t`
that python/tests/test_sql_names.py creates the same way. One JSON object per query."""

import json

from pyspark.sql import SparkSession

QUERIES = [
    "select 1",
    "select 'a'",
    "select 1.5",
    "select 2 + 3",
    "select 10000000000",
    "select true, null",
    "select -1",
    "select 2.5e0",
    "select id + 1 from t",
    "select t.id, upper(t.n) from t",
    "select count(*) from t",
    "select count(distinct n) from t",
    "select sum(id), avg(score), max(n) from t",
    "select id, count(*) from t group by id",
    "select cast(id as string) from t",
    "select cast('2024-01-01' as date)",
    "select id * 2 as doubled from t",
    "select id = 1, id <> 1, id > 1 and id < 3, not (id = 1) from t",
    "select id is null, n is not null from t",
    "select case when id > 1 then 'big' else 'small' end from t",
    "select coalesce(n, 'z') from t",
    "select * from range(3)",
    "select a.id, b.id from t a join t b on a.id = b.id",
    "select 1 / 2, 5 % 3",
    "select concat(n, '!'), length(n), substring(n, 1, 1) from t",
    "select x from (select id + 1 as x from t) s",
    "select * from (select id * 10, n from t) s",
    "select id in (1, 2), id between 1 and 2 from t",
    "select date '2024-01-01'",
    "select array(1, 2), named_struct('x', 1)",
    "select n like 'x%' from t",
    "select abs(-2), round(2.567, 2)",
    "select sqrt(id), ceil(score), log10(id), spark_partition_id() from t",
    "select power(id, 2) from t",
    "select 1 union all select 2",
    "select max(id) - min(id) from t",
    "select id, n from t order by id desc limit 1",
    "select upper(n), count(*) from t group by upper(n) order by 1",
    "select struct(id, n) from t",
    "select -id, id % 2 from t",
    "select sum(id) over (partition by n) from t order by 1",
]


def main():
    spark = (
        SparkSession.builder.master("local[1]")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    spark.createDataFrame(
        [(1, "x", 2.5), (2, "y", 3.5)], "id int, n string, score double"
    ).createOrReplaceTempView("t")
    for q in QUERIES:
        df = spark.sql(q)
        rows = [[repr(v) for v in r] for r in df.collect()]
        print(json.dumps({"sql": q, "columns": df.columns, "types": [t for _, t in df.dtypes], "rows": rows}))


if __name__ == "__main__":
    main()
