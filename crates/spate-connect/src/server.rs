//! The gRPC front door: a tower service that routes `/spark.connect.SparkConnectService/<Method>`
//! to one handler per method through tonic's generic server and the prost codec. Handlers only
//! parse, dispatch and map errors; the work happens in the modules they call.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::stream::{self, BoxStream};
use spark_connect_proto::spark::connect::{
    AnalyzePlanRequest, AnalyzePlanResponse, ArtifactStatusesRequest, ArtifactStatusesResponse,
    ConfigRequest, ConfigResponse, ExecutePlanRequest, ExecutePlanResponse,
    FetchErrorDetailsRequest, FetchErrorDetailsResponse, InterruptRequest, InterruptResponse,
    ReattachExecuteRequest, ReleaseExecuteRequest, ReleaseExecuteResponse, ReleaseSessionRequest,
    ReleaseSessionResponse,
};
use spate_common::Error;
use tonic::body::Body;
use tonic::codegen::{BoxFuture, Service, http};
use tonic::server::{NamedService, ServerStreamingService, UnaryService};
use tonic::{Request, Response, Status};

use crate::error::to_status;
use crate::session::SessionManager;
use crate::{analyze, config, execute};

/// The Spark Connect service.
#[derive(Clone)]
pub struct SparkConnectService {
    sessions: Arc<SessionManager>,
}

impl SparkConnectService {
    /// A service whose sessions keep persistent tables under `warehouse`.
    pub fn new(warehouse: impl Into<std::path::PathBuf>) -> Self {
        Self {
            sessions: Arc::new(SessionManager::new(warehouse)),
        }
    }

    /// The session manager.
    pub fn sessions(&self) -> &Arc<SessionManager> {
        &self.sessions
    }
}

impl NamedService for SparkConnectService {
    const NAME: &'static str = "spark.connect.SparkConnectService";
}

type Stream = BoxStream<'static, Result<ExecutePlanResponse, Status>>;

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
        Box::pin(async move { fut.await.map(Response::new).map_err(to_status) })
    }
}

struct Streaming<F>(F);

impl<Req, F, Fut> ServerStreamingService<Req> for Streaming<F>
where
    F: FnMut(Req) -> Fut,
    Fut: Future<Output = Result<Vec<ExecutePlanResponse>, Error>> + Send + 'static,
{
    type Response = ExecutePlanResponse;
    type ResponseStream = Stream;
    type Future = BoxFuture<Response<Stream>, Status>;

    fn call(&mut self, request: Request<Req>) -> Self::Future {
        let fut = (self.0)(request.into_inner());
        Box::pin(async move {
            // Errors travel inside the stream, as Spark sends them after the headers.
            let items: Vec<Result<ExecutePlanResponse, Status>> = match fut.await {
                Ok(responses) => responses.into_iter().map(Ok).collect(),
                Err(e) => vec![Err(to_status(e))],
            };
            Ok(Response::new(Box::pin(stream::iter(items)) as Stream))
        })
    }
}

fn codec<A: prost::Message + Default + Send + 'static, B: prost::Message + Send + 'static>()
-> tonic_prost::ProstCodec<B, A> {
    tonic_prost::ProstCodec::default()
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
        let sessions = self.sessions.clone();
        let method = req
            .uri()
            .path()
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_string();
        match method.as_str() {
            "ExecutePlan" => {
                Box::pin(async move {
                    let svc = Streaming(move |r: ExecutePlanRequest| {
                        let sessions = sessions.clone();
                        async move {
                            let session = sessions.get_or_create(&r.session_id)?;
                            execute::execute(session, r).await
                        }
                    });
                    Ok(tonic::server::Grpc::new(codec::<ExecutePlanRequest, ExecutePlanResponse>()).server_streaming(svc, req).await)
                })
            }
            "ReattachExecute" => Box::pin(async move {
                let svc = Streaming(move |r: ReattachExecuteRequest| {
                    let sessions = sessions.clone();
                    async move {
                        let session = sessions.get_or_create(&r.session_id)?;
                        execute::reattach(&session, &r.operation_id, r.last_response_id.as_deref())
                    }
                });
                Ok(tonic::server::Grpc::new(codec::<ReattachExecuteRequest, ExecutePlanResponse>()).server_streaming(svc, req).await)
            }),
            "AnalyzePlan" => {
                Box::pin(async move {
                    let svc = Unary(move |r: AnalyzePlanRequest| {
                        let sessions = sessions.clone();
                        async move {
                            let session = sessions.get_or_create(&r.session_id)?;
                            analyze::handle(&session, r).await
                        }
                    });
                    Ok(tonic::server::Grpc::new(codec::<AnalyzePlanRequest, AnalyzePlanResponse>()).unary(svc, req).await)
                })
            }
            "Config" => Box::pin(async move {
                let svc = Unary(move |r: ConfigRequest| {
                    let sessions = sessions.clone();
                    async move {
                        let session = sessions.get_or_create(&r.session_id)?;
                        config::handle(&session, r)
                    }
                });
                Ok(
                    tonic::server::Grpc::new(codec::<ConfigRequest, ConfigResponse>())
                        .unary(svc, req)
                        .await,
                )
            }),
            "Interrupt" => Box::pin(async move {
                let svc = Unary(move |r: InterruptRequest| {
                    let sessions = sessions.clone();
                    async move {
                        let session = sessions.get_or_create(&r.session_id)?;
                        let ids = execute::interrupt(&session, &r);
                        Ok(InterruptResponse {
                            session_id: session.id.clone(),
                            server_side_session_id: session.server_side_id.clone(),
                            interrupted_ids: ids,
                        })
                    }
                });
                Ok(
                    tonic::server::Grpc::new(codec::<InterruptRequest, InterruptResponse>())
                        .unary(svc, req)
                        .await,
                )
            }),
            "ReleaseExecute" => Box::pin(async move {
                let svc = Unary(move |r: ReleaseExecuteRequest| {
                    let sessions = sessions.clone();
                    async move {
                        let session = sessions.get_or_create(&r.session_id)?;
                        execute::release(&session, &r);
                        Ok(ReleaseExecuteResponse {
                            session_id: session.id.clone(),
                            server_side_session_id: session.server_side_id.clone(),
                            operation_id: Some(r.operation_id),
                        })
                    }
                });
                Ok(tonic::server::Grpc::new(
                    codec::<ReleaseExecuteRequest, ReleaseExecuteResponse>(),
                )
                .unary(svc, req)
                .await)
            }),
            "ReleaseSession" => Box::pin(async move {
                let svc = Unary(move |r: ReleaseSessionRequest| {
                    let sessions = sessions.clone();
                    async move {
                        sessions.release(&r.session_id);
                        Ok(ReleaseSessionResponse {
                            session_id: r.session_id,
                            server_side_session_id: String::new(),
                        })
                    }
                });
                Ok(tonic::server::Grpc::new(
                    codec::<ReleaseSessionRequest, ReleaseSessionResponse>(),
                )
                .unary(svc, req)
                .await)
            }),
            "FetchErrorDetails" => Box::pin(async move {
                let svc = Unary(move |r: FetchErrorDetailsRequest| {
                    let sessions = sessions.clone();
                    async move {
                        let session = sessions.get_or_create(&r.session_id)?;
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
                Ok(tonic::server::Grpc::new(codec::<
                    FetchErrorDetailsRequest,
                    FetchErrorDetailsResponse,
                >())
                .unary(svc, req)
                .await)
            }),
            "ArtifactStatus" => Box::pin(async move {
                let svc = Unary(move |r: ArtifactStatusesRequest| {
                    let sessions = sessions.clone();
                    async move {
                        let session = sessions.get_or_create(&r.session_id)?;
                        Ok(ArtifactStatusesResponse {
                            session_id: session.id.clone(),
                            server_side_session_id: session.server_side_id.clone(),
                            statuses: Default::default(),
                        })
                    }
                });
                Ok(tonic::server::Grpc::new(codec::<
                    ArtifactStatusesRequest,
                    ArtifactStatusesResponse,
                >())
                .unary(svc, req)
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
    warehouse: std::path::PathBuf,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    let listener = tokio::net::TcpListener::bind(addr).await;
    let listener = match listener {
        Ok(l) => l,
        Err(e) => {
            tracing::error!("cannot bind {addr}: {e}");
            return Ok(());
        }
    };
    serve_listener(listener, warehouse, shutdown).await
}

/// Serves Spark Connect on an already bound listener.
pub async fn serve_listener(
    listener: tokio::net::TcpListener,
    warehouse: std::path::PathBuf,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    let service = SparkConnectService::new(warehouse);
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
    tonic::transport::Server::builder()
        .add_service(service)
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
}
