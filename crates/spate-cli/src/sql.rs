//! `spate sql`: Spark SQL in a terminal. Statements run in one embedded session (the same
//! engine and catalog as the server) and print as an aligned table; with neither `-e` nor
//! `-f` it reads statements interactively.

use std::path::PathBuf;

use anyhow::Context;
use spark_sql_shell::Shell;

mod spark_sql_shell {
    //! The embedded session the shell runs statements in.
    use std::sync::Arc;

    use spark_connect_proto::spark::connect::Sql;
    use spate_exec::QueryScope;
    use spate_plan::Resolver;
    use spate_plan::sql::SqlOutcome;
    use spate_session::{ServerSettings, Session, SessionManager};

    /// One shell session.
    pub struct Shell {
        _manager: SessionManager,
        session: Arc<Session>,
        progress: bool,
    }

    impl Shell {
        /// A shell with the engine's `settings`.
        pub fn new(mut settings: ServerSettings) -> anyhow::Result<Self> {
            use std::io::IsTerminal;
            // no web UI in the shell: its queries need no key samplers
            settings.ui_enabled = false;
            let progress = settings
                .console_progress
                .unwrap_or_else(|| std::io::stderr().is_terminal());
            let manager = SessionManager::new(settings)?;
            let id = uuid::Uuid::new_v4().to_string();
            let session = manager.get_or_create(&id, "spate-sql", None)?;
            Ok(Self {
                _manager: manager,
                session,
                progress,
            })
        }

        /// Runs one statement and renders its result.
        pub async fn run(&self, text: &str) -> anyhow::Result<String> {
            let state = self.session.state(QueryScope {
                description: Some(text.to_string()),
                ..QueryScope::default()
            })?;
            let config = self.session.config();
            let resolver = Resolver::new(&state, self.session.catalog.as_ref(), &config);
            let req = Sql {
                query: text.to_string(),
                ..Default::default()
            };
            let plan = match resolver.sql(&req).await? {
                SqlOutcome::Query(p) | SqlOutcome::Done(p) => p,
            };
            let names: Vec<String> = plan
                .schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect();
            let bar = std::sync::Mutex::new(None);
            let stream = spate_exec::stream_watched(&state, &plan, "spate sql", |query| {
                if self.progress
                    && let Ok(mut bar) = bar.lock()
                {
                    *bar = Some(spate_ui::console::ConsoleProgress::start(query.clone()));
                }
            })
            .await?;
            let batches: Vec<_> = futures::TryStreamExt::try_collect(stream).await?;
            drop(bar);
            if names.is_empty() {
                return Ok(String::new());
            }
            Ok(spate_plan::display::show_string(
                &batches,
                &names,
                usize::MAX,
                0,
                false,
                &config.time_zone(),
            ))
        }
    }
}

/// Splits a script into statements on `;` outside quotes.
fn statements(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    for c in text.chars() {
        match (quote, c) {
            (Some(q), _) if c == q => {
                quote = None;
                current.push(c);
            }
            (None, '\'' | '"' | '`') => {
                quote = Some(c);
                current.push(c);
            }
            (None, ';') => out.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    out.push(current);
    out.into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

pub async fn main(
    execute: Option<String>,
    file: Option<PathBuf>,
    settings: spate_session::ServerSettings,
) -> anyhow::Result<()> {
    let shell = Shell::new(settings)?;
    let script = match (execute, file) {
        (Some(e), _) => Some(e),
        (None, Some(f)) => Some(
            std::fs::read_to_string(&f).with_context(|| format!("cannot read {}", f.display()))?,
        ),
        (None, None) => None,
    };
    if let Some(script) = script {
        for stmt in statements(&script) {
            print!("{}", shell.run(&stmt).await?);
        }
        return Ok(());
    }
    let mut editor = rustyline::DefaultEditor::new()?;
    let mut buffer = String::new();
    loop {
        let prompt = if buffer.is_empty() {
            "spate-sql> "
        } else {
            "         > "
        };
        match editor.readline(prompt) {
            Ok(line) => {
                buffer.push_str(&line);
                buffer.push('\n');
                if !line.trim_end().ends_with(';') {
                    continue;
                }
                let _ = editor.add_history_entry(buffer.trim());
                for stmt in statements(&buffer) {
                    match shell.run(&stmt).await {
                        Ok(out) => print!("{out}"),
                        Err(e) => eprintln!("error: {e:#}"),
                    }
                }
                buffer.clear();
            }
            Err(rustyline::error::ReadlineError::Interrupted) => buffer.clear(),
            Err(_) => return Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_statements_outside_quotes() {
        assert_eq!(
            statements("select 1; select ';'"),
            vec!["select 1", "select ';'"]
        );
    }
}
