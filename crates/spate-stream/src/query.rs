//! A running streaming query: the micro-batch loop and what the client asks of it. Per
//! trigger the loop asks each source for its newest offset; when any has new data it plans the
//! user's query over the rows between the last offsets and the new ones (each streaming scan
//! replaced by its source's rows), runs it through the query runner into the sink, and records
//! the batch's progress in Spark's JSON form. Between triggers it waits for the trigger's
//! interval, for `stop()`, or for the end of an `availableNow`/`once` run.
//!
//! Invariants: the state only moves as [`QueryState::can_become`] allows; `committed` (per
//! source, the offset every finished batch reached) only grows; a failure ends the query in `Failed` with
//! its error kept for `exception()` and `awaitTermination()`.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use datafusion::common::tree_node::TreeNode;
use datafusion::logical_expr::LogicalPlan;
use serde_json::json;
use spate_common::{Error, Result};
use spate_exec::QueryScope;
use spate_plan::streaming::StreamingScanNode;
use spate_session::Session;
use tokio::sync::Notify;

use crate::QueryState;
use crate::aggregate::StreamingAggregate;
use crate::checkpoint::{Checkpoint, CommitEntry, OffsetEntry, OffsetMetadata, Resume};
use crate::dedup::StreamingDeduplicate;
use crate::listener::{EventKind, ListenerBus};
use crate::micro_batch::{self, BatchContext, WatermarkTracker, iso_ms};
use crate::operators::Operators;
use crate::sink::Sink;
use crate::source::Source;
use crate::stateful::{self, OutputMode, StatefulOperator, Watermarks, stateful_nodes};

/// Progress reports kept per query (`spark.sql.streaming.numRecentProgressUpdates`).
pub const RECENT_PROGRESS: usize = 100;

/// When the query runs a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// As soon as the previous batch ended and there is new data (`interval` zero), or every
    /// `interval`.
    ProcessingTime(Duration),
    /// One batch with all available data, then stop.
    Once,
    /// All data available at the start, in batches, then stop.
    AvailableNow,
    /// Spark's continuous processing, with its checkpoint interval: run as micro-batches
    /// started as soon as data arrives, for the queries Spark's continuous mode takes (a rate
    /// stream with projections and filters into memory, console or noop).
    Continuous(Duration),
    /// Spark's real-time mode (4.1+), which reads only Kafka streams: Spate has none yet, so a
    /// query gets Spark's errors (the sink's and output mode's when it starts, the stream's
    /// when it runs).
    RealTime(Duration),
}

/// What `writeStream.start()` asks for.
#[derive(Debug)]
pub struct StartRequest {
    /// The user's plan, with its streaming scan.
    pub plan: LogicalPlan,
    /// The sink.
    pub sink: Sink,
    /// The query's name.
    pub name: Option<String>,
    /// Its trigger.
    pub trigger: Trigger,
    /// Its checkpoint directory; without one the query starts afresh each time.
    pub checkpoint: Option<PathBuf>,
    /// Its output mode.
    pub mode: OutputMode,
}

/// The last error of a failed query.
#[derive(Debug, Clone)]
pub struct Failure {
    /// Spark's error class, if it has one.
    pub class: Option<String>,
    /// The message.
    pub message: String,
}

struct Inner {
    state: QueryState,
    stop: bool,
    /// Per source, the offset every finished batch reached (seconds for the rate source).
    committed: Vec<i64>,
    /// Per source, the newest offset it reported.
    latest: Vec<i64>,
    trigger_active: bool,
    progress: VecDeque<String>,
    failure: Option<Failure>,
}

/// One run of a streaming query.
pub struct StreamingQuery {
    /// The query's id (the same across restarts from one checkpoint).
    pub id: String,
    /// This run's id.
    pub run_id: String,
    /// The query's name.
    pub name: Option<String>,
    plan: LogicalPlan,
    sources: Arc<[Source]>,
    inner: Mutex<Inner>,
    changed: Notify,
    bus: Arc<ListenerBus>,
    started_ms: i64,
}

impl std::fmt::Debug for StreamingQuery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamingQuery")
            .field("id", &self.id)
            .field("run_id", &self.run_id)
            .field("name", &self.name)
            .finish()
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The streaming scans of `plan`, in the order [`micro_batch::batch_plan`] meets them.
fn streaming_scans(plan: &LogicalPlan) -> Result<Vec<StreamingScanNode>> {
    let mut found = Vec::new();
    plan.apply(|p| {
        if let LogicalPlan::Extension(e) = p
            && let Some(n) = e.node.as_any().downcast_ref::<StreamingScanNode>()
        {
            found.push(n.clone());
        }
        Ok(datafusion::common::tree_node::TreeNodeRecursion::Continue)
    })?;
    if found.is_empty() {
        return Err(Error::analysis(
            "_LEGACY_ERROR_TEMP_3094",
            "'writeStream' can be called only on streaming Dataset/DataFrame",
        ));
    }
    Ok(found)
}

impl StreamingQuery {
    /// Starts `req` in `session` on its own task.
    pub fn start(session: Arc<Session>, req: StartRequest) -> Result<Arc<Self>> {
        let scans = streaming_scans(&req.plan)?;
        let state = session.state(QueryScope::default())?;
        // analyzed once: each batch's plan is this one with the batch's data in it
        let analyzed = state.analyzer().execute_and_check(
            req.plan.clone(),
            state.config_options(),
            |_, _| {},
        )?;
        let watermarks = stateful::watermark_nodes(&analyzed);
        let watermark_columns: Vec<String> = watermarks.iter().map(|(c, _)| c.clone()).collect();
        let nodes = stateful_nodes(&analyzed)?;
        let watermarked_aggregate = nodes.iter().any(|n| {
            matches!(n, LogicalPlan::Aggregate(a)
                if crate::aggregate::watermarked_key(a, &watermark_columns).is_some())
        });
        crate::checker::check(&analyzed, req.mode, watermarked_aggregate)?;
        if matches!(req.trigger, Trigger::Continuous(_)) {
            crate::checker::check_continuous(&analyzed)?;
        }
        if matches!(req.trigger, Trigger::RealTime(_)) {
            crate::checker::check_real_time(&req.sink, req.mode)?;
        }
        let checkpoint = req.checkpoint.as_ref().map(Checkpoint::new);
        let (id, resume) = match &checkpoint {
            Some(c) => (c.query_id()?, c.resume()?),
            None => (uuid::Uuid::new_v4().to_string(), Resume::Fresh),
        };
        // a restarted query keeps the number of partitions its state was written with
        let config = session.config();
        let partitions = resume_conf(&resume, "spark.sql.shuffle.partitions")
            .or_else(|| config.get("spark.sql.shuffle.partitions"))
            .and_then(|v| v.parse().ok())
            .unwrap_or(2usize)
            .max(1);
        let policy_max = config
            .get("spark.sql.streaming.multipleWatermarkPolicy")
            .is_some_and(|p| p.eq_ignore_ascii_case("max"));
        let next_batch = match &resume {
            Resume::Fresh => 0,
            Resume::Rerun { batch_id, .. } | Resume::Next { batch_id, .. } => *batch_id,
        };
        let state_root = checkpoint.as_ref().map(|c| c.root().join("state"));
        let operators = Operators::of(&analyzed, |node, id| {
            let store_dir = state_root.as_ref().map(|r| r.join(id.to_string()));
            Ok(match node {
                LogicalPlan::Join(_) => Box::new(crate::join::StreamingJoin::new(
                    node, store_dir, partitions, next_batch,
                )?) as Box<dyn StatefulOperator>,
                LogicalPlan::Aggregate(agg) if crate::session::is_session_aggregate(agg) => {
                    Box::new(crate::session::StreamingSessions::new(
                        agg,
                        req.mode,
                        &watermark_columns,
                        store_dir,
                        partitions,
                        next_batch,
                    )?)
                }
                LogicalPlan::Aggregate(agg) => Box::new(StreamingAggregate::new(
                    agg,
                    req.mode,
                    &watermark_columns,
                    store_dir,
                    partitions,
                    next_batch,
                )?),
                _ => Box::new(StreamingDeduplicate::new(
                    node,
                    &watermarks,
                    store_dir,
                    partitions,
                    next_batch,
                )?),
            })
        })?;
        let tracker =
            WatermarkTracker::new(watermarks.iter().map(|(_, d)| *d).collect(), policy_max, 0);
        let sources: Arc<[Source]> = scans
            .iter()
            .enumerate()
            .map(|(i, scan)| Source::open(scan, checkpoint.as_ref(), i, partitions))
            .collect::<Result<Vec<_>>>()?
            .into();
        let query = Arc::new(Self {
            id,
            run_id: uuid::Uuid::new_v4().to_string(),
            name: req.name.clone(),
            plan: req.plan.clone(),
            sources: Arc::clone(&sources),
            inner: Mutex::new(Inner {
                state: QueryState::Initializing,
                stop: false,
                committed: sources.iter().map(Source::initial).collect(),
                latest: sources.iter().map(Source::initial).collect(),
                trigger_active: false,
                progress: VecDeque::new(),
                failure: None,
            }),
            changed: Notify::new(),
            bus: ListenerBus::of(&session),
            started_ms: now_ms(),
        });
        let runner = Arc::clone(&query);
        let mut run = Run {
            analyzed,
            operators,
            tracker,
        };
        tokio::spawn(async move {
            let running = runner.run(
                &session,
                &sources,
                &req,
                &mut run,
                checkpoint.as_ref(),
                resume,
            );
            // a bug that panics fails the query (else it would stay active, and
            // awaitTermination would wait forever)
            let outcome =
                match futures::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(running)).await
                {
                    Ok(outcome) => outcome,
                    Err(panic) => Err(Error::internal(format!(
                        "the query failed on a bug in Spate: {}",
                        spate_exec::panic_message(panic.as_ref())
                    ))),
                };
            runner.finish(outcome);
        });
        Ok(query)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn set_state(&self, next: QueryState) {
        let mut inner = self.lock();
        if inner.state.can_become(next) {
            inner.state = next;
        }
        drop(inner);
        self.changed.notify_waiters();
    }

    fn finish(&self, outcome: Result<()>) {
        let mut inner = self.lock();
        inner.trigger_active = false;
        let next = match outcome {
            Ok(()) => QueryState::Terminated,
            Err(e) => {
                let info = e.spark_info();
                inner.failure = Some(Failure {
                    class: info.error_class,
                    message: info.message,
                });
                QueryState::Failed
            }
        };
        // listeners hear of the end before anyone waiting for it does
        let failure = inner.failure.clone();
        self.bus.publish(
            EventKind::Terminated,
            json!({
                "id": self.id,
                "runId": self.run_id,
                "exception": failure.as_ref().map(|f| f.message.clone()),
                "errorClassOnException": failure.and_then(|f| f.class),
            })
            .to_string(),
        );
        // the loop always made the query active first, so both ends are allowed moves
        if inner.state.can_become(next) {
            inner.state = next;
        }
        drop(inner);
        self.changed.notify_waiters();
    }

    /// Spark's `QueryStartedEvent` JSON, for the client's listeners.
    pub fn started_event_json(&self) -> String {
        json!({
            "id": self.id,
            "runId": self.run_id,
            "name": self.name,
            "timestamp": iso_ms(self.started_ms),
            "jobTags": [],
        })
        .to_string()
    }

    /// The micro-batch loop.
    async fn run(
        &self,
        session: &Session,
        sources: &[Source],
        req: &StartRequest,
        run: &mut Run,
        checkpoint: Option<&Checkpoint>,
        resume: Resume,
    ) -> Result<()> {
        self.set_state(QueryState::Active);
        for source in sources {
            source.check_options()?;
            source.prepare().await?;
            if matches!(req.trigger, Trigger::RealTime(_)) {
                return Err(match source {
                    // Spark's real-time mode reads Kafka; Spate reads it in micro-batches only
                    Source::Kafka(_) => Error::unsupported(
                        "the real-time trigger (a Kafka stream runs with micro-batch triggers)",
                    ),
                    _ => crate::checker::real_time_source_error(source),
                });
            }
        }
        if let Trigger::Continuous(interval) = req.trigger
            && !req.sink.takes_continuous()
        {
            // Spark's sinks other than these fail the query so when it starts
            return Err(Error::IllegalArgument(format!(
                "Unknown type of trigger: ContinuousTrigger({})",
                interval.as_millis()
            )));
        }
        let started = now_ms();
        // where the checkpoint says to go on: after the last committed batch, or the
        // uncommitted one again, exactly as it was planned (with its watermark)
        let offset_of = |e: &OffsetEntry| offsets_of(sources, e);
        let initial: Vec<i64> = sources.iter().map(Source::initial).collect();
        let (mut batch_id, committed, mut rerun, mut previous_wm) = match resume {
            Resume::Fresh => (0, initial, None, 0),
            Resume::Next {
                batch_id,
                last,
                commit,
            } => {
                run.tracker.current = commit.next_batch_watermark_ms;
                (
                    batch_id,
                    offset_of(&last)?,
                    None,
                    last.metadata.batch_watermark_ms,
                )
            }
            Resume::Rerun {
                batch_id,
                offsets,
                previous,
            } => {
                let start = match previous.as_ref() {
                    Some(p) => offset_of(p)?,
                    None => initial,
                };
                run.tracker.current = offsets.metadata.batch_watermark_ms;
                let previous_wm = previous.map_or(0, |p| p.metadata.batch_watermark_ms);
                (batch_id, start, Some(offset_of(&offsets)?), previous_wm)
            }
        };
        self.lock().committed.clone_from(&committed);
        // availableNow and once read what exists when the query starts, then end
        let bounded = matches!(req.trigger, Trigger::Once | Trigger::AvailableNow);
        let once = req.trigger == Trigger::Once;
        let mut end_at = Vec::with_capacity(sources.len());
        for (s, c) in sources.iter().zip(&committed) {
            end_at.push(if bounded {
                s.freeze(started, *c).await?
            } else {
                None
            });
        }
        // listeners hear that a query has no data every this often
        let idle_every = session
            .config()
            .get("spark.sql.streaming.noDataProgressEventInterval")
            .and_then(|v| spate_common::config::parse_duration(&v, Duration::from_millis(1)))
            .unwrap_or(Duration::from_secs(10));
        let mut last_event = Instant::now();
        loop {
            let trigger_start = Instant::now();
            if self.lock().stop || session.is_closed() {
                return Ok(());
            }
            let committed = self.lock().committed.clone();
            let mut latest = Vec::with_capacity(sources.len());
            for ((source, c), end) in sources.iter().zip(&committed).zip(&end_at) {
                let newest = source.latest(now_ms(), once, *c).await?;
                latest.push(end.map_or(newest, |e| newest.min(e)));
            }
            if let Some(ends) = rerun.take() {
                latest = ends;
            }
            self.lock().latest.clone_from(&latest);
            let new_data = latest.iter().zip(&committed).any(|(l, c)| l > c);
            // a batch without data when a newer watermark has state to evict (Spark's
            // no-data batch)
            let evicting = run.tracker.current > previous_wm && run.operators.evict_by_watermark();
            if bounded && !new_data && !evicting {
                return Ok(());
            }
            if new_data || evicting {
                let end: Vec<i64> = latest
                    .iter()
                    .zip(&committed)
                    .map(|(l, c)| *l.max(c))
                    .collect();
                self.lock().trigger_active = true;
                self.changed.notify_waiters();
                let watermark = run.tracker.current;
                if let Some(c) = checkpoint {
                    c.write_offsets(batch_id, &offsets_entry(session, sources, &end, watermark))?;
                }
                // as Spark, the sources hear that the previous batch committed once the next
                // one is planned
                if batch_id > 0 {
                    for (source, c) in sources.iter().zip(&committed) {
                        source.committed(*c)?;
                    }
                }
                let watermarks = Watermarks {
                    late_ms: previous_wm,
                    evict_ms: watermark,
                };
                self.run_batch(
                    session, sources, req, run, batch_id, &committed, end, watermarks,
                )
                .await?;
                run.operators.commit()?;
                previous_wm = watermark;
                let next_watermark = run.tracker.advance();
                if let Some(c) = checkpoint {
                    c.commit(
                        batch_id,
                        &CommitEntry {
                            next_batch_watermark_ms: next_watermark,
                        },
                    )?;
                }
                batch_id += 1;
                last_event = Instant::now();
                if run.tracker.current > previous_wm && !run.operators.is_empty() {
                    // look again at once: the new watermark may have state to evict
                    continue;
                }
            }
            if !new_data && last_event.elapsed() >= idle_every {
                last_event = Instant::now();
                self.bus.publish(
                    EventKind::Idle,
                    json!({
                        "id": self.id,
                        "runId": self.run_id,
                        "timestamp": iso_ms(now_ms()),
                    })
                    .to_string(),
                );
            }
            let wait = match req.trigger {
                Trigger::ProcessingTime(d) if !d.is_zero() => {
                    d.saturating_sub(trigger_start.elapsed())
                }
                // no interval: look again soon (the rate source has new data every second)
                _ => Duration::from_millis(50),
            };
            // wait in short steps, so that a released session's queries stop promptly
            let until = tokio::time::Instant::now() + wait;
            while tokio::time::Instant::now() < until && !self.lock().stop && !session.is_closed() {
                let step = until
                    .saturating_duration_since(tokio::time::Instant::now())
                    .min(Duration::from_millis(100));
                let notified = self.changed.notified();
                tokio::select! {
                    _ = tokio::time::sleep(step) => {}
                    _ = notified => {}
                }
            }
        }
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "one batch's whole context, passed from the loop that owns it"
    )]
    async fn run_batch(
        &self,
        session: &Session,
        sources: &[Source],
        req: &StartRequest,
        run: &mut Run,
        batch_id: u64,
        start: &[i64],
        end: Vec<i64>,
        watermarks: Watermarks,
    ) -> Result<()> {
        let began = Instant::now();
        let timestamp = chrono::Utc::now();
        let scope = QueryScope {
            description: Some(format!(
                "streaming query {} batch {batch_id}",
                self.name.as_deref().unwrap_or(&self.id)
            )),
            ..QueryScope::default()
        };
        let state = session.state(scope.clone())?;
        let mut rows = Vec::with_capacity(sources.len());
        let mut inputs = Vec::with_capacity(sources.len());
        for ((source, s), e) in sources.iter().zip(start).zip(&end) {
            let (plan, n) = if e > s {
                source.batch(session, *s, *e).await?
            } else {
                (source.empty_batch()?, 0)
            };
            rows.push(plan);
            inputs.push(n);
        }
        let per_operator = run
            .operators
            .watermarks(watermarks.late_ms, watermarks.evict_ms);
        let mut cx = BatchContext::new(
            &state,
            &rows,
            run.operators.all_mut(),
            per_operator,
            &mut run.tracker,
        );
        let plan = micro_batch::batch_plan(&mut cx, &run.analyzed).await?;
        let event_times = cx.times.clone();
        let planned = began.elapsed();
        let output = req
            .sink
            .add_batch(session, scope, &self.id, batch_id, &plan, req.mode)
            .await?;
        let total = began.elapsed();
        let seconds = total.as_secs_f64().max(1e-3);
        let input = inputs.iter().sum::<u64>() as f64;
        let offset = |source: &Source, o: i64| -> serde_json::Value {
            if o == source.initial() {
                return serde_json::Value::Null;
            }
            serde_json::from_str(&source.offset_json(o)).unwrap_or(serde_json::Value::Null)
        };
        let source_progress: Vec<serde_json::Value> = sources
            .iter()
            .enumerate()
            .map(|(i, source)| {
                let n = inputs[i] as f64;
                let mut entry = json!({
                    "description": source.description(),
                    "startOffset": offset(source, start[i]),
                    "endOffset": offset(source, end[i]),
                    "latestOffset": offset(source, end[i]),
                    "numInputRows": inputs[i],
                    "inputRowsPerSecond": n / seconds,
                    "processedRowsPerSecond": n / seconds,
                });
                if let Some((latest, metrics)) = source.progress(end[i]) {
                    entry["latestOffset"] = latest;
                    if !metrics.is_null() {
                        entry["metrics"] = metrics;
                    }
                }
                entry
            })
            .collect();
        let event_time = if run.tracker.defined() {
            event_times.progress(watermarks.evict_ms)
        } else {
            json!({})
        };
        let state_operators = run.operators.progress();
        let progress = json!({
            "id": self.id,
            "runId": self.run_id,
            "name": self.name,
            "timestamp": timestamp.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
            "batchId": batch_id,
            "batchDuration": total.as_millis() as u64,
            "numInputRows": input as u64,
            "inputRowsPerSecond": input / seconds,
            "processedRowsPerSecond": input / seconds,
            "durationMs": {
                "addBatch": (total - planned).as_millis() as u64,
                "queryPlanning": planned.as_millis() as u64,
                "triggerExecution": total.as_millis() as u64,
            },
            "eventTime": event_time,
            "stateOperators": state_operators,
            "sources": source_progress,
            "sink": {
                "description": req.sink.description(),
                "numOutputRows": output.map_or(-1, |n| n as i64),
            },
        });
        self.bus.publish(
            EventKind::Progress,
            json!({ "progress": progress }).to_string(),
        );
        let mut inner = self.lock();
        inner.committed = end;
        inner.trigger_active = false;
        inner.progress.push_back(progress.to_string());
        while inner.progress.len() > RECENT_PROGRESS {
            inner.progress.pop_front();
        }
        drop(inner);
        self.changed.notify_waiters();
        Ok(())
    }

    /// The query's state.
    pub fn state(&self) -> QueryState {
        self.lock().state
    }

    /// Spark's `status`: (message, data available, trigger active, active).
    pub fn status(&self) -> (String, bool, bool, bool) {
        let inner = self.lock();
        let message = match inner.state {
            QueryState::Initializing => "Initializing sources",
            QueryState::Active if inner.trigger_active => "Processing new data",
            QueryState::Active => "Waiting for next trigger",
            QueryState::Stopping => "Stopping",
            QueryState::Terminated | QueryState::Failed => "Stopped",
        };
        (
            message.to_string(),
            inner
                .latest
                .iter()
                .zip(&inner.committed)
                .any(|(l, c)| l > c),
            inner.trigger_active,
            inner.state.is_active(),
        )
    }

    /// The recent progress reports, oldest first.
    pub fn recent_progress(&self) -> Vec<String> {
        self.lock().progress.iter().cloned().collect()
    }

    /// The failure that ended the query, if one did.
    pub fn failure(&self) -> Option<Failure> {
        self.lock().failure.clone()
    }

    /// The plan, for `explain()`.
    pub fn explain(&self) -> String {
        format!("== Logical Plan ==\n{}", self.plan.display_indent())
    }

    /// Stops the query after its current batch and waits until it has terminated.
    pub async fn stop(&self) {
        {
            let mut inner = self.lock();
            inner.stop = true;
            if inner.state.can_become(QueryState::Stopping) {
                inner.state = QueryState::Stopping;
            }
        }
        self.changed.notify_waiters();
        self.wait_until(|i| !i.state.is_active(), None).await;
    }

    /// Waits until the query has terminated; `false` when `timeout` passed first.
    pub async fn await_termination(&self, timeout: Option<Duration>) -> bool {
        self.wait_until(|i| !i.state.is_active(), timeout).await
    }

    /// Waits until every offset the sources have now was processed (or the query ended).
    pub async fn process_all_available(&self) {
        let committed = self.lock().committed.clone();
        let mut target = Vec::with_capacity(committed.len());
        for (source, c) in self.sources.iter().zip(&committed) {
            target.push(source.target(now_ms(), *c).await.unwrap_or(*c));
        }
        let sources = Arc::clone(&self.sources);
        self.wait_until(
            move |i| {
                !i.state.is_active()
                    || sources
                        .iter()
                        .zip(i.committed.iter().zip(&target))
                        .all(|(s, (c, t))| s.reached(*c, *t))
            },
            None,
        )
        .await;
    }

    async fn wait_until(&self, done: impl Fn(&Inner) -> bool, timeout: Option<Duration>) -> bool {
        let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if done(&self.lock()) {
                return true;
            }
            match deadline {
                Some(d) => {
                    if tokio::time::timeout_at(d, notified).await.is_err() {
                        return done(&self.lock());
                    }
                }
                None => notified.await,
            }
        }
    }
}

/// Each source's offset in a batch's offsets.
fn offsets_of(sources: &[Source], entry: &OffsetEntry) -> Result<Vec<i64>> {
    if entry.sources.len() != sources.len() {
        return Err(Error::IllegalArgument(format!(
            "assertion failed: There are [{}] sources in the checkpoint offsets and now there are [{}] sources requested by the query. Cannot continue.",
            entry.sources.len(),
            sources.len()
        )));
    }
    sources
        .iter()
        .zip(&entry.sources)
        .map(|(source, offset)| match offset.as_deref() {
            None => Ok(source.initial()),
            Some(text) => source.parse_offset(text).ok_or_else(|| {
                Error::IllegalArgument(format!(
                    "the checkpoint's offset {text} is not one of {}",
                    source.description()
                ))
            }),
        })
        .collect()
}

/// What `offsets/N` records for a batch reading up to `end` with `watermark`.
fn offsets_entry(
    session: &Session,
    sources: &[Source],
    end: &[i64],
    watermark: i64,
) -> OffsetEntry {
    let config = session.config();
    let conf = ["spark.sql.shuffle.partitions", "spark.sql.session.timeZone"]
        .iter()
        .filter_map(|k| config.get(k).map(|v| (k.to_string(), v)))
        .collect();
    OffsetEntry {
        metadata: OffsetMetadata {
            batch_watermark_ms: watermark,
            batch_timestamp_ms: now_ms(),
            conf,
        },
        sources: sources
            .iter()
            .zip(end)
            .map(|(s, e)| Some(s.offset_json(*e)))
            .collect(),
    }
}

/// A setting of the checkpoint the query resumes from.
fn resume_conf(resume: &Resume, key: &str) -> Option<String> {
    let entry = match resume {
        Resume::Fresh => return None,
        Resume::Rerun { offsets, .. } => offsets,
        Resume::Next { last, .. } => last,
    };
    entry.metadata.conf.get(key).cloned()
}

/// What the loop of one query owns: its analyzed plan, its stateful operators, its watermark.
struct Run {
    analyzed: LogicalPlan,
    operators: Operators,
    tracker: WatermarkTracker,
}

impl spate_session::StreamingView for StreamingQuery {
    fn id(&self) -> String {
        self.id.clone()
    }

    fn run_id(&self) -> String {
        self.run_id.clone()
    }

    fn name(&self) -> Option<String> {
        self.name.clone()
    }

    fn started_ms(&self) -> i64 {
        self.started_ms
    }

    fn is_active(&self) -> bool {
        self.state().is_active()
    }

    fn failure(&self) -> Option<String> {
        self.failure().map(|f| match f.class {
            Some(class) => format!("[{class}] {}", f.message),
            None => f.message,
        })
    }

    fn recent_progress(&self) -> Vec<String> {
        StreamingQuery::recent_progress(self)
    }
}
