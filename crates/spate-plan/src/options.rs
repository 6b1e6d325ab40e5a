//! Spate's own engine options in DataFusion's configuration (a config extension under the
//! `spate` prefix): the switches of our optimizer rules and operators, mirrored from the
//! session's Spark settings by `crate::session::apply_engine_options`. The rules read them
//! from the configuration they are given, so this module depends on nothing of the crate.

/// Spark's default `spark.sql.adaptive.skewJoin.skewedPartitionThresholdInBytes`: 256MB.
pub const SKEW_THRESHOLD: usize = 256 * 1024 * 1024;
/// Spark's default `spark.sql.adaptive.skewJoin.skewedPartitionFactor`: 5.
pub const SKEW_FACTOR: f64 = 5.0;

datafusion::common::extensions_options! {
    /// Spate's own engine options in DataFusion's configuration, mirrored from the session's
    /// settings by [`apply_engine_options`].
    pub struct SpateOptions {
        /// `spark.spate.aggregate.splitDistinct`: whether
        /// [`crate::distinct_aggregates::CountsAsSums`] runs.
        pub split_distinct: bool, default = true
        /// `spark.spate.window.sliding`: whether [`crate::sliding_window::SlidingWindows`]
        /// runs.
        pub sliding_window: bool, default = true
        /// `spark.sql.optimizer.windowGroupLimitThreshold`: the largest row-number limit
        /// [`crate::window_top_rows::TopRowsPerKey`] keeps per key (None: -1, never).
        pub window_group_limit: Option<usize>, default = Some(1000)
        /// `spark.sql.adaptive.enabled` and `spark.sql.adaptive.skewJoin.enabled`: whether
        /// [`crate::skew_join::SplitSkewedJoins`] runs.
        pub skew_join: bool, default = true
        /// `spark.sql.adaptive.skewJoin.skewedPartitionThresholdInBytes`: a side of a join whose
        /// estimated size is at most this has no partition Spark would call skewed, and
        /// [`crate::skew_join::SplitSkewedJoins`] leaves it unspread.
        pub skew_join_threshold: usize, default = SKEW_THRESHOLD
        /// `spark.sql.adaptive.skewJoin.skewedPartitionFactor`: a partition is skewed only if
        /// it is also more than this many times the median partition.
        pub skew_join_factor: f64, default = SKEW_FACTOR
        /// `spark.sql.files.ignoreCorruptFiles`: whether `crate::read_guard` skips files that
        /// fail to decode instead of failing the query.
        pub ignore_corrupt_files: bool, default = false
        /// `spark.databricks.delta.autoCompact.enabled`, when set: Delta writes compact small
        /// files afterwards whatever the table property says.
        pub delta_auto_compact: Option<bool>, default = None
        /// `spark.databricks.delta.autoCompact.minNumFiles`: the small files a partition gathers
        /// before auto compaction rewrites them.
        pub delta_auto_compact_min_files: usize, default = 50
        /// `spark.databricks.delta.autoCompact.maxFileSize` in bytes: files below it are small,
        /// and compaction writes files up to it.
        pub delta_auto_compact_max_file_size: u64, default = 128 * 1024 * 1024
    }
}

impl datafusion::common::config::ConfigExtension for SpateOptions {
    const PREFIX: &'static str = "spate";
}
