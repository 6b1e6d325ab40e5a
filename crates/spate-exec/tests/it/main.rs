//! Integration tests of the query runner: real DataFusion plans run through it, under real
//! memory limits, with the records checked against what the plans must have done.

mod memory;
mod ordered;
mod runner;

use std::sync::Arc;

use datafusion::execution::SessionStateBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};
use spate_exec::{MemoryConfig, QueryRunner, QueryScope};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// A context whose queries run through `runner`, with `partitions` target partitions.
fn context(runner: &Arc<QueryRunner>, partitions: usize) -> SessionContext {
    let mut config = SessionConfig::new().with_target_partitions(partitions);
    spate_exec::attach(
        &mut config,
        runner,
        QueryScope {
            session_id: "test-session".into(),
            ..QueryScope::default()
        },
    );
    let state = SessionStateBuilder::new()
        .with_config(config)
        .with_runtime_env(Arc::clone(runner.runtime()))
        .with_default_features()
        .build();
    SessionContext::new_with_state(state)
}

fn runner(limit: usize, retained: usize) -> Result<Arc<QueryRunner>, spate_common::Error> {
    QueryRunner::new(
        MemoryConfig {
            limit,
            spill_dir: None,
        },
        retained,
    )
}
