//! A streaming query's lifecycle, as Spark reports it: a query is active from its start until
//! it terminates, by `stop()`, by the end of an `availableNow`/`once` trigger's data, or by a
//! failure (kept for `exception()`). Every change goes through [`QueryState::can_become`], so
//! a terminated query cannot be revived; a restart is a new run with a new run id.

/// Where a streaming query is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QueryState {
    /// Started: its checkpoint and sources are being opened.
    Initializing,
    /// Running micro-batches (or waiting for its next trigger).
    Active,
    /// `stop()` was called: the current batch finishes or is canceled, then it terminates.
    Stopping,
    /// Ended without an error.
    Terminated,
    /// Ended with an error.
    Failed,
}

impl QueryState {
    /// Whether the query may move from `self` to `next`.
    pub fn can_become(self, next: QueryState) -> bool {
        use QueryState::*;
        matches!(
            (self, next),
            (Initializing, Active | Stopping | Failed)
                | (Active, Stopping | Terminated | Failed)
                | (Stopping, Terminated | Failed)
        )
    }

    /// Spark's `isActive`: true until the query terminated.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            QueryState::Initializing | QueryState::Active | QueryState::Stopping
        )
    }
}

#[cfg(test)]
mod tests {
    use super::QueryState::*;

    #[test]
    fn terminated_queries_stay_terminated() {
        assert!(Initializing.can_become(Active));
        assert!(Active.can_become(Terminated));
        assert!(Active.can_become(Stopping));
        assert!(Stopping.can_become(Terminated));
        for end in [Terminated, Failed] {
            assert!(!end.is_active());
            for next in [Initializing, Active, Stopping, Terminated, Failed] {
                assert!(!end.can_become(next), "{end:?} -> {next:?}");
            }
        }
        assert!(!Active.can_become(Initializing));
        assert!(Stopping.is_active());
    }
}
