//! Delta Lake tables through the `deltalake` crate, in layers: [`table`] (locating and loading
//! tables, errors, delta-rs's session, a planned query as a table), then reading ([`read`],
//! the change data feed in [`changes`], chosen files of a version in [`files`]), writing ([`write`], with auto compaction from
//! [`optimize`]), history and detail ([`history`]), the SQL statements (parsed in [`statement`], planned in
//! [`sql`], carried out by [`commands`]) and
//! delta-spark's Spark Connect messages ([`messages`], acted on by [`connect`]). Tables are
//! named through the catalog's [`crate::warehouse::Warehouse`], so nothing here depends on the
//! catalog.

pub mod changes;
pub mod commands;
pub mod connect;
mod connect_ddl;
mod connect_dml;
pub mod files;
pub mod history;
pub mod messages;
pub mod optimize;
pub mod read;
pub mod sql;
pub mod statement;
pub mod table;
pub mod write;
