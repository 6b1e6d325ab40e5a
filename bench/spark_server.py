"""Apache Spark 4 as a Spark Connect server for the benchmark: a classic PySpark session in
local mode (all cores) with Spark's Spark Connect plugin listening on the given port. Run it
with a Python that has the full `pyspark` package (and Java 17)."""

import sys
import time

from pyspark.sql import SparkSession

port = sys.argv[1]
# the driver heap: in local mode every task runs in the driver, so this bounds the engine
driver_memory = sys.argv[2] if len(sys.argv) > 2 else "8g"
spark = (
    SparkSession.builder.master("local[*]")
    .config("spark.ui.enabled", "false")
    .config("spark.driver.memory", driver_memory)
    .config("spark.sql.shuffle.partitions", "8")
    .config("spark.plugins", "org.apache.spark.sql.connect.SparkConnectPlugin")
    .config("spark.connect.grpc.binding.port", port)
    .getOrCreate()
)
print(f"Spark {spark.version} serving Spark Connect on port {port}", flush=True)
while True:
    time.sleep(3600)
