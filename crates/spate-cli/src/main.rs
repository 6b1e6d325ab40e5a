//! The `spate` binary: `serve` runs the Spark Connect server, `run` runs a PySpark script
//! against an in-process server on a free loopback port, `sql` runs Spark SQL over local
//! files and warehouse tables, and `history` serves the web UI over event logs. `serve` and
//! `run` also serve the web UI (`spark.ui.port`) and write event logs when asked. It only
//! parses arguments and calls the library crates.

mod sql;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "spate",
    version,
    about = "Run Apache Spark pipelines on a Rust engine"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve Spark Connect (point PySpark at sc://HOST:PORT).
    Serve {
        /// Address to bind; loopback unless told otherwise.
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        /// Port to listen on.
        #[arg(long, default_value_t = 15002)]
        port: u16,
        /// Warehouse directory for persistent tables.
        #[arg(long, default_value = "spark-warehouse")]
        warehouse: PathBuf,
        #[command(flatten)]
        server: ServerFlags,
    },
    /// Run a PySpark script against an embedded engine.
    Run {
        /// The script.
        script: PathBuf,
        /// Arguments for the script.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
        /// Warehouse directory for persistent tables.
        #[arg(long, default_value = "spark-warehouse")]
        warehouse: PathBuf,
        #[command(flatten)]
        server: ServerFlags,
    },
    /// Run Spark SQL over local files and tables.
    Sql {
        /// A statement to run.
        #[arg(short = 'e', long)]
        execute: Option<String>,
        /// A file of statements separated by ';'.
        #[arg(short = 'f', long)]
        file: Option<PathBuf>,
        /// Warehouse directory for persistent tables.
        #[arg(long, default_value = "spark-warehouse")]
        warehouse: PathBuf,
        #[command(flatten)]
        server: ServerFlags,
    },
    /// Serve the web UI over the event logs of finished (or running) applications.
    History {
        /// The event log directory (spark.eventLog.dir).
        #[arg(default_value = "/tmp/spark-events")]
        dir: PathBuf,
        /// Address to bind; loopback unless told otherwise.
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        /// Port to listen on (spark.history.ui.port).
        #[arg(long, default_value_t = 18080)]
        port: u16,
    },
}

/// The engine's own settings (Spark's static configuration).
#[derive(clap::Args)]
struct ServerFlags {
    /// The most memory queries may use together (e.g. 4g); spilling starts there. Default: 60%
    /// of this machine's memory.
    #[arg(long, value_name = "SIZE")]
    memory_limit: Option<String>,
    /// Directory for spill files (spark.local.dir). Default: the system's temporary directory.
    #[arg(long, value_name = "DIR")]
    local_dir: Option<PathBuf>,
    /// A server setting with Spark's key, e.g.
    /// `--conf spark.connect.session.manager.defaultSessionTimeout=30m` (repeatable).
    #[arg(long = "conf", value_name = "KEY=VALUE")]
    conf: Vec<String>,
}

impl ServerFlags {
    fn settings(&self, warehouse: PathBuf) -> anyhow::Result<spate_session::ServerSettings> {
        let mut settings = spate_session::ServerSettings::new(warehouse);
        for pair in &self.conf {
            let (key, value) = pair
                .split_once('=')
                .with_context(|| format!("--conf '{pair}' is not KEY=VALUE"))?;
            settings.set(key.trim(), value.trim())?;
        }
        if let Some(limit) = &self.memory_limit {
            settings.set(spate_exec::memory::LIMIT_KEY, limit)?;
        }
        if let Some(dir) = &self.local_dir {
            settings.memory.spill_dir = Some(dir.clone());
        }
        Ok(settings)
    }
}

/// Stack per runtime thread (reserved, touched only as deep plans need it).
const STACK_SIZE: usize = 32 * 1024 * 1024;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SPATE_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    // Plans are trees walked recursively (resolution, DataFusion's optimizer): a long chain of
    // DataFrame calls needs more than the default 2 MiB of stack per worker thread.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(STACK_SIZE)
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("spate: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve {
                host,
                port,
                warehouse,
                server,
            } => match server.settings(warehouse) {
                Ok(settings) => serve(&host, port, settings).await.map(|()| 0),
                Err(e) => Err(e),
            },
            Command::Run {
                script,
                args,
                warehouse,
                server,
            } => match server.settings(warehouse) {
                Ok(settings) => run(script, args, settings).await,
                Err(e) => Err(e),
            },
            Command::Sql {
                execute,
                file,
                warehouse,
                server,
            } => match server.settings(warehouse) {
                Ok(settings) => sql::main(execute, file, settings).await.map(|()| 0),
                Err(e) => Err(e),
            },
            Command::History { dir, host, port } => history(dir, &host, port).await.map(|()| 0),
        }
    });
    match result {
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(e) => {
            eprintln!("spate: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM.
async fn terminated() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(t) => t,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

async fn serve(
    host: &str,
    port: u16,
    settings: spate_session::ServerSettings,
) -> anyhow::Result<()> {
    let addr: SocketAddr = format!("{host}:{port}")
        .parse()
        .with_context(|| format!("invalid address {host}:{port}"))?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let sessions = std::sync::Arc::new(spate_session::SessionManager::new(settings)?);
    let monitor = spate_ui::Monitor::start(&sessions, host).await?;
    eprintln!(
        "spate: Spark Connect server listening on sc://{} (memory limit {})",
        listener.local_addr()?,
        spate_exec::memory::human_bytes(sessions.runner().memory_limit())
    );
    announce(&monitor);
    let served = spate_connect::server::serve_listener(listener, sessions, terminated()).await;
    monitor.finish();
    served?;
    Ok(())
}

/// Prints where the UI and the event log are.
fn announce(monitor: &spate_ui::Monitor) {
    if let Some(ui) = &monitor.ui {
        eprintln!("spate: web UI at {}", ui.url());
    }
    if let Some(log) = &monitor.event_log {
        eprintln!("spate: event log {}", log.path().display());
    }
}

async fn history(dir: PathBuf, host: &str, port: u16) -> anyhow::Result<()> {
    let source = std::sync::Arc::new(spate_ui::HistorySource::new(dir.clone()));
    let ui = spate_ui::start(source, host, port, 0).await?;
    eprintln!(
        "spate: history server for {} at {}",
        dir.display(),
        ui.url()
    );
    terminated().await;
    Ok(())
}

async fn run(
    script: PathBuf,
    args: Vec<String>,
    settings: spate_session::ServerSettings,
) -> anyhow::Result<i32> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("cannot listen on loopback")?;
    let addr = listener.local_addr()?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let sessions = std::sync::Arc::new(spate_session::SessionManager::new(settings)?);
    let monitor = spate_ui::Monitor::start(&sessions, "127.0.0.1").await?;
    announce(&monitor);
    let server = tokio::spawn(spate_connect::server::serve_listener(
        listener,
        sessions,
        async {
            let _ = stop_rx.await;
        },
    ));
    let python = std::env::var("SPATE_PYTHON").unwrap_or_else(|_| "python3".into());
    let status = tokio::process::Command::new(&python)
        .arg(&script)
        .args(&args)
        .env("SPARK_REMOTE", format!("sc://{addr}"))
        .status()
        .await
        .with_context(|| format!("cannot start '{python}' for {}", script.display()))?;
    let _ = stop_tx.send(());
    let _ = server.await;
    monitor.finish();
    Ok(status.code().unwrap_or(1))
}
