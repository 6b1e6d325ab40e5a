"""Apache Spark's built-in functions with the group Spark's documentation files each under
(agg_funcs, math_funcs, string_funcs, ...), one JSON object per line: the list that
python/tests/test_function_coverage.py counts Spate's functions against.
Run: python function_list.py > function_list.out"""

import json

from pyspark.sql import SparkSession

spark = SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false").getOrCreate()
jvm = spark._jvm
registry = jvm.org.apache.spark.sql.catalyst.analysis.FunctionRegistry.builtin()
for name in sorted(r.function for r in spark.sql("SHOW SYSTEM FUNCTIONS").collect()):
    info = registry.lookupFunction(jvm.org.apache.spark.sql.catalyst.FunctionIdentifier(name))
    group = info.get().getGroup() if info.isDefined() else ""
    print(json.dumps({"name": name, "group": group or "other"}))
