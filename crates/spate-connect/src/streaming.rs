//! Structured Streaming's commands: `writeStream.start()` (WriteStreamOperationStart), a
//! query's commands (status, progress, stop, processAllAvailable, awaitTermination,
//! exception, explain) and `spark.streams` (active, get, awaitAnyTermination,
//! resetTerminated). The queries themselves run in spate-stream; waiting commands await
//! there without holding a server thread.

use std::time::Duration;

use spark_connect_proto::spark::connect::StreamingForeachFunction;
use spark_connect_proto::spark::connect::execute_plan_response::ResponseType;
use spark_connect_proto::spark::connect::streaming_query_command::Command as QueryCommand;
use spark_connect_proto::spark::connect::streaming_query_command_result::{
    AwaitTerminationResult, ExceptionResult, ExplainResult, RecentProgressResult, ResultType,
    StatusResult,
};
use spark_connect_proto::spark::connect::streaming_query_manager_command::Command as ManagerCommand;
use spark_connect_proto::spark::connect::streaming_query_manager_command_result::ListStreamingQueryListenerResult;
use spark_connect_proto::spark::connect::streaming_query_manager_command_result::{
    ActiveResult, AwaitAnyTerminationResult, ResultType as ManagerResult, StreamingQueryInstance,
};
use spark_connect_proto::spark::connect::write_stream_operation_start::{
    SinkDestination, Trigger as ProtoTrigger,
};
use spark_connect_proto::spark::connect::{
    ExecutePlanResponse, StreamingQueryCommand, StreamingQueryCommandResult,
    StreamingQueryInstanceId, StreamingQueryManagerCommand, StreamingQueryManagerCommandResult,
    WriteStreamOperationStart, WriteStreamOperationStartResult,
};
use spark_connect_proto::spark::connect::{
    StreamingQueryListenerBusCommand, StreamingQueryListenerEvent,
    StreamingQueryListenerEventsResult,
};
use spate_common::{Error, Result};
use spate_stream::foreach_batch::{ForeachBatch, PythonFunction};
use spate_stream::listener::ListenerBus;
use spate_stream::query::{Failure, StartRequest, StreamingQuery, Trigger};
use spate_stream::{OutputMode, SessionStreams, Sink};

use crate::execution::{Execution, resolve};

fn instance_id(q: &StreamingQuery) -> StreamingQueryInstanceId {
    StreamingQueryInstanceId {
        id: q.id.clone(),
        run_id: q.run_id.clone(),
    }
}

/// Spark's interval strings for processingTime: "10 seconds", "1 minute", "500 milliseconds",
/// or a number of milliseconds.
fn interval(text: &str) -> Result<Duration> {
    let t = text.trim().to_lowercase();
    let t = t.strip_prefix("interval").map(str::trim).unwrap_or(&t);
    if let Ok(ms) = t.parse::<u64>() {
        return Ok(Duration::from_millis(ms));
    }
    let mut parts = t.split_whitespace();
    let (Some(n), Some(unit), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad_interval(text));
    };
    let n: f64 = n.parse().map_err(|_| bad_interval(text))?;
    let ms = match unit.trim_end_matches('s') {
        "millisecond" | "ms" => n,
        "second" | "sec" => n * 1e3,
        "minute" | "min" => n * 6e4,
        "hour" => n * 3.6e6,
        "day" => n * 8.64e7,
        _ => return Err(bad_interval(text)),
    };
    if ms < 0.0 {
        return Err(bad_interval(text));
    }
    Ok(Duration::from_millis(ms as u64))
}

fn bad_interval(text: &str) -> Error {
    Error::IllegalArgument(format!("Invalid interval: {text}"))
}

/// `writeStream.start()`.
pub(crate) async fn start(
    exec: &Execution<'_>,
    w: WriteStreamOperationStart,
) -> Result<Vec<ExecutePlanResponse>> {
    let session = exec.session();
    let input = w
        .input
        .ok_or_else(|| Error::internal("writeStream without input"))?;
    let state = session.state(exec.scope(None))?;
    let plan = resolve(session, &state, &input, true).await?;
    let trigger = match &w.trigger {
        None => Trigger::ProcessingTime(Duration::ZERO),
        Some(ProtoTrigger::ProcessingTimeInterval(i)) => Trigger::ProcessingTime(interval(i)?),
        Some(ProtoTrigger::Once(_)) => Trigger::Once,
        Some(ProtoTrigger::AvailableNow(_)) => Trigger::AvailableNow,
        Some(ProtoTrigger::ContinuousCheckpointInterval(i)) => Trigger::Continuous(interval(i)?),
        Some(ProtoTrigger::RealTimeBatchDuration(i)) => Trigger::RealTime(interval(i)?),
    };
    if w.foreach_writer.is_some() {
        return Err(Error::unsupported(
            "foreach (a ForeachWriter); use foreachBatch",
        ));
    }
    let mode = OutputMode::parse(&w.output_mode)?;
    let name = Some(w.query_name.clone()).filter(|n| !n.is_empty());
    let format = if w.format.is_empty() {
        "parquet".to_string()
    } else {
        w.format.to_lowercase()
    };
    let path = match &w.sink_destination {
        Some(SinkDestination::Path(p)) => Some(p.clone()),
        _ => w
            .options
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("path"))
            .map(|(_, v)| v.clone()),
    };
    let table_dir = match &w.sink_destination {
        Some(SinkDestination::TableName(t)) => Some(
            table_sink_dir(
                session,
                &state,
                t,
                &w.format,
                &plan,
                &w.partitioning_column_names,
            )
            .await?,
        ),
        _ => None,
    };
    let (format, path) = match table_dir {
        Some(dir) => ("delta".to_string(), Some(dir.display().to_string())),
        None => (format, path),
    };
    let sink = match (
        &path,
        spate_stream::sink::FILE_SINKS.contains(&format.as_str()),
    ) {
        (Some(path), true) => Sink::files(
            &format,
            path,
            w.partitioning_column_names.clone(),
            w.options
                .iter()
                .filter(|(k, _)| {
                    !k.eq_ignore_ascii_case("path") && !k.eq_ignore_ascii_case("checkpointLocation")
                })
                .map(|(k, v)| (k.to_lowercase(), v.clone()))
                .collect(),
        ),
        _ if w.foreach_batch.is_some() => foreach_batch(w.foreach_batch.clone())?,
        _ if format == "console" => Sink::console(&w.options)?,
        _ if format == "kafka" => Sink::kafka(&w.options)?,
        _ => Sink::new(&format, name.as_deref())?,
    };
    // Spark: the checkpointLocation option, else spark.sql.streaming.checkpointLocation with
    // the query's name (or a fresh id) under it
    let checkpoint = w
        .options
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("checkpointLocation"))
        .map(|(_, v)| std::path::PathBuf::from(v.strip_prefix("file://").unwrap_or(v)))
        .or_else(|| {
            let root = session
                .config()
                .get("spark.sql.streaming.checkpointLocation")?;
            let leaf = name
                .clone()
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
            Some(std::path::PathBuf::from(root).join(leaf))
        });
    let sink = sink.in_checkpoint(checkpoint.as_deref());
    sink.check_mode(mode)?;
    sink.check_schema(plan.schema().as_arrow())?;
    if checkpoint.is_none() && matches!(sink, Sink::Files { .. } | Sink::Kafka { .. }) {
        return Err(Error::analysis(
            "_LEGACY_ERROR_TEMP_3015",
            "checkpointLocation must be specified either through option(\"checkpointLocation\", ...) \
             or SparkSession.conf.set(\"spark.sql.streaming.checkpointLocation\", ...)",
        ));
    }
    let query = SessionStreams::of(session).start(
        std::sync::Arc::clone(session),
        StartRequest {
            plan,
            sink,
            name: name.clone(),
            trigger,
            checkpoint,
            mode,
        },
    )?;
    Ok(vec![
        exec.response(ResponseType::WriteStreamOperationStartResult(
            WriteStreamOperationStartResult {
                query_id: Some(instance_id(&query)),
                name: name.unwrap_or_default(),
                // only a client with listeners asked to hear of starts
                query_started_event_json: ListenerBus::of(session)
                    .has_subscribers()
                    .then(|| query.started_event_json()),
            },
        )),
    ])
}

/// `toTable(name)`: the directory of the Delta table `name`, created (empty, with the
/// stream's columns) when it does not exist, as Spark creates it when the query starts.
async fn table_sink_dir(
    session: &spate_session::Session,
    state: &datafusion::execution::SessionState,
    table: &str,
    format: &str,
    plan: &datafusion::logical_expr::LogicalPlan,
    partition_by: &[String],
) -> Result<std::path::PathBuf> {
    let name = spate_common::names::split_name(table);
    let catalog = &session.catalog;
    let not_delta = |f: &str| {
        Error::unsupported(format!(
            "streaming into the {f} table '{table}' (streaming into tables supports Delta tables)"
        ))
    };
    if catalog.table_exists(&name) {
        let meta = catalog.table_meta(&name)?;
        if meta.format != "delta" {
            return Err(not_delta(&meta.format));
        }
        return catalog.data_dir(&name);
    }
    if !format.is_empty() && !format.eq_ignore_ascii_case("delta") {
        return Err(not_delta(format));
    }
    let dir = catalog.table_dir(&name)?;
    let empty = datafusion::logical_expr::LogicalPlan::EmptyRelation(
        datafusion::logical_expr::EmptyRelation {
            produce_one_row: false,
            schema: std::sync::Arc::new(datafusion::common::DFSchema::try_from(
                plan.schema().as_arrow().clone(),
            )?),
        },
    );
    let request = spate_lake::WriteRequest {
        format: "delta".into(),
        mode: spate_lake::SaveMode::Append,
        partition_by: partition_by.to_vec(),
        options: Default::default(),
    };
    spate_lake::write::write_path(state, empty, &dir.display().to_string(), &request).await?;
    spate_lake::catalog::SessionCatalog::write_table_meta(
        &dir,
        &spate_lake::catalog::TableMeta {
            format: "delta".into(),
            partition_columns: partition_by.to_vec(),
            schema: None,
            location: None,
        },
    )?;
    Ok(dir)
}

/// The foreachBatch sink for the client's function.
fn foreach_batch(f: Option<StreamingForeachFunction>) -> Result<Sink> {
    use spark_connect_proto::spark::connect::streaming_foreach_function::Function;
    match f.and_then(|f| f.function) {
        Some(Function::PythonFunction(udf)) => {
            let spark_connect_proto::spark::connect::PythonUdf {
                output_type: _,
                eval_type: _,
                command,
                python_ver,
                additional_includes: _,
            } = udf;
            Ok(Sink::ForeachBatch(Box::new(ForeachBatch::new(
                PythonFunction {
                    command: command.to_vec(),
                    python_ver,
                },
            ))))
        }
        Some(Function::ScalaFunction(_)) => {
            Err(Error::unsupported("a Scala foreachBatch function"))
        }
        None => Err(Error::internal("foreachBatch without a function")),
    }
}

/// Spark's StreamingQueryException for a failed query.
fn stream_failed(q: &StreamingQuery, f: &Failure) -> Error {
    Error::Runtime {
        exception: "org.apache.spark.sql.streaming.StreamingQueryException",
        class: "STREAM_FAILED".into(),
        message: format!(
            "Query [id = {}, runId = {}] terminated with exception: {}",
            q.id, q.run_id, f.message
        ),
    }
}

/// A command on one query.
pub(crate) async fn query_command(
    exec: &Execution<'_>,
    c: StreamingQueryCommand,
) -> Result<Vec<ExecutePlanResponse>> {
    let id = c
        .query_id
        .ok_or_else(|| Error::internal("a query command without a query id"))?;
    let query = SessionStreams::of(exec.session())
        .get_run(&id.id, &id.run_id)
        .ok_or_else(|| {
            Error::IllegalArgument(format!(
                "[STREAMING_QUERY_NOT_FOUND] the streaming query {} does not exist in this session",
                id.id
            ))
        })?;
    let result = match c
        .command
        .ok_or_else(|| Error::internal("a query command without a command"))?
    {
        QueryCommand::Status(_) => {
            let (message, data, trigger, active) = query.status();
            Some(ResultType::Status(StatusResult {
                status_message: message,
                is_data_available: data,
                is_trigger_active: trigger,
                is_active: active,
            }))
        }
        QueryCommand::LastProgress(_) | QueryCommand::RecentProgress(_) => {
            Some(ResultType::RecentProgress(RecentProgressResult {
                recent_progress_json: query.recent_progress(),
            }))
        }
        QueryCommand::Stop(_) => {
            query.stop().await;
            None
        }
        QueryCommand::ProcessAllAvailable(_) => {
            query.process_all_available().await;
            if let Some(f) = query.failure() {
                return Err(stream_failed(&query, &f));
            }
            None
        }
        QueryCommand::Explain(_) => Some(ResultType::Explain(ExplainResult {
            result: query.explain(),
        })),
        QueryCommand::Exception(_) => Some(ResultType::Exception(match query.failure() {
            Some(f) => ExceptionResult {
                exception_message: Some(format!(
                    "org.apache.spark.sql.streaming.StreamingQueryException: {}",
                    stream_failed(&query, &f)
                )),
                error_class: Some("STREAM_FAILED".into()),
                stack_trace: None,
            },
            None => ExceptionResult::default(),
        })),
        QueryCommand::AwaitTermination(a) => {
            let timeout = a
                .timeout_ms
                .map(|ms| Duration::from_millis(ms.max(0) as u64));
            let terminated = query.await_termination(timeout).await;
            if let Some(f) = query.failure() {
                return Err(stream_failed(&query, &f));
            }
            Some(ResultType::AwaitTermination(AwaitTerminationResult {
                terminated,
            }))
        }
    };
    Ok(vec![exec.response(
        ResponseType::StreamingQueryCommandResult(StreamingQueryCommandResult {
            query_id: Some(instance_id(&query)),
            result_type: result,
        }),
    )])
}

fn instance(q: &StreamingQuery) -> StreamingQueryInstance {
    StreamingQueryInstance {
        id: Some(instance_id(q)),
        name: q.name.clone(),
    }
}

/// A command on `spark.streams`.
pub(crate) async fn manager_command(
    exec: &Execution<'_>,
    c: StreamingQueryManagerCommand,
) -> Result<Vec<ExecutePlanResponse>> {
    let streams = SessionStreams::of(exec.session());
    let result = match c
        .command
        .ok_or_else(|| Error::internal("a manager command without a command"))?
    {
        ManagerCommand::Active(_) => Some(ManagerResult::Active(ActiveResult {
            active_queries: streams.active().iter().map(|q| instance(q)).collect(),
        })),
        // a result without a query: PySpark's get() returns None
        ManagerCommand::GetQuery(id) => {
            streams.get(&id).map(|q| ManagerResult::Query(instance(&q)))
        }
        ManagerCommand::AwaitAnyTermination(a) => {
            let timeout = a
                .timeout_ms
                .map(|ms| Duration::from_millis(ms.max(0) as u64));
            let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
            let terminated = loop {
                let all = streams.all();
                if let Some(q) = all.iter().find(|q| !q.state().is_active()) {
                    if let Some(f) = q.failure() {
                        return Err(stream_failed(q, &f));
                    }
                    break true;
                }
                if deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
                    break false;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            };
            Some(ManagerResult::AwaitAnyTermination(
                AwaitAnyTerminationResult { terminated },
            ))
        }
        ManagerCommand::ResetTerminated(_) => {
            streams.reset_terminated();
            exec.session()
                .extension::<spate_session::StreamingBoard>()
                .forget_terminated();
            Some(ManagerResult::ResetTerminated(true))
        }
        // listeners run in the server's Python: PySpark 4's listeners are the client's own
        // (the listener bus below), so the server has none to list
        ManagerCommand::ListListeners(_) => Some(ManagerResult::ListListeners(
            ListStreamingQueryListenerResult {
                listener_ids: Vec::new(),
            },
        )),
        ManagerCommand::AddListener(_) | ManagerCommand::RemoveListener(_) => {
            return Err(Error::unsupported(
                "server-side streaming query listeners (client-side listeners are supported)",
            ));
        }
    };
    Ok(vec![exec.response(
        ResponseType::StreamingQueryManagerCommandResult(StreamingQueryManagerCommandResult {
            result_type: result,
        }),
    )])
}

/// `StreamingQueryListenerBusCommand`: adding the client's listener bus keeps this operation's
/// stream open, sending the session's listener events as they happen, until the bus is
/// removed (by the next such command) or the session ends.
pub(crate) async fn listener_bus(
    exec: &Execution<'_>,
    c: StreamingQueryListenerBusCommand,
) -> Result<Vec<ExecutePlanResponse>> {
    use spark_connect_proto::spark::connect::streaming_query_listener_bus_command::Command as Bus;
    let bus = ListenerBus::of(exec.session());
    match c.command {
        Some(Bus::AddListenerBusListener(true)) => {
            let mut events = bus.subscribe();
            exec.push(
                exec.response(ResponseType::StreamingQueryListenerEventsResult(
                    StreamingQueryListenerEventsResult {
                        events: Vec::new(),
                        listener_bus_listener_added: Some(true),
                    },
                )),
            )
            .await?;
            loop {
                let event = tokio::select! {
                    e = events.recv() => e,
                    // a released session ends the stream too
                    () = tokio::time::sleep(Duration::from_millis(200)) => {
                        if exec.session().is_closed() {
                            None
                        } else {
                            continue;
                        }
                    }
                };
                let Some(event) = event else { break };
                exec.push(
                    exec.response(ResponseType::StreamingQueryListenerEventsResult(
                        StreamingQueryListenerEventsResult {
                            events: vec![StreamingQueryListenerEvent {
                                event_json: event.json,
                                event_type: event.kind as i32,
                            }],
                            listener_bus_listener_added: None,
                        },
                    )),
                )
                .await?;
            }
            Ok(vec![])
        }
        Some(Bus::RemoveListenerBusListener(true)) => {
            bus.unsubscribe_all();
            Ok(vec![])
        }
        _ => Err(Error::internal("a listener bus command without a command")),
    }
}

#[cfg(test)]
mod tests {
    use super::interval;
    use std::time::Duration;

    #[test]
    fn processing_time_intervals_read_as_spark_writes_them() {
        let ms = |t: &str| interval(t).map(|d| d.as_millis()).ok();
        assert_eq!(ms("10 seconds"), Some(10_000));
        assert_eq!(ms("1 minute"), Some(60_000));
        assert_eq!(ms("500 milliseconds"), Some(500));
        assert_eq!(ms("interval 2 hours"), Some(7_200_000));
        assert_eq!(ms("250"), Some(250));
        assert_eq!(interval("0 seconds").ok(), Some(Duration::ZERO));
        assert!(interval("soon").is_err());
        assert!(interval("5 fortnights").is_err());
    }
}
