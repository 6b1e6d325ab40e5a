"""Higher-order functions with lambdas (transform, filter, exists, forall, aggregate, zip_with),
through the DataFrame API and SQL text. Expected values are computed in Python over the same
arrays, following Spark's documented null semantics (exists/forall are three-valued; aggregate
over an array holding a null propagates it; zip_with pads the shorter array with nulls). The
column names were checked against Apache Spark 4.0.1."""

import pytest
from pyspark.errors import AnalysisException
from pyspark.sql import functions as F

ROWS = [(1, [1, 2, 3], [10, 20]), (2, [], [1]), (3, None, None), (4, [4, None], [1, 2, 3])]


@pytest.fixture
def arrays(spark):
    return spark.createDataFrame(ROWS, "id int, a array<int>, b array<int>")


def by_id(df, column):
    return {r["id"]: r[column] for r in df.collect()}


def test_transform_with_captured_column_and_index(arrays):
    out = arrays.select(
        "id",
        F.transform("a", lambda x: x + F.col("id")).alias("plus_id"),
        F.transform("a", lambda x, i: x * i).alias("times_index"),
    )
    for i, a, _ in ROWS:
        expect = None if a is None else [None if x is None else x + i for x in a]
        assert by_id(out, "plus_id")[i] == expect
        expect = None if a is None else [None if x is None else x * k for k, x in enumerate(a)]
        assert by_id(out, "times_index")[i] == expect
    assert out.schema["plus_id"].dataType.simpleString() == "array<int>"


def test_filter_exists_forall_three_valued(arrays):
    out = arrays.select(
        "id",
        F.filter("a", lambda x: x > 1).alias("f"),
        F.filter("a", lambda x, i: i > 0).alias("fi"),
        F.exists("a", lambda x: x > 2).alias("e"),
        F.forall("a", lambda x: x > 0).alias("fa"),
    )
    assert by_id(out, "f") == {1: [2, 3], 2: [], 3: None, 4: [4]}
    assert by_id(out, "fi") == {1: [2, 3], 2: [], 3: None, 4: [None]}
    # exists: true if any is true, else null if any is null; forall: false if any is false,
    # else null if any is null
    assert by_id(out, "e") == {1: True, 2: False, 3: None, 4: True}
    assert by_id(out, "fa") == {1: True, 2: True, 3: None, 4: None}


def test_aggregate_with_and_without_finish(arrays):
    out = arrays.select(
        "id",
        F.aggregate("a", F.lit(0), lambda acc, x: acc + x).alias("s"),
        F.aggregate("a", F.lit(0.0), lambda acc, x: acc + x, lambda acc: acc * 10).alias("s10"),
        F.reduce("a", F.lit(1), lambda acc, x: acc * x).alias("p"),
    )
    assert by_id(out, "s") == {1: 6, 2: 0, 3: None, 4: None}
    assert by_id(out, "s10") == {1: 60.0, 2: 0.0, 3: None, 4: None}
    assert by_id(out, "p") == {1: 6, 2: 1, 3: None, 4: None}
    assert dict(out.dtypes)["s10"] == "double"


def test_zip_with_pads_the_shorter_array(arrays):
    out = arrays.select(
        "id",
        F.zip_with("a", "b", lambda x, y: F.coalesce(x, F.lit(0)) + F.coalesce(y, F.lit(0))).alias("z"),
    )
    assert by_id(out, "z") == {1: [11, 22, 3], 2: [1], 3: None, 4: [5, 2, 3]}


def test_nested_lambdas_see_outer_variables(arrays):
    out = arrays.where("id = 1").select(
        F.transform("a", lambda x: F.transform("b", lambda y: x * y)).alias("outer")
    )
    assert out.first()["outer"] == [[x * y for y in [10, 20]] for x in [1, 2, 3]]


def test_lambda_column_names_follow_spark(arrays):
    df = arrays.select(
        F.transform("a", lambda x: x + 1),
        F.filter("a", lambda x, i: i > 0),
        F.exists("a", lambda x: x > 1),
    )
    assert df.columns == [
        "transform(a, lambdafunction((namedlambdavariable() + 1), namedlambdavariable()))",
        "filter(a, lambdafunction((namedlambdavariable() > 0), namedlambdavariable(), namedlambdavariable()))",
        "exists(a, lambdafunction((namedlambdavariable() > 1), namedlambdavariable()))",
    ]


def test_lambdas_in_sql_text(spark, arrays):
    arrays.createOrReplaceTempView("lambda_arrays")
    rows = spark.sql(
        "SELECT id, transform(a, x -> x * 2) AS t, aggregate(a, 0, (acc, x) -> acc + x) AS s, "
        "filter(a, x -> x % 2 = 1) AS odd FROM lambda_arrays WHERE id = 1"
    ).collect()
    assert (rows[0]["t"], rows[0]["s"], rows[0]["odd"]) == ([2, 4, 6], 6, [1, 3])
    expr = arrays.where("id = 1").selectExpr("transform(a, x -> x + id) AS t").first()["t"]
    assert expr == [2, 3, 4]


def test_lambda_on_a_non_array_is_an_analysis_error(spark):
    df = spark.createDataFrame([(1,)], "x int")
    with pytest.raises(AnalysisException) as e:
        df.select(F.transform("x", lambda v: v + 1)).collect()
    assert "DATATYPE_MISMATCH" in str(e.value)
