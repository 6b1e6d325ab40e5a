//! The one place an engine error becomes a gRPC status. The status carries a
//! `google.rpc.ErrorInfo` whose metadata PySpark reads: `classes` (the JVM exception
//! hierarchy, which picks the Python exception: `AnalysisException`, `ParseException`,
//! `IllegalArgumentException`, ...), `errorClass`, `sqlState` and `messageParameters`.

use std::collections::HashMap;

use spate_common::Error;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// Converts an engine error into the status PySpark understands.
pub fn to_status(e: Error) -> Status {
    let e = e.unwrap_datafusion();
    if let Error::Internal(msg) = &e {
        tracing::error!("internal error: {msg}");
    }
    let info = e.spark_info();
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
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    metadata.insert(
        "messageParameters".to_string(),
        serde_json::Value::Object(params).to_string(),
    );
    let reason = info
        .classes
        .first()
        .copied()
        .unwrap_or("org.apache.spark.SparkException");
    let code = match &e {
        Error::Interrupted => Code::Cancelled,
        Error::Internal(_) => Code::Internal,
        Error::Unsupported(_) => Code::Unimplemented,
        _ => Code::InvalidArgument,
    };
    let details = ErrorDetails::with_error_info(reason, "org.apache.spark", metadata);
    Status::with_error_details(code, info.message, details)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_carry_the_spark_class() {
        let s = to_status(Error::analysis("TABLE_OR_VIEW_NOT_FOUND", "no table `t`"));
        let info = s.get_details_error_info();
        assert!(info.is_some_and(|i| {
            i.metadata
                .get("classes")
                .is_some_and(|c| c.contains("AnalysisException"))
        }));
    }
}
