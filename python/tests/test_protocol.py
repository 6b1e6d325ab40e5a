"""Spark Connect RPCs driven directly through the gRPC stubs that ship with pyspark-client, for
the parts of the protocol PySpark only uses when something goes wrong: FetchErrorDetails (asked
for the `errorId` an error status carries) and reattaching to an execution whose stream broke
(ReattachExecute after the last response seen, then ReleaseExecute) — and a map literal, which
pyspark-client 4.0 never sends but the protocol (and Scala clients) have."""

import uuid

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from pyspark.sql.connect.proto import base_pb2, base_pb2_grpc, relations_pb2, commands_pb2


@pytest.fixture
def stub(server):
    port = server["url"].rsplit(":", 1)[1]
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield base_pb2_grpc.SparkConnectServiceStub(channel)


def context(session_id):
    return {"session_id": session_id, "user_context": base_pb2.UserContext(user_id="test")}


def sql_plan(text):
    return base_pb2.Plan(command=commands_pb2.Command(sql_command=commands_pb2.SqlCommand(sql=text)))


def error_info(err):
    status = rpc_status.from_call(err)
    for d in status.details:
        if d.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            d.Unpack(info)
            return info
    raise AssertionError("no ErrorInfo in the status")


def test_fetch_error_details_for_the_error_id_a_status_carries(stub):
    session = str(uuid.uuid4())
    req = base_pb2.ExecutePlanRequest(plan=sql_plan("select * from no_such_table"), **context(session))
    with pytest.raises(grpc.RpcError) as e:
        list(stub.ExecutePlan(req))
    info = error_info(e.value)
    assert info.metadata["errorClass"] == "TABLE_OR_VIEW_NOT_FOUND"
    error_id = info.metadata["errorId"]

    details = stub.FetchErrorDetails(base_pb2.FetchErrorDetailsRequest(error_id=error_id, **context(session)))
    root = details.errors[details.root_error_idx]
    assert "org.apache.spark.sql.AnalysisException" in root.error_type_hierarchy
    assert "no_such_table" in root.message
    assert root.spark_throwable.error_class == "TABLE_OR_VIEW_NOT_FOUND"
    assert root.spark_throwable.sql_state == "42P01"

    unknown = stub.FetchErrorDetails(base_pb2.FetchErrorDetailsRequest(error_id="nope", **context(session)))
    assert len(unknown.errors) == 0 and not unknown.HasField("root_error_idx")


def rows_in(responses):
    return sum(r.arrow_batch.row_count for r in responses if r.HasField("arrow_batch"))


def test_reattach_resumes_after_the_last_response_seen_and_release_forgets(stub):
    session = str(uuid.uuid4())
    op = str(uuid.uuid4())
    n = 200_000
    plan = base_pb2.Plan(root=relations_pb2.Relation(range=relations_pb2.Range(start=0, end=n, step=1)))
    reattachable = base_pb2.ExecutePlanRequest.RequestOption(
        reattach_options=base_pb2.ReattachOptions(reattachable=True)
    )
    req = base_pb2.ExecutePlanRequest(
        plan=plan, operation_id=op, request_options=[reattachable], **context(session)
    )
    stream = stub.ExecutePlan(req)
    first = next(stream)  # the client sees one response, then its stream breaks
    stream.cancel()
    assert first.operation_id == op

    rest = list(
        stub.ReattachExecute(
            base_pb2.ReattachExecuteRequest(operation_id=op, last_response_id=first.response_id, **context(session))
        )
    )
    assert rest and rest[-1].HasField("result_complete")
    assert first.response_id not in {r.response_id for r in rest}
    assert rows_in([first] + rest) == n

    stub.ReleaseExecute(
        base_pb2.ReleaseExecuteRequest(
            operation_id=op, release_all=base_pb2.ReleaseExecuteRequest.ReleaseAll(), **context(session)
        )
    )
    with pytest.raises(grpc.RpcError) as e:
        list(stub.ReattachExecute(base_pb2.ReattachExecuteRequest(operation_id=op, **context(session))))
    assert "OPERATION_NOT_FOUND" in e.value.details()


def test_map_literal(stub):
    import pyarrow as pa
    from pyspark.sql.connect.proto import expressions_pb2, types_pb2

    lit = expressions_pb2.Expression.Literal
    m = lit(
        map=lit.Map(
            keys=[lit(string="a"), lit(string="b")],
            values=[lit(integer=1), lit(null=types_pb2.DataType(integer={}))],
        )
    )
    project = relations_pb2.Project(
        input=relations_pb2.Relation(range=relations_pb2.Range(start=0, end=1, step=1)),
        expressions=[expressions_pb2.Expression(literal=m)],
    )
    req = base_pb2.ExecutePlanRequest(
        plan=base_pb2.Plan(root=relations_pb2.Relation(project=project)), **context(str(uuid.uuid4()))
    )
    batches = [r.arrow_batch.data for r in stub.ExecutePlan(req) if r.HasField("arrow_batch")]
    table = pa.concat_tables([pa.ipc.open_stream(b).read_all() for b in batches])
    assert table.schema.field(0).type == pa.map_(pa.string(), pa.int32())
    assert table.column(0).to_pylist() == [[("a", 1), ("b", None)]]
