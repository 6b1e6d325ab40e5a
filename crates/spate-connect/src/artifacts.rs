//! AddArtifacts and ArtifactStatus. AddArtifacts is a client stream of requests, each a batch of
//! small artifacts or a large one in chunks (`begin_chunk` then `chunk`s); every chunk's CRC is
//! checked and the reply lists each artifact with whether it arrived intact. ArtifactStatus
//! says which named artifacts the session holds (PySpark asks for `cache/<hash>` before
//! uploading a large local relation).

use futures::{Stream, StreamExt};
use spark_connect_proto::spark::connect::add_artifacts_request::{
    BeginChunkedArtifact, Payload, SingleChunkArtifact,
};
use spark_connect_proto::spark::connect::add_artifacts_response::ArtifactSummary;
use spark_connect_proto::spark::connect::artifact_statuses_response::ArtifactStatus;
use spark_connect_proto::spark::connect::{
    AddArtifactsRequest, AddArtifactsResponse, ArtifactStatusesRequest, ArtifactStatusesResponse,
};
use spate_common::{Error, Result};
use spate_session::SessionManager;
use spate_session::artifacts::Incoming;

/// Receives the artifacts of one AddArtifacts stream.
pub async fn add(
    manager: &SessionManager,
    requests: impl Stream<Item = std::result::Result<AddArtifactsRequest, tonic::Status>>,
) -> Result<AddArtifactsResponse> {
    let mut requests = std::pin::pin!(requests);
    let mut summaries = Vec::new();
    let mut session = None;
    let mut current: Option<(Incoming, i64)> = None;
    while let Some(req) = requests.next().await {
        let req = req.map_err(|s| {
            Error::IllegalArgument(format!("the artifact upload broke off: {}", s.message()))
        })?;
        let AddArtifactsRequest {
            session_id,
            user_context,
            client_observed_server_side_session_id,
            client_type: _,
            payload,
        } = req;
        let s = match &session {
            Some(s) => std::sync::Arc::clone(s),
            None => {
                let user = user_context.map(|u| u.user_id).unwrap_or_default();
                let s = manager.get_or_create(
                    &session_id,
                    &user,
                    client_observed_server_side_session_id.as_deref(),
                )?;
                session = Some(std::sync::Arc::clone(&s));
                s
            }
        };
        match payload.ok_or_else(|| Error::internal("AddArtifacts request without a payload"))? {
            Payload::Batch(batch) => {
                finish(&mut current, &mut summaries)?;
                for SingleChunkArtifact { name, data } in batch.artifacts {
                    let mut incoming = s.artifacts.begin(&name)?;
                    if let Some(chunk) = data {
                        incoming.write(&chunk.data, chunk.crc)?;
                    }
                    summaries.push(ArtifactSummary {
                        name,
                        is_crc_successful: incoming.finish()?,
                    });
                }
            }
            Payload::BeginChunk(BeginChunkedArtifact {
                name,
                total_bytes: _,
                num_chunks,
                initial_chunk,
            }) => {
                finish(&mut current, &mut summaries)?;
                let mut incoming = s.artifacts.begin(&name)?;
                if let Some(chunk) = initial_chunk {
                    incoming.write(&chunk.data, chunk.crc)?;
                }
                current = Some((incoming, num_chunks - 1));
            }
            Payload::Chunk(chunk) => match current.as_mut() {
                Some((incoming, left)) => {
                    incoming.write(&chunk.data, chunk.crc)?;
                    *left -= 1;
                    if *left <= 0 {
                        finish(&mut current, &mut summaries)?;
                    }
                }
                None => {
                    return Err(Error::IllegalArgument(
                        "an artifact chunk arrived without begin_chunk".into(),
                    ));
                }
            },
        }
    }
    finish(&mut current, &mut summaries)?;
    let (session_id, server_side_session_id) = session
        .map(|s| (s.id.clone(), s.server_side_id.clone()))
        .unwrap_or_default();
    Ok(AddArtifactsResponse {
        session_id,
        server_side_session_id,
        artifacts: summaries,
    })
}

fn finish(
    current: &mut Option<(Incoming, i64)>,
    summaries: &mut Vec<ArtifactSummary>,
) -> Result<()> {
    if let Some((incoming, _)) = current.take() {
        let name = incoming.name().to_string();
        summaries.push(ArtifactSummary {
            name,
            is_crc_successful: incoming.finish()?,
        });
    }
    Ok(())
}

/// ArtifactStatus: which of the named artifacts the session holds.
pub fn status(
    manager: &SessionManager,
    req: ArtifactStatusesRequest,
) -> Result<ArtifactStatusesResponse> {
    let ArtifactStatusesRequest {
        session_id,
        client_observed_server_side_session_id,
        user_context,
        client_type: _,
        names,
    } = req;
    let user = user_context.map(|u| u.user_id).unwrap_or_default();
    let session = manager.get_or_create(
        &session_id,
        &user,
        client_observed_server_side_session_id.as_deref(),
    )?;
    let statuses = names
        .into_iter()
        .map(|n| {
            let exists = session.artifacts.exists(&n);
            (n, ArtifactStatus { exists })
        })
        .collect();
    Ok(ArtifactStatusesResponse {
        session_id: session.id.clone(),
        server_side_session_id: session.server_side_id.clone(),
        statuses,
    })
}
