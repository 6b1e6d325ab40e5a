"""Spate's function library counted against Apache Spark 4.0.1's built-in functions
(python/spark_reference/function_list.py and .out: 485 names in the groups of Spark's function
documentation). A name counts when `spark.catalog.functionExists` finds it in Spate's registry;
whether it then gives Spark's answers is what test_functions.py checks, family by family.

Run as a script against a server to print the table per group:
    python python/tests/test_function_coverage.py sc://localhost:15002"""

import collections
import json
import re
import sys
from pathlib import Path

REFERENCE = Path(__file__).resolve().parents[1] / "spark_reference" / "function_list.out"
SPARK_FUNCTIONS = [json.loads(line) for line in REFERENCE.read_text().splitlines()]

# The functions issue 3 names, by family.
ISSUE_FUNCTIONS = """
count approx_count_distinct sum avg mean min max first last collect_list collect_set stddev stddev_samp
stddev_pop variance var_samp var_pop percentile_approx percentile median corr covar_samp covar_pop count_if
any_value max_by min_by bool_and bool_or
regexp_extract regexp_replace like rlike split concat_ws format_string lpad rpad substring_index translate initcap
coalesce nullif nvl nvl2 greatest least ifnull
md5 sha1 sha2 crc32 hash xxhash64 monotonically_increasing_id spark_partition_id rand randn input_file_name
to_date to_timestamp from_unixtime unix_timestamp date_trunc trunc date_format hour minute second year month
dayofweek dayofmonth dayofyear weekofyear date_add date_sub datediff add_months months_between last_day next_day
current_date current_timestamp from_utc_timestamp to_utc_timestamp make_date make_timestamp window session_window
array map struct size array_contains element_at explode posexplode explode_outer posexplode_outer flatten
sort_array array_distinct from_json to_json schema_of_json get_json_object json_tuple
row_number rank dense_rank percent_rank ntile cume_dist lag lead nth_value
""".split()


def coverage(spark):
    found = collections.Counter()
    total = collections.Counter()
    for f in SPARK_FUNCTIONS:
        total[f["group"]] += 1
        if spark.catalog.functionExists(f["name"]):
            found[f["group"]] += 1
    return found, total


def test_the_issues_functions_resolve(spark):
    missing = {n for n in ISSUE_FUNCTIONS if not spark.catalog.functionExists(n)}
    assert missing == set()


def test_unknown_names_do_not_exist(spark):
    assert not spark.catalog.functionExists("no_such_function")
    assert spark.catalog.functionExists("YEAR") and spark.catalog.functionExists("first")


def test_functions_that_give_sparks_answers_exist(spark):
    """functionExists agrees with evaluation: every function called by a SQL case of
    test_functions.py that gives Spark's answer (not an expected error, not a listed gap) is
    one of Spark's built-ins and exists in Spate."""
    from test_functions import SQL_GAPS, SQL_SPARK

    builtins = {f["name"] for f in SPARK_FUNCTIONS}
    called = set()
    for (family, item), expected in SQL_SPARK.items():
        if "error" not in expected and (family, item) not in SQL_GAPS:
            called |= {n.lower() for n in re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\(", item)}
    assert called and called <= builtins, called - builtins
    assert sorted(n for n in called if not spark.catalog.functionExists(n)) == []


if __name__ == "__main__":
    from pyspark.sql import SparkSession

    found, total = coverage(SparkSession.builder.remote(sys.argv[1]).getOrCreate())
    print("| Spark group | Spark | Spate | |\n|---|---|---|---|")
    for group, n in total.most_common():
        print(f"| {group} | {n} | {found[group]} | {found[group] / n:.0%} |")
    print(f"| all | {sum(total.values())} | {sum(found.values())} | {sum(found.values()) / sum(total.values()):.0%} |")
