"""DataFrame subqueries (WithRelations): df.scalar(), df.exists() and col.isin(df), uncorrelated
and correlated through columns of the outer query (`.outer()`), in filters and projections.
Expected rows are computed here from the same Python data."""

from statistics import mean

import pytest
from pyspark.errors import PySparkException
from pyspark.sql import functions as F

EMPLOYEES = [
    (1, "Alice", 45000, 101),
    (2, "Bob", 54000, 101),
    (3, "Charlie", 29000, 102),
    (4, "David", 61000, 102),
    (5, "Eve", 48000, 101),
    (6, "Frank", 70000, 103),
]
COLUMNS = ["id", "name", "salary", "dept"]


@pytest.fixture
def employees(spark):
    return spark.createDataFrame(EMPLOYEES, COLUMNS)


def by_dept(dept):
    return [e for e in EMPLOYEES if e[3] == dept]


def test_uncorrelated_scalar_in_a_filter(employees):
    average = mean(e[2] for e in EMPLOYEES)
    got = employees.where(F.col("salary") > employees.select(F.avg("salary")).scalar())
    assert sorted(r.name for r in got.collect()) == sorted(e[1] for e in EMPLOYEES if e[2] > average)


def test_a_scalar_of_a_column_the_outer_query_also_has(spark):
    df = spark.range(5)
    got = df.where(F.col("id") == spark.range(3, 4).select("id").scalar())
    assert [r.id for r in got.collect()] == [3]


def test_a_scalar_subquery_of_two_columns_is_an_error(employees):
    with pytest.raises(PySparkException) as e:
        employees.select(employees.select("id", "name").limit(1).scalar()).collect()
    assert e.value.getCondition() == (
        "INVALID_SUBQUERY_EXPRESSION.SCALAR_SUBQUERY_RETURN_MORE_THAN_ONE_OUTPUT_COLUMN"
    )


def test_correlated_scalar_in_a_filter(employees):
    got = employees.alias("e1").where(
        F.col("salary")
        > employees.alias("e2")
        .where(F.col("e2.dept") == F.col("e1.dept").outer())
        .select(F.avg("salary"))
        .scalar()
    )
    want = [e[1] for e in EMPLOYEES if e[2] > mean(x[2] for x in by_dept(e[3]))]
    assert sorted(r.name for r in got.collect()) == sorted(want)


def test_correlated_scalar_in_a_projection(employees):
    total = (
        employees.alias("e2")
        .where(F.col("e2.dept") == F.col("e1.dept").outer())
        .select(F.sum("salary"))
        .scalar()
    )
    got = employees.alias("e1").select("name", (F.col("salary") / total).alias("share"))
    want = {e[1]: e[2] / sum(x[2] for x in by_dept(e[3])) for e in EMPLOYEES}
    assert {r.name: r.share for r in got.collect()} == pytest.approx(want)


def test_exists_and_not_exists(spark, employees):
    depts = spark.createDataFrame([(101, "Sales"), (102, "Ops"), (104, "Legal")], ["dept", "dname"])
    has_staff = depts.alias("d").where(
        employees.alias("e").where(F.col("e.dept") == F.col("d.dept").outer()).exists()
    )
    assert sorted(r.dname for r in has_staff.collect()) == ["Ops", "Sales"]
    empty = depts.alias("d").where(
        ~employees.alias("e").where(F.col("e.dept") == F.col("d.dept").outer()).exists()
    )
    assert [r.dname for r in empty.collect()] == ["Legal"]


def test_isin_a_dataframe_of_one_and_of_several_columns(spark, employees):
    got = employees.where(F.col("id").isin(spark.range(3))).orderBy("id")
    assert [r.id for r in got.collect()] == [1, 2]
    pairs = spark.createDataFrame([(101, "Eve"), (102, "Bob"), (103, "Frank")], ["d", "n"])
    got = employees.where(F.struct("dept", "name").isin(pairs)).orderBy("id")
    assert [r.name for r in got.collect()] == ["Eve", "Frank"]


def test_an_unknown_column_is_still_unresolved(employees):
    with pytest.raises(PySparkException) as e:
        employees.where(
            F.col("salary") > employees.where(F.col("nope") == 1).select(F.max("salary")).scalar()
        ).collect()
    assert e.value.getCondition().startswith("UNRESOLVED_COLUMN")
