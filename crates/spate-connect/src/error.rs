//! The one place an engine error becomes a gRPC status. The status carries a
//! `google.rpc.ErrorInfo` whose metadata PySpark reads: `classes` (the JVM exception
//! hierarchy, which picks the Python exception: `AnalysisException`, `ParseException`,
//! `IllegalArgumentException`, ...), `errorClass`, `sqlState` and `messageParameters`, and an
//! `errorId` under which the server keeps the error's details (the last [`KEPT_ERRORS`]) for
//! FetchErrorDetails, which PySpark calls to build its exception. What travels in the status's
//! headers is cut to [`MAX_HEADER_TEXT`] bytes (the client refuses headers over 16 KiB, and a
//! long message would hide the error behind RESOURCE_EXHAUSTED); the details keep it whole.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, OnceLock};

use spark_connect_proto::spark::connect::fetch_error_details_response::{
    Error as ErrorDetail, SparkThrowable,
};
use spate_common::Error;
use spate_common::error::SparkErrorInfo;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// Converts an engine error into the status PySpark understands.
pub fn to_status(e: &Error) -> Status {
    let info = e.spark_info();
    if info.error_class.as_deref() == Some("INTERNAL_ERROR") {
        tracing::error!("internal error: {}", info.message);
    }
    let mut metadata = HashMap::new();
    let classes: Vec<String> = info.classes.iter().map(|c| format!("\"{c}\"")).collect();
    metadata.insert("classes".to_string(), format!("[{}]", classes.join(",")));
    if let Some(c) = &info.error_class {
        metadata.insert("errorClass".to_string(), c.clone());
    }
    if let Some(s) = info.sql_state {
        metadata.insert("sqlState".to_string(), s.to_string());
    }
    let params: serde_json::Map<String, serde_json::Value> = info
        .params
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(cut(v))))
        .collect();
    metadata.insert(
        "messageParameters".to_string(),
        serde_json::Value::Object(params).to_string(),
    );
    let id = uuid::Uuid::new_v4().to_string();
    metadata.insert("errorId".to_string(), id.clone());
    keep(id, &info);
    let reason = info
        .classes
        .first()
        .copied()
        .unwrap_or("org.apache.spark.SparkException");
    // PySpark retries INVALID_CURSOR.DISCONNECTED only with code INTERNAL, as Spark sends it
    let code = match info.error_class.as_deref() {
        Some("OPERATION_CANCELED") => Code::Cancelled,
        Some("INTERNAL_ERROR") => Code::Internal,
        Some("UNSUPPORTED_FEATURE") => Code::Unimplemented,
        Some(c) if c.starts_with("INVALID_CURSOR") || c.starts_with("INVALID_HANDLE") => {
            Code::Internal
        }
        _ => Code::InvalidArgument,
    };
    let details = ErrorDetails::with_error_info(reason, "org.apache.spark", metadata);
    Status::with_error_details(code, cut(&info.message), details)
}

/// The most bytes of a message or parameter sent in the status's headers (Spark Connect's
/// `spark.connect.grpc.maxMetadataSize` default).
pub const MAX_HEADER_TEXT: usize = 1024;

/// `text` cut to [`MAX_HEADER_TEXT`] bytes at a character boundary, marked with `...`.
fn cut(text: &str) -> String {
    if text.len() <= MAX_HEADER_TEXT {
        return text.to_string();
    }
    let mut end = MAX_HEADER_TEXT - 3;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}

/// How many errors' details the server keeps for FetchErrorDetails.
pub const KEPT_ERRORS: usize = 1024;

fn kept() -> &'static Mutex<VecDeque<(String, SparkErrorInfo)>> {
    static KEPT: OnceLock<Mutex<VecDeque<(String, SparkErrorInfo)>>> = OnceLock::new();
    KEPT.get_or_init(|| Mutex::new(VecDeque::new()))
}

fn keep(id: String, info: &SparkErrorInfo) {
    let mut kept = kept().lock().unwrap_or_else(|p| p.into_inner());
    if kept.len() >= KEPT_ERRORS {
        kept.pop_front();
    }
    kept.push_back((id, info.clone()));
}

/// The details of the error sent with `error_id`, as FetchErrorDetails answers them (one error,
/// the root; Spate's errors have no JVM cause chain or stack trace).
pub fn details(error_id: &str) -> Option<ErrorDetail> {
    let kept = kept().lock().unwrap_or_else(|p| p.into_inner());
    let (_, info) = kept.iter().find(|(id, _)| id == error_id)?;
    Some(ErrorDetail {
        error_type_hierarchy: info.classes.iter().map(|c| c.to_string()).collect(),
        message: info.message.clone(),
        stack_trace: vec![],
        cause_idx: None,
        spark_throwable: Some(SparkThrowable {
            error_class: info.error_class.clone(),
            message_parameters: info.params.iter().cloned().collect(),
            query_contexts: vec![],
            sql_state: info.sql_state.map(str::to_string),
            breaking_change_info: None,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_carry_the_spark_class() {
        let s = to_status(&Error::analysis("TABLE_OR_VIEW_NOT_FOUND", "no table `t`"));
        let info = s.get_details_error_info();
        assert!(info.is_some_and(|i| {
            i.metadata
                .get("classes")
                .is_some_and(|c| c.contains("AnalysisException"))
        }));
    }

    #[test]
    fn long_messages_are_cut_in_the_headers_and_kept_whole_in_the_details() {
        let long = "é".repeat(20_000);
        let s = to_status(&Error::analysis("DELTA_ERROR", long.clone()));
        assert!(s.message().len() <= MAX_HEADER_TEXT && s.message().ends_with("..."));
        let id = s
            .get_details_error_info()
            .and_then(|i| i.metadata.get("errorId").cloned())
            .unwrap_or_default();
        assert!(details(&id).is_some_and(|d| d.message.contains(&long)));
    }
}
