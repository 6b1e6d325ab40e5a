"""AnalyzePlan (explain, schema, semantics, input files) and the execution RPCs around it
(interrupt, tags)."""

import threading
import time

from pyspark.sql import functions as F


def test_explain_modes(spark, capsys):
    df = spark.range(10).filter(F.col("id") > 3)
    df.explain()
    simple = capsys.readouterr().out
    assert simple.startswith("== Physical Plan ==")
    df.explain(mode="extended")
    extended = capsys.readouterr().out
    for section in ("== Parsed Logical Plan ==", "== Optimized Logical Plan ==", "== Physical Plan =="):
        assert section in extended
    df.explain(mode="formatted")
    assert "== Physical Plan ==" in capsys.readouterr().out


def test_is_local_streaming_and_input_files(spark, tmp_dir):
    local = spark.createDataFrame([(1,)], ["a"])
    assert local.isLocal()
    assert not local.isStreaming
    spark.range(3).write.parquet(str(tmp_dir / "files"))
    files = spark.read.parquet(str(tmp_dir / "files")).inputFiles()
    on_disk = sorted(p.name for p in (tmp_dir / "files").iterdir() if p.suffix == ".parquet")
    assert sorted(f.rsplit("/", 1)[-1] for f in files) == on_disk
    assert not spark.read.parquet(str(tmp_dir / "files")).isLocal()
    assert not spark.range(3).isLocal()  # generated rows are not a local relation in Spark


def test_same_semantics_and_semantic_hash(spark):
    a = spark.range(10).filter(F.col("id") > 3)
    b = spark.range(10).filter(F.col("id") > 3)
    c = spark.range(10).filter(F.col("id") > 4)
    assert a.sameSemantics(b)
    assert not a.sameSemantics(c)
    assert a.semanticHash() == b.semanticHash()
    # Spark's canonical form erases the names of output columns, not what they compute
    d = spark.range(10)
    assert d.withColumn("x", d.id * 2).sameSemantics(d.withColumn("y", d.id * 2))
    assert not d.withColumn("x", d.id * 2).sameSemantics(d.withColumn("x", d.id + 2))
    # generated rows differ by their arguments
    assert not spark.range(10).sameSemantics(spark.range(20))
    assert spark.range(10).sameSemantics(spark.range(10))


def test_interrupt_all_stops_a_running_query(spark):
    errors = []

    def run():
        try:
            spark.range(0, 10**12).selectExpr("sum(id)").collect()
        except Exception as e:  # the interrupted query raises in its own thread
            errors.append(e)

    t = threading.Thread(target=run)
    t.start()
    time.sleep(2)
    interrupted = spark.interruptAll()
    t.join(timeout=60)
    assert not t.is_alive()
    assert interrupted
    assert errors
    # The server is still serving.
    assert spark.range(3).count() == 3


def test_interrupt_by_tag(spark):
    errors = []

    def run():
        try:
            spark.addTag("slow")
            spark.range(0, 10**12).selectExpr("max(id)").collect()
        except Exception as e:
            errors.append(e)
        finally:
            spark.removeTag("slow")

    t = threading.Thread(target=run)
    t.start()
    time.sleep(2)
    assert spark.interruptTag("slow")
    t.join(timeout=60)
    assert not t.is_alive() and errors


def test_explain_draws_the_plan_in_sparks_words(spark):
    people = spark.createDataFrame([(2, "Alice"), (5, "Bob")], ["age", "name"])
    heights = spark.createDataFrame([(80, "Tom"), (85, "Bob")], ["height", "name"])
    plan = people.join(F.broadcast(heights), "name")._explain_string(mode="simple").splitlines()
    assert plan[0] == "== Physical Plan =="
    assert plan[1] == "Project [name, age, height]"
    assert plan[2].startswith("+- BroadcastHashJoin [name], [name], Inner, ")
    assert sorted(line.strip(" :+-") for line in plan[3:5]) == ["LocalTableScan [age, name]", "LocalTableScan [height, name]"]
    agg = people.groupBy("name").agg(F.max("age"))._explain_string(mode="simple")
    assert "HashAggregate(keys=[name], functions=[max(age)])" in agg
    assert "HashAggregate(keys=[name], functions=[partial_max(age)])" in agg
    assert "Exchange hashpartitioning(name, " in agg
    # a cached DataFrame is read from memory, before and after its rows are computed
    cached = spark.range(3).cache()
    assert cached._explain_string(mode="simple").splitlines()[1] == "InMemoryTableScan [id]"
    cached.count()
    assert cached._explain_string(mode="simple").splitlines()[1] == "InMemoryTableScan [id]"
    cached.unpersist()
    # cost: the optimized logical plan with the estimated size of its result
    cost = people._explain_string(mode="cost")
    assert cost.startswith("== Optimized Logical Plan ==\n")
    assert "Statistics(sizeInBytes=" in cost and ", rowCount=2)" in cost
