//! The console progress bar of `spate sql`, drawn as Spark's `ConsoleProgressBar` draws it on
//! standard error: once a query has run for [`FIRST_DELAY`], every [`INTERVAL`] one line of
//! `[Stage 3:=====>      (12 + 4) / 200]` per unfinished stage that has started (at most three,
//! sharing the terminal's width), rewritten in place and cleared when the query ends.

use std::io::Write;
use std::time::Duration;

use spate_exec::{Query, StageProgress};

/// How long a query runs before the bar appears (Spark: 500 ms).
pub const FIRST_DELAY: Duration = Duration::from_millis(500);
/// How often the bar is redrawn (Spark's `spark.ui.consoleProgress.update.interval`, 200 ms).
pub const INTERVAL: Duration = Duration::from_millis(200);
/// The line's width (Spark uses the terminal's `COLUMNS`, else 80).
pub const WIDTH: usize = 80;

/// The bar for `stages` in `width` columns; empty when no stage is under way.
pub fn line(stages: &[StageProgress], width: usize) -> String {
    let shown: Vec<&StageProgress> = stages
        .iter()
        .filter(|s| {
            s.num_tasks > 0 && s.completed < s.num_tasks && (s.running > 0 || s.completed > 0)
        })
        .take(3)
        .collect();
    if shown.is_empty() {
        return String::new();
    }
    let each = width / shown.len();
    shown
        .iter()
        .map(|s| {
            let header = format!("[Stage {}:", s.id);
            let tailer = format!("({} + {}) / {}]", s.completed, s.running, s.num_tasks);
            let w = each.saturating_sub(header.len() + tailer.len());
            let done = w * s.completed / s.num_tasks;
            let bar: String = (0..w)
                .map(|i| {
                    if i < done {
                        '='
                    } else if i == done {
                        '>'
                    } else {
                        ' '
                    }
                })
                .collect();
            format!("{header}{bar}{tailer}")
        })
        .collect()
}

/// Draws the bar of a running query until dropped.
#[derive(Debug)]
pub struct ConsoleProgress {
    task: tokio::task::JoinHandle<()>,
}

impl ConsoleProgress {
    /// Starts drawing the bar of `query` on standard error.
    pub fn start(query: Query) -> Self {
        let task = tokio::spawn(async move {
            tokio::time::sleep(FIRST_DELAY).await;
            let mut last = String::new();
            loop {
                let now = line(&query.progress(), WIDTH);
                if now != last {
                    let mut err = std::io::stderr().lock();
                    let _ = write!(err, "\r{now:<width$}", width = last.len().max(now.len()));
                    let _ = err.flush();
                    last = now;
                }
                tokio::time::sleep(INTERVAL).await;
            }
        });
        Self { task }
    }
}

impl Drop for ConsoleProgress {
    fn drop(&mut self) {
        self.task.abort();
        // clear the line, as Spark does when a job ends
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r{:WIDTH$}\r", "");
        let _ = err.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(id: usize, num_tasks: usize, completed: usize, running: usize) -> StageProgress {
        StageProgress {
            id,
            num_tasks,
            completed,
            running,
            input_bytes: 0,
        }
    }

    #[test]
    fn the_bar_reads_as_sparks() {
        // header 9, tailer 15, 56 columns of bar with 56 * 12 / 200 = 3 done
        let l = line(&[stage(3, 200, 12, 4)], 80);
        assert_eq!(l.len(), 80);
        assert!(l.starts_with("[Stage 3:===>   "), "{l}");
        assert!(l.ends_with(" (12 + 4) / 200]"), "{l}");
        // finished and pending stages are not shown; two stages share the width
        assert_eq!(line(&[stage(0, 2, 2, 0), stage(1, 2, 0, 0)], 80), "");
        let two = line(&[stage(0, 4, 1, 1), stage(1, 4, 2, 2)], 80);
        assert_eq!(two.len(), 80);
        assert_eq!(two.matches("[Stage").count(), 2);
    }
}
