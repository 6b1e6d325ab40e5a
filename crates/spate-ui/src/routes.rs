//! The axum router: Spark's page paths (`/jobs/`, `/stages/`, `/stages/stage/?id=`, `/SQL/`,
//! `/SQL/execution/?id=`, `/storage/`, `/environment/`, `/connect/`, `/StreamingQuery/[statistics/?id=]`,
//! and Spate's `/skew/`), the
//! REST API under `/api/v1`, and the stylesheet. On the history server, pages take the
//! application as `?app=ID` and `/` lists the applications; on a live UI `/` goes to the jobs.
//! Every handler takes one snapshot of the application and renders from it.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::Value;

use crate::html::{CSS, Links};
use crate::model::{App, Source};
use crate::{api, pages};

type Shared = Arc<dyn Source>;

/// The UI's routes over `source`.
pub fn router(source: Arc<dyn Source>) -> Router {
    Router::new()
        .route("/", get(root))
        .route("/jobs/", get(page_jobs))
        .route("/stages/", get(page_stages))
        .route("/stages/stage/", get(page_stage))
        .route("/SQL/", get(page_sql))
        .route("/SQL/execution/", get(page_query))
        .route("/skew/", get(page_skew))
        .route("/storage/", get(page_storage))
        .route("/environment/", get(page_environment))
        .route("/connect/", get(page_connect))
        .route("/StreamingQuery/", get(page_streaming))
        .route("/StreamingQuery/statistics/", get(page_streaming_query))
        .route("/static/spate.css", get(css))
        .route("/api/v1/applications", get(api_applications))
        .route("/api/v1/applications/{app}/{kind}", get(api_list))
        .route("/api/v1/applications/{app}/{kind}/{id}", get(api_one))
        .route(
            "/api/v1/applications/{app}/stages/{id}/{attempt}/taskSummary",
            get(api_task_summary),
        )
        .route("/api/v1/applications/{app}/storage/rdd", get(api_storage))
        .with_state(source)
}

/// A page's query parameters.
#[derive(Debug, Deserialize, Default)]
pub struct Params {
    /// The application (history server).
    pub app: Option<String>,
    /// The query or stage.
    pub id: Option<String>,
}

/// Why a request gets no page: a status with a message, or a redirect.
#[derive(Debug)]
enum Refusal {
    Status(StatusCode, String),
    Redirect(&'static str),
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::Status(code, text) => (code, text).into_response(),
            Refusal::Redirect(to) => Redirect::to(to).into_response(),
        }
    }
}

fn not_found(what: &str) -> Refusal {
    Refusal::Status(StatusCode::NOT_FOUND, format!("{what} not found\n"))
}

fn bad_request(what: String) -> Refusal {
    Refusal::Status(StatusCode::BAD_REQUEST, format!("{what}\n"))
}

/// The app a page is about, with its links.
fn app_of(source: &Shared, params: &Params) -> Result<(App, Links), Refusal> {
    match source.app(params.app.as_deref()) {
        Some(app) => Ok((app, Links::new(params.app.as_deref()))),
        None => Err(match &params.app {
            Some(id) => not_found(&format!("application '{id}'")),
            None if source.is_history() => Refusal::Redirect("/"),
            None => not_found("application"),
        }),
    }
}

async fn root(State(source): State<Shared>) -> Response {
    if source.is_history() {
        Html(pages::applications(&source.apps())).into_response()
    } else {
        Redirect::to("/jobs/").into_response()
    }
}

macro_rules! list_page {
    ($name:ident, $render:path) => {
        async fn $name(State(source): State<Shared>, Query(params): Query<Params>) -> Response {
            match app_of(&source, &params) {
                Ok((app, links)) => Html($render(&app, &links)).into_response(),
                Err(r) => r.into_response(),
            }
        }
    };
}

list_page!(page_jobs, pages::jobs);
list_page!(page_stages, pages::stages);
list_page!(page_sql, pages::queries);
list_page!(page_skew, pages::skew_page);
list_page!(page_storage, pages::storage);
list_page!(page_environment, pages::environment);
list_page!(page_connect, pages::connect);
list_page!(page_streaming, crate::streaming::queries);

/// A page about one thing of the app, named by `?id=`: `render` draws it, or it is not found.
fn detail_page(
    source: &Shared,
    params: &Params,
    what: &str,
    render: impl FnOnce(&App, &Links, &str) -> Result<Option<String>, Refusal>,
) -> Response {
    let (app, links) = match app_of(source, params) {
        Ok(a) => a,
        Err(r) => return r.into_response(),
    };
    let id = params.id.clone().unwrap_or_default();
    match render(&app, &links, &id) {
        Ok(Some(html)) => Html(html).into_response(),
        Ok(None) => not_found(&format!("{what} '{id}'")).into_response(),
        Err(r) => r.into_response(),
    }
}

fn numeric(id: &str) -> Result<u64, Refusal> {
    id.parse::<u64>()
        .map_err(|_| bad_request(format!("id '{id}' is not a number")))
}

async fn page_streaming_query(
    State(source): State<Shared>,
    Query(params): Query<Params>,
) -> Response {
    detail_page(&source, &params, "streaming query run", |app, links, id| {
        Ok(crate::streaming::statistics(app, links, id))
    })
}

async fn page_query(State(source): State<Shared>, Query(params): Query<Params>) -> Response {
    detail_page(&source, &params, "query", |app, links, id| {
        Ok(pages::query(app, links, numeric(id)?))
    })
}

async fn page_stage(State(source): State<Shared>, Query(params): Query<Params>) -> Response {
    detail_page(&source, &params, "stage", |app, links, id| {
        Ok(pages::stage(app, links, numeric(id)?))
    })
}

async fn css() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], CSS).into_response()
}

fn json(v: Value) -> Response {
    axum::Json(v).into_response()
}

async fn api_applications(State(source): State<Shared>) -> Response {
    json(Value::Array(
        source.apps().iter().map(api::application).collect(),
    ))
}

fn api_app(source: &Shared, id: &str) -> Result<App, Refusal> {
    source
        .app(Some(id))
        .ok_or_else(|| not_found(&format!("application '{id}'")))
}

async fn api_list(
    State(source): State<Shared>,
    Path((app, kind)): Path<(String, String)>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let app = match api_app(&source, &app) {
        Ok(a) => a,
        Err(r) => return r.into_response(),
    };
    let details = params.get("details").is_some_and(|d| d == "true");
    match kind.as_str() {
        "jobs" => json(Value::Array(
            app.queries.iter().rev().map(api::job).collect(),
        )),
        "stages" => json(Value::Array(
            app.queries
                .iter()
                .rev()
                .flat_map(|q| {
                    q.stages
                        .iter()
                        .rev()
                        .map(move |s| api::stage(q, s, details))
                })
                .collect(),
        )),
        "sql" => json(Value::Array(
            app.queries.iter().map(|q| api::sql(q, details)).collect(),
        )),
        "executors" | "allexecutors" => json(api::executors(&app)),
        "environment" => json(api::environment(&app)),
        "skew" => json(api::skew_findings(&app)),
        other => not_found(&format!("'{other}'")).into_response(),
    }
}

async fn api_one(
    State(source): State<Shared>,
    Path((app, kind, id)): Path<(String, String, String)>,
) -> Response {
    let app = match api_app(&source, &app) {
        Ok(a) => a,
        Err(r) => return r.into_response(),
    };
    let Ok(n) = id.parse::<u64>() else {
        return bad_request(format!("id '{id}' is not a number")).into_response();
    };
    match kind.as_str() {
        "jobs" => app
            .query(n)
            .map(|q| json(api::job(q)))
            .unwrap_or_else(|| not_found(&format!("job {n}")).into_response()),
        "sql" => app
            .query(n)
            .map(|q| json(api::sql(q, true)))
            .unwrap_or_else(|| not_found(&format!("execution {n}")).into_response()),
        "stages" => match app.stage(n) {
            Some((q, i)) => match q.stages.get(i) {
                Some(s) => json(Value::Array(vec![api::stage(q, s, true)])),
                None => not_found(&format!("stage {n}")).into_response(),
            },
            None => not_found(&format!("stage {n}")).into_response(),
        },
        other => not_found(&format!("'{other}/{id}'")).into_response(),
    }
}

async fn api_task_summary(
    State(source): State<Shared>,
    Path((app, id, attempt)): Path<(String, u64, u32)>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let app = match api_app(&source, &app) {
        Ok(a) => a,
        Err(r) => return r.into_response(),
    };
    let quantiles: Result<Vec<f64>, _> = params
        .get("quantiles")
        .map(String::as_str)
        .unwrap_or("0.05,0.25,0.5,0.75,0.95")
        .split(',')
        .map(|q| q.trim().parse::<f64>())
        .collect();
    let Ok(quantiles) = quantiles else {
        return bad_request("quantiles must be numbers between 0 and 1".into()).into_response();
    };
    if quantiles.iter().any(|q| !(0.0..=1.0).contains(q)) {
        return bad_request("quantiles must be numbers between 0 and 1".into()).into_response();
    }
    match app.stage(id) {
        Some((q, i)) if attempt == 0 => match q.stages.get(i) {
            Some(s) => json(api::task_summary(s, &quantiles)),
            None => not_found(&format!("stage {id}")).into_response(),
        },
        _ => not_found(&format!("stage {id} attempt {attempt}")).into_response(),
    }
}

async fn api_storage(State(source): State<Shared>, Path(app): Path<String>) -> Response {
    match api_app(&source, &app) {
        Ok(app) => json(api::storage(&app)),
        Err(r) => r.into_response(),
    }
}
