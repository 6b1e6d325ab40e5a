//! The UI's routes and API driven with `tower`'s `oneshot` over a real server's records: real
//! queries run through a real session manager (its one query runner), then every page and
//! endpoint is asked for, and what it says is checked against what the test knows of the data.

mod history;
mod routes;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use spate_exec::QueryScope;
use spate_session::{ServerSettings, SessionManager};
use spate_ui::{AppSummary, LiveSource, Source};
use tower::ServiceExt;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Rows of the hot-key join's large side, and the share of them with the hot key (0).
pub const ROWS: i64 = 120_000;

fn settings() -> ServerSettings {
    let dir = std::env::temp_dir().join(format!("spate-ui-it-{}", uuid()));
    let mut s = ServerSettings::new(dir.join("warehouse"));
    s.memory.spill_dir = Some(dir.join("spill"));
    s
}

fn uuid() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    )
}

/// A session id Spark accepts.
fn session_id(n: u8) -> String {
    format!("00000000-0000-4000-8000-0000000000{n:02}")
}

/// A server whose one session ran: a hot-key shuffle join (3 in 4 rows of the large side
/// carry key 0), a small aggregation, and a failing query.
async fn server_with_queries() -> Result<Arc<SessionManager>, Box<dyn std::error::Error>> {
    let manager = Arc::new(SessionManager::new(settings())?);
    let session = manager.get_or_create(&session_id(1), "alice", None)?;
    let state = session.state(QueryScope::default())?;
    let mut config = state.config().clone();
    // a shuffle join over 8 partitions, never a broadcast, and the plain hash join: Spate's
    // skew join (on by default, as Spark's adaptive skew join) would spread the hot key
    config.options_mut().execution.target_partitions = 8;
    config.options_mut().set("spate.skew_join", "false")?;
    config
        .options_mut()
        .optimizer
        .hash_join_single_partition_threshold = 0;
    config
        .options_mut()
        .optimizer
        .hash_join_single_partition_threshold_rows = 0;
    let state = datafusion::execution::SessionStateBuilder::new_from_existing(state)
        .with_config(config)
        .build();
    let ctx = datafusion::prelude::SessionContext::new_with_state(state.clone());
    let run = |sql: String| {
        let ctx = ctx.clone();
        let state = state.clone();
        async move {
            let plan = ctx.state().create_logical_plan(&sql).await?;
            spate_exec::collect(&state, &plan, "collect")
                .await
                .map_err(|e| Box::new(e) as Box<dyn std::error::Error>)
        }
    };
    let join = format!(
        "SELECT count(*) AS n FROM \
         (SELECT CASE WHEN value % 4 = 0 THEN value ELSE 0 END AS k FROM generate_series(1, {ROWS})) a \
         JOIN (SELECT value AS k FROM generate_series(0, {ROWS})) b ON a.k = b.k"
    );
    let joined = run(join).await?;
    let n = joined
        .first()
        .and_then(|b| {
            b.column(0)
                .as_any()
                .downcast_ref::<datafusion::arrow::array::Int64Array>()
        })
        .map(|a| a.value(0));
    // every row of the large side finds its one match
    assert_eq!(n, Some(ROWS));
    run("SELECT value % 3 AS g, sum(value) FROM generate_series(1, 30) GROUP BY 1".into()).await?;
    assert!(
        run("SELECT 1 / (value - value) FROM generate_series(1, 3)".into())
            .await
            .is_err()
    );
    Ok(manager)
}

fn live(manager: &Arc<SessionManager>) -> Arc<dyn Source> {
    Arc::new(LiveSource::new(
        Arc::clone(manager),
        AppSummary {
            id: "local-1".into(),
            name: "ui-test".into(),
            user: "alice".into(),
            started_ms: 0,
            ended_ms: None,
        },
    ))
}

/// GETs `uri` from the UI over `source`: status and body.
async fn get(
    source: &Arc<dyn Source>,
    uri: &str,
) -> Result<(StatusCode, String), Box<dyn std::error::Error>> {
    let response = spate_ui::router(Arc::clone(source))
        .oneshot(Request::builder().uri(uri).body(Body::empty())?)
        .await?;
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 64 << 20).await?;
    Ok((status, String::from_utf8(bytes.to_vec())?))
}

/// GETs `uri` and parses JSON.
async fn get_json(
    source: &Arc<dyn Source>,
    uri: &str,
) -> Result<serde_json::Value, Box<dyn std::error::Error>> {
    let (status, body) = get(source, uri).await?;
    assert_eq!(status, StatusCode::OK, "{uri}: {body}");
    Ok(serde_json::from_str(&body)?)
}
