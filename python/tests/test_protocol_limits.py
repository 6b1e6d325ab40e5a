"""Spark Connect's protocol limits, through the real pyspark-client: requests up to 128 MiB
(a `createDataFrame` of a pandas frame is inlined up to 64 MiB), larger local data uploaded as
artifacts (`cache/<sha256>` chunks that `ChunkedCachedLocalRelation` names), plans nested up to
1024 levels, and AddArtifacts / ArtifactStatus with their checksums. Expected values are
computed here from the data the test made."""

import uuid
import zlib

import grpc
import numpy as np
import pandas as pd
import pytest
from pyspark.errors import AnalysisException, PySparkException
from pyspark.sql import functions as F
from pyspark.sql.connect.proto import base_pb2, base_pb2_grpc


def test_a_20_mib_pandas_frame_is_sent_inline(spark):
    n = 500_000
    rng = np.random.default_rng(7)
    pdf = pd.DataFrame(
        {
            "id": np.arange(n, dtype=np.int64),
            "x": rng.random(n),
            "label": [f"row-{i:07d}" for i in range(n)],
        }
    )
    assert 4 * 2**20 < pdf.memory_usage(deep=True).sum() < 64 * 2**20
    df = spark.createDataFrame(pdf)
    got = df.agg(F.count("*"), F.sum("id"), F.sum("x"), F.max("label")).first()
    assert got[0] == n
    assert got[1] == n * (n - 1) // 2
    assert got[2] == pytest.approx(pdf["x"].sum())
    assert got[3] == f"row-{n - 1:07d}"
    assert df.where("id = 123456").first()["label"] == "row-0123456"


def test_a_200_mib_pandas_frame_is_uploaded_as_artifacts(spark):
    n = 8_000_000
    pdf = pd.DataFrame(
        {
            "a": np.arange(n, dtype=np.int64),
            "b": np.arange(n, dtype=np.int64) * 3,
            "c": np.arange(n, dtype=np.float64) / 2,
        }
    )
    assert pdf.memory_usage().sum() > 180 * 2**20
    df = spark.createDataFrame(pdf)
    # larger than spark.sql.session.localRelationCacheThreshold: the client uploaded it in chunks
    from pyspark.sql.connect.plan import ChunkedCachedLocalRelation

    plan = df._plan
    while not isinstance(plan, ChunkedCachedLocalRelation) and plan._child is not None:
        plan = plan._child  # pandas frames come with a toDF on top
    assert isinstance(plan, ChunkedCachedLocalRelation)
    assert len(plan._data_hashes) > 1
    got = df.agg(F.count("*"), F.sum("a"), F.sum("b"), F.max("c")).first()
    assert got[0] == n
    assert got[1] == n * (n - 1) // 2
    assert got[2] == 3 * n * (n - 1) // 2
    assert got[3] == (n - 1) / 2
    assert [tuple(r) for r in df.where("a IN (0, 4999999)").orderBy("a").collect()] == [
        (0, 0, 0.0),
        (4_999_999, 14_999_997, 2_499_999.5),
    ]


def test_a_plan_of_400_chained_withcolumn_calls_runs(spark):
    df = spark.range(5)
    for i in range(400):
        df = df.withColumn(f"c{i}", F.col("id") + i)
    rows = df.select("id", "c0", "c199", "c399").orderBy("id").collect()
    assert [tuple(r) for r in rows] == [(i, i, i + 199, i + 399) for i in range(5)]


def test_a_plan_deeper_than_sparks_limit_fails_naming_the_limit(spark):
    df = spark.range(3)
    for i in range(700):
        df = df.withColumn("c", F.col("id") + i)
    with pytest.raises(PySparkException) as e:
        df.collect()
    assert "1024" in str(e.value) and "marshallerRecursionLimit" in str(e.value)
    # and the server is still there
    assert spark.range(3).count() == 3


@pytest.fixture
def stub(server):
    channel = grpc.insecure_channel(f"127.0.0.1:{server['port']}")
    yield base_pb2_grpc.SparkConnectServiceStub(channel)
    channel.close()


def test_artifacts_are_kept_per_session_when_their_checksums_match(spark, stub, tmp_path):
    module = tmp_path / "helper_mod.py"
    module.write_text("def f(x):\n    return x + 1\n")
    spark.addArtifacts(str(module), pyfile=True)
    session = spark.session_id
    ctx = {"session_id": session, "user_context": base_pb2.UserContext(user_id="t")}
    names = ["pyfiles/helper_mod.py", "pyfiles/other.py"]
    statuses = stub.ArtifactStatus(base_pb2.ArtifactStatusesRequest(names=names, **ctx)).statuses
    assert statuses["pyfiles/helper_mod.py"].exists
    assert not statuses["pyfiles/other.py"].exists

    # another session does not see it
    other = {"session_id": str(uuid.uuid4()), "user_context": base_pb2.UserContext(user_id="t")}
    statuses = stub.ArtifactStatus(base_pb2.ArtifactStatusesRequest(names=names, **other)).statuses
    assert not statuses["pyfiles/helper_mod.py"].exists

    # a chunk whose CRC does not match is refused, and the artifact is not kept
    good, bad = b"x" * 1000, b"y" * 1000
    chunk = base_pb2.AddArtifactsRequest.ArtifactChunk
    single = base_pb2.AddArtifactsRequest.SingleChunkArtifact
    batch = base_pb2.AddArtifactsRequest.Batch(
        artifacts=[
            single(name="files/good.bin", data=chunk(data=good, crc=zlib.crc32(good))),
            single(name="files/bad.bin", data=chunk(data=bad, crc=zlib.crc32(bad) ^ 1)),
        ]
    )
    reply = stub.AddArtifacts(iter([base_pb2.AddArtifactsRequest(batch=batch, **ctx)]))
    assert {a.name: a.is_crc_successful for a in reply.artifacts} == {
        "files/good.bin": True,
        "files/bad.bin": False,
    }
    statuses = stub.ArtifactStatus(
        base_pb2.ArtifactStatusesRequest(names=["files/good.bin", "files/bad.bin"], **ctx)
    ).statuses
    assert statuses["files/good.bin"].exists and not statuses["files/bad.bin"].exists

    # a chunked artifact arrives whole
    parts = [bytes([i]) * 40_000 for i in range(5)]
    begin = base_pb2.AddArtifactsRequest.BeginChunkedArtifact(
        name="files/big.bin",
        total_bytes=sum(len(p) for p in parts),
        num_chunks=len(parts),
        initial_chunk=chunk(data=parts[0], crc=zlib.crc32(parts[0])),
    )
    requests = [base_pb2.AddArtifactsRequest(begin_chunk=begin, **ctx)] + [
        base_pb2.AddArtifactsRequest(chunk=chunk(data=p, crc=zlib.crc32(p)), **ctx) for p in parts[1:]
    ]
    reply = stub.AddArtifacts(iter(requests))
    assert [(a.name, a.is_crc_successful) for a in reply.artifacts] == [("files/big.bin", True)]

    # names that would leave the session's directory are refused
    escape = base_pb2.AddArtifactsRequest.Batch(
        artifacts=[single(name="../../etc/x", data=chunk(data=good, crc=zlib.crc32(good)))]
    )
    with pytest.raises(grpc.RpcError) as e:
        stub.AddArtifacts(iter([base_pb2.AddArtifactsRequest(batch=escape, **ctx)]))
    assert "invalid artifact name" in e.value.details()


def test_a_cached_relation_that_was_never_uploaded_is_named(spark):
    from pyspark.sql.connect.dataframe import DataFrame
    from pyspark.sql.connect.plan import ChunkedCachedLocalRelation

    missing = "ab" * 32
    df = DataFrame(ChunkedCachedLocalRelation([missing], None), spark)
    with pytest.raises(AnalysisException) as e:
        df.collect()
    assert missing in str(e.value)
