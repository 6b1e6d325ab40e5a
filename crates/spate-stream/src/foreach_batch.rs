//! `foreachBatch`: the user's Python function called with each micro-batch, run as Spark
//! Connect runs it — by PySpark's own worker module
//! (`pyspark.sql.connect.streaming.worker.foreach_batch_worker`, shipped in pyspark-client),
//! started with the client's Python when the query starts and stopped when it ends.
//!
//! The worker connects to a Unix socket we listen on (`PYTHON_WORKER_FACTORY_SOCK_PATH`) and
//! sends its pid; we send PySpark's framed handshake — the client's Python version, the session
//! id, the pickled function — and it answers 0 (ready) or -2 and a traceback. It then connects
//! back to this server as a Spark Connect client in the same session
//! (`SPARK_CONNECT_LOCAL_URL`). Per batch we register the batch's rows as a temporary view,
//! send the view's relation id and the batch id, and wait for 0 or -2 and the traceback, which
//! fails the query with Spark's FOREACH_BATCH_USER_FUNCTION_ERROR. Every integer is
//! big-endian, every string a 4-byte length then UTF-8, as PySpark's serializers frame them.

use std::path::PathBuf;
use std::time::Duration;

use spate_common::{Error, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::process::{Child, Command};
use tokio::sync::Mutex;

/// The worker module PySpark ships.
pub const WORKER_MODULE: &str = "pyspark.sql.connect.streaming.worker.foreach_batch_worker";

/// How the worker module is run: as `python -m` would, but with the main module's `__file__`
/// set first — pyspark's import-time check takes a main module without one for a doctest run
/// and then needs a Spark installation (Spark itself sets SPARK_HOME for its workers).
const BOOTSTRAP: &str = "import runpy, sys; sys.modules['__main__'].__file__ = 'spate-foreach-batch'; runpy.run_module(sys.argv[1], run_name='__main__', alter_sys=True)";

/// PySpark's `SpecialLengths.PYTHON_EXCEPTION_THROWN`.
const PYTHON_EXCEPTION_THROWN: i32 = -2;

/// How long a starting worker may take to connect and load the function.
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// The user's function, as the client sent it.
#[derive(Debug, Clone)]
pub struct PythonFunction {
    /// The pickled function (PySpark's command).
    pub command: Vec<u8>,
    /// The client's Python version (`3.11`); the worker checks it is its own.
    pub python_ver: String,
}

struct Worker {
    child: Child,
    stream: UnixStream,
    socket: PathBuf,
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        let _ = std::fs::remove_file(&self.socket);
    }
}

/// A query's foreachBatch function and its worker.
pub struct ForeachBatch {
    function: PythonFunction,
    worker: Mutex<Option<Worker>>,
}

impl std::fmt::Debug for ForeachBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ForeachBatch")
            .field("python_ver", &self.function.python_ver)
            .finish()
    }
}

fn io(what: &str) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::IllegalArgument(format!("the foreachBatch worker: cannot {what}: {e}"))
}

/// The Python that runs the worker: `PYSPARK_PYTHON`, else `SPATE_PYTHON`, else `python3`.
pub fn python() -> String {
    std::env::var("PYSPARK_PYTHON")
        .or_else(|_| std::env::var("SPATE_PYTHON"))
        .unwrap_or_else(|_| "python3".into())
}

/// Spark's error for a function that raised.
fn user_error(traceback: &str) -> Error {
    Error::Runtime {
        exception: "org.apache.spark.api.python.PythonException",
        class: "FOREACH_BATCH_USER_FUNCTION_ERROR".into(),
        message: format!(
            "An error occurred in the user provided function in foreach batch sink. Reason: {}",
            traceback.trim_end()
        ),
    }
}

async fn write_string(stream: &mut UnixStream, s: &str) -> Result<()> {
    let len = i32::try_from(s.len())
        .map_err(|_| Error::IllegalArgument("a string too long for the worker".into()))?;
    stream.write_i32(len).await.map_err(io("write"))?;
    stream.write_all(s.as_bytes()).await.map_err(io("write"))
}

/// Reads the worker's answer: 0, or -2 and a traceback.
async fn read_answer(stream: &mut UnixStream) -> Result<()> {
    let code = stream.read_i32().await.map_err(io("read its answer"))?;
    match code {
        0 => Ok(()),
        PYTHON_EXCEPTION_THROWN => {
            let len = stream.read_i32().await.map_err(io("read its error"))?;
            let mut buf = vec![0u8; usize::try_from(len).unwrap_or(0)];
            stream
                .read_exact(&mut buf)
                .await
                .map_err(io("read its error"))?;
            Err(user_error(&String::from_utf8_lossy(&buf)))
        }
        other => Err(Error::IllegalArgument(format!(
            "the foreachBatch worker answered {other}, not 0 or -2"
        ))),
    }
}

impl ForeachBatch {
    /// The function, its worker not started yet.
    pub fn new(function: PythonFunction) -> Self {
        Self {
            function,
            worker: Mutex::new(None),
        }
    }

    async fn start(&self, session_id: &str, connect_url: &str) -> Result<Worker> {
        let socket = std::env::temp_dir().join(format!(
            "spate-foreach-batch-{}.sock",
            uuid::Uuid::new_v4().simple()
        ));
        let listener = UnixListener::bind(&socket).map_err(io("listen on a socket"))?;
        let python = python();
        let mut child = Command::new(&python)
            .args(["-c", BOOTSTRAP, WORKER_MODULE])
            .env("PYTHON_WORKER_FACTORY_SOCK_PATH", &socket)
            .env_remove("PYTHON_WORKER_FACTORY_SECRET")
            .env("SPARK_CONNECT_LOCAL_URL", connect_url)
            .env("PYTHONUNBUFFERED", "1")
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                Error::IllegalArgument(format!(
                    "cannot start '{python}' for foreachBatch (set PYSPARK_PYTHON to a Python with pyspark-client): {e}"
                ))
            })?;
        let accepted = tokio::select! {
            a = tokio::time::timeout(START_TIMEOUT, listener.accept()) => a,
            status = child.wait() => {
                let _ = std::fs::remove_file(&socket);
                return Err(Error::IllegalArgument(format!(
                    "the foreachBatch worker ('{python} -m {WORKER_MODULE}') exited before it connected: {}",
                    status.map(|s| s.to_string()).unwrap_or_else(|e| e.to_string())
                )));
            }
        };
        let (mut stream, _) = accepted
            .map_err(|_| Error::IllegalArgument("the foreachBatch worker did not connect".into()))?
            .map_err(io("accept it"))?;
        let mut worker = Worker {
            child: {
                // the pid it sends first is its own; the child handle already has it
                let _pid = stream.read_i32().await.map_err(io("read its pid"))?;
                child
            },
            stream,
            socket,
        };
        let stream = &mut worker.stream;
        write_string(stream, &self.function.python_ver).await?;
        write_string(stream, session_id).await?;
        let len = i32::try_from(self.function.command.len())
            .map_err(|_| Error::IllegalArgument("a foreachBatch function too large".into()))?;
        stream.write_i32(len).await.map_err(io("write"))?;
        stream
            .write_all(&self.function.command)
            .await
            .map_err(io("write"))?;
        stream.flush().await.map_err(io("write"))?;
        tokio::time::timeout(START_TIMEOUT, read_answer(stream))
            .await
            .map_err(|_| {
                Error::IllegalArgument("the foreachBatch worker did not start".into())
            })??;
        Ok(worker)
    }

    /// Calls the function with the batch registered as relation `relation_id`, batch
    /// `batch_id`; starts the worker on the first call.
    pub async fn call(
        &self,
        session_id: &str,
        connect_url: &str,
        relation_id: &str,
        batch_id: u64,
    ) -> Result<()> {
        let mut guard = self.worker.lock().await;
        let worker = match guard.as_mut() {
            Some(w) => w,
            None => guard.insert(self.start(session_id, connect_url).await?),
        };
        let stream = &mut worker.stream;
        let outcome = async {
            write_string(stream, relation_id).await?;
            stream
                .write_i64(i64::try_from(batch_id).unwrap_or(i64::MAX))
                .await
                .map_err(io("write"))?;
            stream.flush().await.map_err(io("write"))?;
            read_answer(stream).await
        }
        .await;
        if outcome.is_err() {
            // the worker ends after an error (PySpark's loop exits): start afresh next time
            *guard = None;
        }
        outcome
    }
}
