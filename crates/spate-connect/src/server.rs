//! The gRPC front door: a tower service that routes `/spark.connect.SparkConnectService/<Method>`
//! to one handler per method through tonic's generic server and [`SparkCodec`] (prost under
//! Spark's size and depth limits). Handlers only parse, dispatch and map errors; the work
//! happens in the modules they call. At shutdown every session is closed, which cancels its
//! running operations.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll};

use spark_connect_proto::spark::connect::{
    AddArtifactsRequest, AddArtifactsResponse, AnalyzePlanRequest, AnalyzePlanResponse,
    ArtifactStatusesRequest, ArtifactStatusesResponse, ConfigRequest, ConfigResponse,
    ExecutePlanRequest, ExecutePlanResponse, FetchErrorDetailsRequest, FetchErrorDetailsResponse,
    InterruptRequest, InterruptResponse, ReattachExecuteRequest, ReleaseExecuteRequest,
    ReleaseExecuteResponse, ReleaseSessionRequest, ReleaseSessionResponse, UserContext,
};
use spate_common::Error;
use spate_session::{ServerSettings, Session, SessionManager};
use tonic::body::Body;
use tonic::codegen::{BoxFuture, Service, http};
use tonic::server::{ClientStreamingService, NamedService, ServerStreamingService, UnaryService};
use tonic::{Request, Response, Status, Streaming as RequestStream};

use crate::codec::SparkCodec;
use crate::error::to_status;
use crate::execute::ResponseStream;
use crate::{analyze, artifacts, config, execute};

/// The Spark Connect service.
#[derive(Clone)]
pub struct SparkConnectService {
    sessions: Arc<SessionManager>,
}

impl SparkConnectService {
    /// A service over a session manager.
    pub fn new(sessions: Arc<SessionManager>) -> Self {
        Self { sessions }
    }

    /// The session manager.
    pub fn sessions(&self) -> &Arc<SessionManager> {
        &self.sessions
    }
}

impl NamedService for SparkConnectService {
    const NAME: &'static str = "spark.connect.SparkConnectService";
}

struct Unary<F>(F);

impl<Req, Resp, F, Fut> UnaryService<Req> for Unary<F>
where
    F: FnMut(Req) -> Fut,
    Fut: Future<Output = Result<Resp, Error>> + Send + 'static,
    Resp: Send + 'static,
{
    type Response = Resp;
    type Future = BoxFuture<Response<Resp>, Status>;

    fn call(&mut self, request: Request<Req>) -> Self::Future {
        let fut = (self.0)(request.into_inner());
        Box::pin(async move { fut.await.map(Response::new).map_err(|e| to_status(&e)) })
    }
}

/// ExecutePlan and ReattachExecute: a request that starts (or resumes) a stream of responses.
/// (Named services rather than closures: the compiler cannot prove a generic closure's boxed
/// future `Send` here.)
struct Streaming<Req> {
    sessions: Arc<SessionManager>,
    start: fn(&SessionManager, Req) -> Result<ResponseStream, Error>,
}

impl<Req> ServerStreamingService<Req> for Streaming<Req> {
    type Response = ExecutePlanResponse;
    type ResponseStream = ResponseStream;
    type Future = BoxFuture<Response<Self::ResponseStream>, Status>;

    fn call(&mut self, request: Request<Req>) -> Self::Future {
        // Errors travel inside the stream, as Spark sends them after the headers.
        let stream = match (self.start)(&self.sessions, request.into_inner()) {
            Ok(s) => s,
            Err(e) => ResponseStream::failed(to_status(&e)),
        };
        Box::pin(async move { Ok(Response::new(stream)) })
    }
}

struct ClientStreaming<F>(F);

impl<Req, Resp, F, Fut> ClientStreamingService<Req> for ClientStreaming<F>
where
    F: FnMut(RequestStream<Req>) -> Fut,
    Fut: Future<Output = Result<Resp, Error>> + Send + 'static,
    Resp: Send + 'static,
{
    type Response = Resp;
    type Future = BoxFuture<Response<Resp>, Status>;

    fn call(&mut self, request: Request<RequestStream<Req>>) -> Self::Future {
        let fut = (self.0)(request.into_inner());
        Box::pin(async move { fut.await.map(Response::new).map_err(|e| to_status(&e)) })
    }
}

/// The session a unary request names (created on first use).
fn session_of(
    sessions: &SessionManager,
    id: &str,
    user: Option<UserContext>,
    observed: Option<&str>,
) -> Result<Arc<Session>, Error> {
    let user = user.map(|u| u.user_id).unwrap_or_default();
    sessions.get_or_create(id, &user, observed)
}

impl<B> Service<http::Request<B>> for SparkConnectService
where
    B: tonic::codegen::Body + Send + 'static,
    B::Error: Into<tonic::codegen::StdError> + Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let sessions = Arc::clone(&self.sessions);
        let limit = self.sessions.settings().max_inbound_message_size;
        let depth = self.sessions.settings().recursion_limit;
        let method = req
            .uri()
            .path()
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_string();
        macro_rules! server {
            ($req:ty, $resp:ty) => {
                tonic::server::Grpc::new(SparkCodec::<$resp, $req>::new(depth))
                    .max_decoding_message_size(limit)
                    .max_encoding_message_size(usize::MAX)
            };
        }
        match method.as_str() {
            "ExecutePlan" => Box::pin(async move {
                let svc = Streaming {
                    sessions,
                    start: execute::execute,
                };
                Ok(server!(ExecutePlanRequest, ExecutePlanResponse)
                    .server_streaming(svc, req)
                    .await)
            }),
            "ReattachExecute" => Box::pin(async move {
                let svc = Streaming {
                    sessions,
                    start: execute::reattach,
                };
                Ok(server!(ReattachExecuteRequest, ExecutePlanResponse)
                    .server_streaming(svc, req)
                    .await)
            }),
            "AnalyzePlan" => Box::pin(async move {
                let svc = Unary(move |r: AnalyzePlanRequest| {
                    let sessions = Arc::clone(&sessions);
                    async move {
                        let session = session_of(
                            &sessions,
                            &r.session_id,
                            r.user_context.clone(),
                            r.client_observed_server_side_session_id.as_deref(),
                        )?;
                        analyze::handle(&session, r).await
                    }
                });
                Ok(server!(AnalyzePlanRequest, AnalyzePlanResponse)
                    .unary(svc, req)
                    .await)
            }),
            "Config" => Box::pin(async move {
                let svc = Unary(move |r: ConfigRequest| {
                    let sessions = Arc::clone(&sessions);
                    async move {
                        let session = session_of(
                            &sessions,
                            &r.session_id,
                            r.user_context.clone(),
                            r.client_observed_server_side_session_id.as_deref(),
                        )?;
                        config::handle(&session, r)
                    }
                });
                Ok(server!(ConfigRequest, ConfigResponse).unary(svc, req).await)
            }),
            "Interrupt" => Box::pin(async move {
                let svc = Unary(move |r: InterruptRequest| {
                    let sessions = Arc::clone(&sessions);
                    async move {
                        let session = session_of(
                            &sessions,
                            &r.session_id,
                            r.user_context.clone(),
                            r.client_observed_server_side_session_id.as_deref(),
                        )?;
                        let ids = execute::interrupt(&session, &r);
                        Ok(InterruptResponse {
                            session_id: session.id.clone(),
                            server_side_session_id: session.server_side_id.clone(),
                            interrupted_ids: ids,
                        })
                    }
                });
                Ok(server!(InterruptRequest, InterruptResponse)
                    .unary(svc, req)
                    .await)
            }),
            "ReleaseExecute" => Box::pin(async move {
                let svc = Unary(move |r: ReleaseExecuteRequest| {
                    let sessions = Arc::clone(&sessions);
                    async move {
                        let session = session_of(
                            &sessions,
                            &r.session_id,
                            r.user_context.clone(),
                            r.client_observed_server_side_session_id.as_deref(),
                        )?;
                        execute::release(&session, &r);
                        Ok(ReleaseExecuteResponse {
                            session_id: session.id.clone(),
                            server_side_session_id: session.server_side_id.clone(),
                            operation_id: Some(r.operation_id),
                        })
                    }
                });
                Ok(server!(ReleaseExecuteRequest, ReleaseExecuteResponse)
                    .unary(svc, req)
                    .await)
            }),
            "ReleaseSession" => Box::pin(async move {
                let svc = Unary(move |r: ReleaseSessionRequest| {
                    let sessions = Arc::clone(&sessions);
                    async move {
                        let server_side = sessions
                            .get(&r.session_id)
                            .map(|s| s.server_side_id.clone())
                            .unwrap_or_default();
                        sessions.release(&r.session_id);
                        Ok(ReleaseSessionResponse {
                            session_id: r.session_id,
                            server_side_session_id: server_side,
                        })
                    }
                });
                Ok(server!(ReleaseSessionRequest, ReleaseSessionResponse)
                    .unary(svc, req)
                    .await)
            }),
            "FetchErrorDetails" => Box::pin(async move {
                let svc = Unary(move |r: FetchErrorDetailsRequest| {
                    let sessions = Arc::clone(&sessions);
                    async move {
                        let session = session_of(
                            &sessions,
                            &r.session_id,
                            r.user_context.clone(),
                            r.client_observed_server_side_session_id.as_deref(),
                        )?;
                        let errors: Vec<_> =
                            crate::error::details(&r.error_id).into_iter().collect();
                        Ok(FetchErrorDetailsResponse {
                            session_id: session.id.clone(),
                            server_side_session_id: session.server_side_id.clone(),
                            root_error_idx: (!errors.is_empty()).then_some(0),
                            errors,
                        })
                    }
                });
                Ok(server!(FetchErrorDetailsRequest, FetchErrorDetailsResponse)
                    .unary(svc, req)
                    .await)
            }),
            "ArtifactStatus" => Box::pin(async move {
                let svc = Unary(move |r: ArtifactStatusesRequest| {
                    let sessions = Arc::clone(&sessions);
                    async move { artifacts::status(&sessions, r) }
                });
                Ok(server!(ArtifactStatusesRequest, ArtifactStatusesResponse)
                    .unary(svc, req)
                    .await)
            }),
            "AddArtifacts" => Box::pin(async move {
                let svc = ClientStreaming(move |r: RequestStream<AddArtifactsRequest>| {
                    let sessions = Arc::clone(&sessions);
                    async move { artifacts::add(&sessions, r).await }
                });
                Ok(server!(AddArtifactsRequest, AddArtifactsResponse)
                    .client_streaming(svc, req)
                    .await)
            }),
            _ => Box::pin(async move {
                let status = Status::unimplemented(format!(
                    "Spark Connect method '{method}' is not supported by Spate yet"
                ));
                Ok(status.into_http())
            }),
        }
    }
}

/// Serves Spark Connect on `addr` until `shutdown` resolves.
pub async fn serve(
    addr: SocketAddr,
    settings: ServerSettings,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!("cannot bind {addr}: {e}");
            return Ok(());
        }
    };
    match SessionManager::new(settings) {
        Ok(sessions) => serve_listener(listener, Arc::new(sessions), shutdown).await,
        Err(e) => {
            tracing::error!("cannot start the sessions: {e}");
            Ok(())
        }
    }
}

/// How long a shutting-down server waits for streaming queries to finish their batch.
const STREAM_STOP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Stops every streaming query at a batch boundary (Spark's
/// `spark.streaming.stopGracefullyOnShutdown`): a batch in flight finishes and commits first.
async fn stop_streams(sessions: &SessionManager) {
    let queries: Vec<_> = sessions
        .all()
        .iter()
        .flat_map(|s| spate_stream::SessionStreams::of(s).active())
        .collect();
    if queries.is_empty() {
        return;
    }
    tracing::info!(
        "stopping {} streaming queries after their current batch",
        queries.len()
    );
    let all = futures::future::join_all(queries.iter().map(|q| q.stop()));
    if tokio::time::timeout(STREAM_STOP_TIMEOUT, all)
        .await
        .is_err()
    {
        tracing::warn!("streaming queries did not stop within {STREAM_STOP_TIMEOUT:?}; exiting");
    }
}

/// Serves Spark Connect on an already bound listener with the given sessions, until
/// `shutdown` resolves, when every session is closed.
pub async fn serve_listener(
    listener: tokio::net::TcpListener,
    sessions: Arc<SessionManager>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    sessions.spawn_maintenance();
    if let Ok(mut addr) = listener.local_addr() {
        // work that connects back (a foreachBatch worker) does so on loopback; the trailing
        // slash is where PySpark's URL parameters (`;session_id=...`) follow
        if addr.ip().is_unspecified() {
            addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        sessions.set_connect_url(format!("sc://{addr}/"));
    }
    let service = SparkConnectService::new(Arc::clone(&sessions));
    // Responses go out as several small HTTP/2 writes; with Nagle's algorithm on, each one
    // can wait for the client's delayed ACK (~40 ms a query), so sockets are set to no-delay.
    let incoming = tokio_stream::StreamExt::map(
        tokio_stream::wrappers::TcpListenerStream::new(listener),
        |stream| {
            if let Ok(s) = &stream
                && let Err(e) = s.set_nodelay(true)
            {
                tracing::warn!("cannot set TCP_NODELAY: {e}");
            }
            stream
        },
    );
    // Closing the sessions first cancels running operations, so their streams end and the
    // server's graceful shutdown does not wait on them.
    let closing = Arc::clone(&sessions);
    let shutdown = async move {
        shutdown.await;
        stop_streams(&closing).await;
        closing.close_all();
    };
    tonic::transport::Server::builder()
        .add_service(service)
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
}
