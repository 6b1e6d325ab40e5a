//! The `spate` binary: `serve` runs the Spark Connect server, `run` runs a PySpark script
//! against an in-process server on a free loopback port, and `sql` runs Spark SQL over local
//! files and warehouse tables. It only parses arguments and calls the library crates.

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
    },
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
            } => serve(&host, port, warehouse).await.map(|()| 0),
            Command::Run {
                script,
                args,
                warehouse,
            } => run(script, args, warehouse).await,
            Command::Sql {
                execute,
                file,
                warehouse,
            } => sql::main(execute, file, warehouse).await.map(|()| 0),
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

async fn serve(host: &str, port: u16, warehouse: PathBuf) -> anyhow::Result<()> {
    let addr: SocketAddr = format!("{host}:{port}")
        .parse()
        .with_context(|| format!("invalid address {host}:{port}"))?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    eprintln!(
        "spate: Spark Connect server listening on sc://{}",
        listener.local_addr()?
    );
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    spate_connect::server::serve_listener(listener, warehouse, shutdown).await?;
    Ok(())
}

async fn run(script: PathBuf, args: Vec<String>, warehouse: PathBuf) -> anyhow::Result<i32> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("cannot listen on loopback")?;
    let addr = listener.local_addr()?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(spate_connect::server::serve_listener(
        listener,
        warehouse,
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
    Ok(status.code().unwrap_or(1))
}
