//! Event logs and the history server's source.
//!
//! With `spark.eventLog.enabled`, a server writes one file per application under
//! `spark.eventLog.dir`, named after the application id with Spark's `.inprogress` suffix
//! until the application ends (then renamed without it). The file is JSON lines: an
//! `ApplicationStart` event (the application and its settings), one `QueryEnd` event per
//! finished query (the whole query record: plan, operators with metrics, stages, tasks, hot
//! keys) and an `ApplicationEnd`. A writer thread does the writing, so a query's end costs a
//! channel send; each event is flushed as written, so an application killed mid-way leaves a
//! readable log of what finished.
//!
//! [`HistorySource`] reads the logs of a directory back as applications for `spate history`:
//! the same pages and API as the live UI. Unreadable lines (a log cut off by a crash) are
//! skipped; files are re-read when they change.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use spate_exec::{QueryListener, QueryRecord};

use crate::model::{App, AppSummary, Source};
use crate::{Error, Result};

/// Spark's suffix of a log still being written.
pub const IN_PROGRESS: &str = ".inprogress";

/// One line of an event log.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "Event")]
enum Event {
    ApplicationStart {
        app: AppSummary,
        environment: Vec<(String, String)>,
    },
    QueryEnd {
        record: Box<QueryRecord>,
    },
    ApplicationEnd {
        timestamp: i64,
    },
}

enum Message {
    Event(Event),
    Close,
}

/// Writes one application's event log.
pub struct EventLog {
    tx: Mutex<Option<Sender<Message>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    path: PathBuf,
}

impl std::fmt::Debug for EventLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventLog")
            .field("path", &self.path)
            .finish()
    }
}

impl EventLog {
    /// Starts the log of `app` under `dir` (created if missing).
    pub fn start(dir: &Path, app: &AppSummary, environment: Vec<(String, String)>) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| Error::EventLog {
            path: dir.to_path_buf(),
            source: e,
        })?;
        let path = dir.join(&app.id);
        let live = in_progress(&path);
        let file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(&live)
            .map_err(|e| Error::EventLog {
                path: live.clone(),
                source: e,
            })?;
        let (tx, rx) = channel();
        let writer = std::thread::Builder::new()
            .name("spate-event-log".into())
            .spawn(move || write_events(BufWriter::new(file), rx, &live))
            .map_err(|e| Error::EventLog {
                path: path.clone(),
                source: e,
            })?;
        let log = Self {
            tx: Mutex::new(Some(tx)),
            writer: Mutex::new(Some(writer)),
            path,
        };
        log.send(Event::ApplicationStart {
            app: app.clone(),
            environment,
        });
        Ok(log)
    }

    /// The log's final path (while running, with [`IN_PROGRESS`] appended).
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn send(&self, event: Event) {
        if let Ok(tx) = self.tx.lock()
            && let Some(tx) = tx.as_ref()
        {
            let _ = tx.send(Message::Event(event));
        }
    }

    /// Ends the application: writes `ApplicationEnd`, closes the file and drops the
    /// `.inprogress` suffix. Later calls do nothing.
    pub fn finish(&self) {
        self.send(Event::ApplicationEnd {
            timestamp: spate_exec::records::now_ms(),
        });
        if let Ok(mut tx) = self.tx.lock()
            && let Some(tx) = tx.take()
        {
            let _ = tx.send(Message::Close);
        }
        let writer = self.writer.lock().ok().and_then(|mut w| w.take());
        if let Some(w) = writer {
            let _ = w.join();
            if let Err(e) = std::fs::rename(in_progress(&self.path), &self.path) {
                tracing::warn!("cannot finish the event log {}: {e}", self.path.display());
            }
        }
    }
}

impl QueryListener for EventLog {
    fn on_start(&self, _record: &QueryRecord) {}

    fn on_end(&self, record: &QueryRecord) {
        self.send(Event::QueryEnd {
            record: Box::new(record.clone()),
        });
    }
}

fn in_progress(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(IN_PROGRESS);
    PathBuf::from(s)
}

fn write_events(mut out: BufWriter<File>, rx: Receiver<Message>, path: &Path) {
    let mut failed = false;
    while let Ok(Message::Event(event)) = rx.recv() {
        let result = serde_json::to_writer(&mut out, &event)
            .map_err(std::io::Error::other)
            .and_then(|()| out.write_all(b"\n"))
            .and_then(|()| out.flush());
        if let Err(e) = result
            && !failed
        {
            failed = true;
            tracing::warn!("cannot write the event log {}: {e}", path.display());
        }
    }
}

/// Reads one log file back as an application.
pub fn read_log(path: &Path) -> Result<App> {
    let file = File::open(path).map_err(|e| Error::EventLog {
        path: path.to_path_buf(),
        source: e,
    })?;
    let mut app = App {
        history: true,
        ..App::default()
    };
    let mut started = false;
    for line in BufReader::new(file).lines() {
        let Ok(line) = line else { break };
        match serde_json::from_str::<Event>(&line) {
            Ok(Event::ApplicationStart {
                app: summary,
                environment,
            }) => {
                app.summary = summary;
                app.environment = environment;
                started = true;
            }
            Ok(Event::QueryEnd { record }) => app.queries.push(*record),
            Ok(Event::ApplicationEnd { timestamp }) => app.summary.ended_ms = Some(timestamp),
            Err(e) => tracing::debug!("skipping a line of {}: {e}", path.display()),
        }
    }
    if !started {
        return Err(Error::NotAnEventLog(path.to_path_buf()));
    }
    app.queries.sort_by_key(|q| q.id);
    Ok(app)
}

type Cached = (SystemTime, u64, Arc<App>);

/// The applications whose event logs are in a directory.
pub struct HistorySource {
    dir: PathBuf,
    cache: Mutex<HashMap<PathBuf, Cached>>,
}

impl HistorySource {
    /// The logs under `dir`.
    pub fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            cache: Mutex::default(),
        }
    }

    fn load(&self) -> Vec<Arc<App>> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        let mut apps = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            let hidden = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_none_or(|n| n.starts_with('.'));
            let Ok(meta) = entry.metadata() else { continue };
            if hidden || !meta.is_file() {
                continue;
            }
            let stamp = (
                meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                meta.len(),
            );
            if let Some((t, n, app)) = cache.get(&path)
                && (*t, *n) == stamp
            {
                apps.push(Arc::clone(app));
                continue;
            }
            match read_log(&path) {
                Ok(app) => {
                    let app = Arc::new(app);
                    cache.insert(path, (stamp.0, stamp.1, Arc::clone(&app)));
                    apps.push(app);
                }
                Err(e) => tracing::debug!("{e}"),
            }
        }
        apps.sort_by_key(|a| std::cmp::Reverse(a.summary.started_ms));
        apps
    }
}

impl Source for HistorySource {
    fn apps(&self) -> Vec<AppSummary> {
        self.load().iter().map(|a| a.summary.clone()).collect()
    }

    fn app(&self, id: Option<&str>) -> Option<App> {
        let apps = self.load();
        match id {
            Some(id) => apps.iter().find(|a| a.summary.id == id),
            None if apps.len() == 1 => apps.first(),
            None => None,
        }
        .map(|a| (**a).clone())
    }

    fn is_history(&self) -> bool {
        true
    }
}
