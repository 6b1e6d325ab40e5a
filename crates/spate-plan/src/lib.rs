//! Spark semantics on DataFusion. This crate turns what Spark Connect clients send — relations,
//! expressions, types, SQL text — into DataFusion logical plans with Spark's names, types and
//! errors: Spark types and their Arrow form ([`types`], [`type_parser`], [`json_schema`]),
//! literals, cached relations ([`cache`]), the one function registry ([`functions`]), the relation resolver
//! ([`resolver`]), Spark SQL ([`sql`], with the registry in SQL text through [`sql_functions`]) and Spark's text rendering of results ([`display`]).

pub mod broadcast_side;
pub mod cache;
pub mod cache_scan;
pub mod call_names;
pub mod compact_views;
pub mod cross_join;
pub mod display;
pub mod distinct_aggregates;
pub mod functions;
pub mod generate;
pub mod java_text;
pub mod join_hints;
pub mod join_projection;
pub mod json_schema;
pub mod like_segments;
pub mod literal;
pub mod lossy_utf8;
pub mod options;
pub mod output_names;
pub mod physical;
pub mod placeholder;
pub(crate) mod push_stream;
pub mod read_guard;
pub mod resolver;
pub mod session;
pub mod skew_join;
pub mod sliding_window;
pub mod sort_within;
pub mod sql;
pub mod sql_dialect;
pub mod sql_functions;
pub mod sql_over;
pub mod sql_table_syntax;
pub mod streaming;
pub mod task_ids;
#[cfg(test)]
pub(crate) mod test_session;
pub mod type_build;
pub mod type_parser;
pub mod types;
pub(crate) mod variant_json;
pub mod window_top_rows;
pub mod xml_rows;

pub use resolver::{CachedBlobs, ReadRequest, Resolver, Sources, TableSpec};
