//! The error type of the engine. Each variant says whose fault it is — the user's plan or input
//! (analysis, parse, illegal argument), the data at run time (arithmetic, cast), an unsupported
//! feature, or a bug — and carries what Spark reports for it: the JVM exception class that
//! PySpark turns into its own exception, Spark's error class and SQLSTATE, and the message
//! parameters. The gRPC layer has exactly one function that turns an [`Error`] into a status.

use datafusion::arrow::error::ArrowError;
use datafusion::error::DataFusionError;

/// `Result` with Spate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error with the information Spark reports for it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The plan refers to something missing or ill-typed (Spark's `AnalysisException`).
    #[error("[{class}] {message}")]
    Analysis {
        /// Spark error class, e.g. `UNRESOLVED_COLUMN.WITH_SUGGESTION`.
        class: String,
        /// Human readable message naming the culprit.
        message: String,
        /// Spark's message parameters for the error class.
        params: Vec<(String, String)>,
    },
    /// SQL or DDL text that does not parse (Spark's `ParseException`).
    #[error("[{class}] {message}")]
    Parse {
        /// Spark error class, e.g. `PARSE_SYNTAX_ERROR`.
        class: String,
        /// Message with the position of the problem.
        message: String,
    },
    /// A bad argument or option value (`IllegalArgumentException`).
    #[error("{0}")]
    IllegalArgument(String),
    /// A runtime failure caused by the data, with Spark's error class.
    #[error("[{class}] {message}")]
    Runtime {
        /// The JVM exception class PySpark maps (e.g. `java.lang.ArithmeticException`).
        exception: &'static str,
        /// Spark error class, e.g. `DIVIDE_BY_ZERO`.
        class: String,
        /// Message naming the offending value.
        message: String,
    },
    /// A configuration key that is not set and has no default.
    #[error(
        "[SQL_CONF_NOT_FOUND] The SQL config \"{0}\" cannot be found. Please verify that the config exists."
    )]
    ConfNotFound(String),
    /// A feature Spark has that Spate does not implement yet.
    #[error("[UNSUPPORTED_FEATURE] {0} is not supported by Spate yet")]
    Unsupported(String),
    /// A session, operation or cursor handle the client sent is not usable (Spark's
    /// `INVALID_HANDLE.*` and `INVALID_CURSOR.*`, raised as `SparkSQLException`).
    #[error("[{class}] {message}")]
    Handle {
        /// Spark error class, e.g. `INVALID_HANDLE.OPERATION_NOT_FOUND`.
        class: String,
        /// Spark's message for it.
        message: String,
    },
    /// The query was interrupted by the client.
    #[error("[OPERATION_CANCELED] the operation was interrupted")]
    Interrupted,
    /// An error raised inside DataFusion during planning or execution.
    #[error(transparent)]
    DataFusion(#[from] DataFusionError),
    /// A broken invariant inside Spate.
    #[error("internal error (bug): {0}")]
    Internal(String),
}

/// What PySpark needs to raise the right exception.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SparkErrorInfo {
    /// JVM class hierarchy, most specific first.
    pub classes: Vec<&'static str>,
    /// Spark error class, if any.
    pub error_class: Option<String>,
    /// SQLSTATE, if any.
    pub sql_state: Option<&'static str>,
    /// Message parameters of the error class.
    pub params: Vec<(String, String)>,
    /// The message shown to the user.
    pub message: String,
}

const ANALYSIS: &str = "org.apache.spark.sql.AnalysisException";
const PARSE: &str = "org.apache.spark.sql.catalyst.parser.ParseException";
const SPARK: &str = "org.apache.spark.SparkException";

impl Error {
    /// An analysis error with a Spark error class.
    pub fn analysis(class: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Analysis {
            class: class.into(),
            message: message.into(),
            params: vec![],
        }
    }

    /// A parse error.
    pub fn parse(message: impl Into<String>) -> Self {
        Error::Parse {
            class: "PARSE_SYNTAX_ERROR".into(),
            message: message.into(),
        }
    }

    /// An error that says Spate has a bug.
    pub fn internal(message: impl Into<String>) -> Self {
        Error::Internal(message.into())
    }

    /// An unsupported feature.
    pub fn unsupported(what: impl Into<String>) -> Self {
        Error::Unsupported(what.into())
    }

    /// Strips DataFusion wrappers (context, shared errors) down to our own error if there is one.
    pub fn unwrap_datafusion(self) -> Self {
        match self {
            Error::DataFusion(e) => from_datafusion(e),
            other => other,
        }
    }

    /// The Spark view of this error.
    pub fn spark_info(&self) -> SparkErrorInfo {
        let message = self.to_string();
        let info =
            |classes: Vec<&'static str>, class: Option<&str>, state: Option<&'static str>| {
                SparkErrorInfo {
                    classes,
                    error_class: class.map(str::to_string),
                    sql_state: state,
                    params: vec![],
                    message: message.clone(),
                }
            };
        match self {
            Error::Analysis { class, params, .. } => SparkErrorInfo {
                params: params.clone(),
                ..info(vec![ANALYSIS], Some(class), Some(analysis_state(class)))
            },
            Error::Parse { class, .. } => info(vec![PARSE, ANALYSIS], Some(class), Some("42601")),
            Error::IllegalArgument(_) => info(
                vec![
                    "java.lang.IllegalArgumentException",
                    "java.lang.RuntimeException",
                ],
                None,
                None,
            ),
            Error::Runtime {
                exception, class, ..
            } => info(
                if *exception == SPARK {
                    vec![SPARK]
                } else {
                    vec![exception, SPARK]
                },
                Some(class),
                Some(runtime_state(class)),
            ),
            Error::ConfNotFound(key) => SparkErrorInfo {
                params: vec![("sqlConf".into(), format!("\"{key}\""))],
                ..info(
                    vec!["org.apache.spark.SparkNoSuchElementException", SPARK],
                    Some("SQL_CONF_NOT_FOUND"),
                    Some("42K0I"),
                )
            },
            Error::Unsupported(_) => info(
                vec!["java.lang.UnsupportedOperationException"],
                Some("UNSUPPORTED_FEATURE"),
                Some("0A000"),
            ),
            Error::Handle { class, .. } => info(
                vec!["org.apache.spark.SparkSQLException", SPARK],
                Some(class),
                Some(if class.starts_with("INVALID_CURSOR") {
                    "HY109"
                } else {
                    "HY000"
                }),
            ),
            Error::Interrupted => info(vec![SPARK], Some("OPERATION_CANCELED"), Some("HY008")),
            Error::DataFusion(e) => match ours_inside(e) {
                Some(ours) => ours.spark_info(),
                None => datafusion_info(e, &message),
            },
            Error::Internal(_) => info(vec![SPARK], Some("INTERNAL_ERROR"), Some("XX000")),
        }
    }
}

/// The Spark view of a DataFusion error held by reference: one of ours inside it speaks for
/// itself; otherwise the whole message is kept and the root decides the class.
pub fn spark_info_of(e: &DataFusionError) -> SparkErrorInfo {
    match ours_inside(e) {
        Some(ours) => ours.spark_info(),
        None => datafusion_info(e, &e.to_string()),
    }
}

/// Our error inside DataFusion's wrappers, if there is one.
fn ours_inside(e: &DataFusionError) -> Option<&Error> {
    match e {
        DataFusionError::External(inner) => match inner.downcast_ref::<Error>() {
            Some(Error::DataFusion(df)) => ours_inside(df),
            Some(ours) => Some(ours),
            None => None,
        },
        DataFusionError::Context(_, inner) => ours_inside(inner),
        DataFusionError::Shared(inner) => ours_inside(inner),
        _ => None,
    }
}

/// Turns a DataFusion error that wraps one of ours back into ours.
fn from_datafusion(e: DataFusionError) -> Error {
    match e {
        DataFusionError::External(inner) => match inner.downcast::<Error>() {
            Ok(ours) => (*ours).unwrap_datafusion(),
            Err(other) => Error::DataFusion(DataFusionError::External(other)),
        },
        DataFusionError::Context(_, inner) => from_datafusion(*inner),
        DataFusionError::Shared(inner) => match std::sync::Arc::try_unwrap(inner) {
            Ok(inner) => from_datafusion(inner),
            Err(shared) => Error::DataFusion(DataFusionError::Shared(shared)),
        },
        other => Error::DataFusion(other),
    }
}

fn datafusion_info(e: &DataFusionError, message: &str) -> SparkErrorInfo {
    let lower = message.to_lowercase();
    // Spark's messages start with their error class, as `[CAST_INVALID_INPUT] ...`
    let make = |classes: Vec<&'static str>, class: &str, state: &'static str| SparkErrorInfo {
        classes,
        error_class: Some(class.to_string()),
        sql_state: Some(state),
        params: vec![],
        message: if message.starts_with('[') {
            message.to_string()
        } else {
            format!("[{class}] {message}")
        },
    };
    let divide_by_zero = || {
        make(
            vec!["java.lang.ArithmeticException", SPARK],
            "DIVIDE_BY_ZERO",
            "22012",
        )
    };
    let overflow = || {
        make(
            vec!["java.lang.ArithmeticException", SPARK],
            "ARITHMETIC_OVERFLOW",
            "22003",
        )
    };
    let cast_invalid = || {
        make(
            vec!["java.lang.NumberFormatException", SPARK],
            "CAST_INVALID_INPUT",
            "22018",
        )
    };
    match e.find_root() {
        DataFusionError::SQL(..) => make(vec![PARSE, ANALYSIS], "PARSE_SYNTAX_ERROR", "42601"),
        DataFusionError::SchemaError(..) => make(
            vec![ANALYSIS],
            "UNRESOLVED_COLUMN.WITHOUT_SUGGESTION",
            "42703",
        ),
        DataFusionError::Plan(..) => make(vec![ANALYSIS], "DATATYPE_MISMATCH", "42K09"),
        DataFusionError::NotImplemented(..) => make(
            vec!["java.lang.UnsupportedOperationException"],
            "UNSUPPORTED_FEATURE",
            "0A000",
        ),
        DataFusionError::ArrowError(arrow, _) => match arrow.as_ref() {
            ArrowError::DivideByZero => divide_by_zero(),
            ArrowError::ArithmeticOverflow(_) => overflow(),
            ArrowError::CastError(_) | ArrowError::ParseError(_) => cast_invalid(),
            _ => make(vec![SPARK], "INTERNAL_ERROR", "XX000"),
        },
        DataFusionError::ResourcesExhausted(..) => {
            make(vec![SPARK], "UNABLE_TO_ACQUIRE_MEMORY", "53200")
        }
        // `Execution` errors carry no kind: the arithmetic and cast failures DataFusion's own
        // kernels raise as text are known by it
        DataFusionError::Execution(_) if lower.contains("divide by zero") => divide_by_zero(),
        DataFusionError::Execution(_) if lower.contains("overflow") => overflow(),
        DataFusionError::Execution(_)
            if lower.contains("cannot cast") || lower.contains("cast error") =>
        {
            cast_invalid()
        }
        _ => make(vec![SPARK], "INTERNAL_ERROR", "XX000"),
    }
}

fn analysis_state(class: &str) -> &'static str {
    let base = class.split('.').next().unwrap_or(class);
    match base {
        "UNRESOLVED_COLUMN" | "UNRESOLVED_FIELD" | "UNRESOLVED_MAP_KEY" => "42703",
        "TABLE_OR_VIEW_NOT_FOUND" => "42P01",
        "TABLE_OR_VIEW_ALREADY_EXISTS" | "TEMP_TABLE_OR_VIEW_ALREADY_EXISTS" => "42P07",
        "SCHEMA_NOT_FOUND" => "42704",
        "SCHEMA_ALREADY_EXISTS" => "42P06",
        "UNRESOLVED_ROUTINE" => "42883",
        "PATH_NOT_FOUND" => "42K03",
        "PATH_ALREADY_EXISTS" => "42K04",
        "AMBIGUOUS_REFERENCE" | "AMBIGUOUS_COLUMN_OR_FIELD" => "42702",
        "DATATYPE_MISMATCH" => "42K09",
        "WRONG_NUM_ARGS" => "42605",
        "COLUMN_ALREADY_EXISTS" => "42711",
        "NUM_COLUMNS_MISMATCH" => "42826",
        "MISSING_AGGREGATION" => "42803",
        "INVALID_OPTION" | "INVALID_SCHEMA" => "42K06",
        "UNABLE_TO_INFER_SCHEMA" => "42KD9",
        _ => "42000",
    }
}

fn runtime_state(class: &str) -> &'static str {
    match class.split('.').next().unwrap_or(class) {
        "DIVIDE_BY_ZERO" => "22012",
        "ARITHMETIC_OVERFLOW" => "22003",
        "CAST_INVALID_INPUT" => "22018",
        "MALFORMED_RECORD_IN_PARSING"
        | "INVALID_VARIANT_CAST"
        | "INVALID_VARIANT_GET_PATH"
        | "DATETIME_FIELD_OUT_OF_BOUNDS"
        | "INVALID_FRACTION_OF_SECOND"
        | "INVALID_PARAMETER_VALUE" => "22023",
        "CANNOT_PARSE_TIME" | "CANNOT_PARSE_TIMESTAMP" => "22007",
        "FAILED_READ_FILE" => "KD001",
        "VARIANT_SIZE_LIMIT" => "22023",
        "UNABLE_TO_ACQUIRE_MEMORY" => "53200",
        "USER_RAISED_EXCEPTION" => "P0001",
        _ => "XX000",
    }
}

impl From<Error> for DataFusionError {
    fn from(e: Error) -> Self {
        match e {
            Error::DataFusion(inner) => inner,
            other => DataFusionError::External(Box::new(other)),
        }
    }
}

impl From<ArrowError> for Error {
    fn from(e: ArrowError) -> Self {
        Error::from(DataFusionError::from(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn analysis_errors_map_to_analysis_exception() {
        let e = Error::analysis("TABLE_OR_VIEW_NOT_FOUND", "the table `t` cannot be found");
        let info = e.spark_info();
        assert_eq!(info.classes, vec![ANALYSIS]);
        assert_eq!(info.sql_state, Some("42P01"));
    }

    #[test]
    fn our_errors_survive_a_trip_through_datafusion() {
        let df: DataFusionError = Error::parse("bad").into();
        let back = Error::DataFusion(DataFusionError::Context("ctx".into(), Box::new(df)));
        assert!(matches!(back.unwrap_datafusion(), Error::Parse { .. }));
    }
}
