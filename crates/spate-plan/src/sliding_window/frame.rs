//! The moving parts of [`super::SlidingWindowAggExec`]: each aggregate's state, which rows
//! enter and leave in place, and the rows of the current frame kept for leaving (their order
//! keys and their aggregates' inputs as plain values).

use std::collections::VecDeque;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Builder, Int64Builder};
use datafusion::arrow::compute::SortOptions;
use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type};
use datafusion::error::Result as DfResult;

use super::AggKind;
use crate::functions::approx_distinct::{RetractableSketch, hashes};

/// One row's input to one aggregate.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Cell {
    Null,
    Present,
    Double(f64),
    Hash(u64),
}

/// An aggregate's argument over one batch, ready to give [`Cell`]s.
pub(crate) enum Inputs {
    Rows,
    Valid(ArrayRef),
    Doubles(ArrayRef),
    Hashes(Vec<Option<u64>>),
}

impl Inputs {
    /// The argument `values` of an aggregate of `kind`.
    pub(crate) fn new(kind: AggKind, values: ArrayRef) -> DfResult<Self> {
        Ok(match kind {
            AggKind::CountRows => Self::Rows,
            AggKind::Count => Self::Valid(values),
            AggKind::Sum | AggKind::Avg => Self::Doubles(values),
            AggKind::ApproxDistinct { .. } => Self::Hashes(hashes(&values)?),
        })
    }

    pub(crate) fn cell(&self, row: usize) -> Cell {
        match self {
            Self::Rows => Cell::Present,
            Self::Valid(a) if a.is_valid(row) => Cell::Present,
            Self::Doubles(a) if a.is_valid(row) => {
                Cell::Double(a.as_primitive::<Float64Type>().value(row))
            }
            Self::Hashes(h) => h[row].map_or(Cell::Null, Cell::Hash),
            _ => Cell::Null,
        }
    }
}

/// An aggregate's state over the rows of the frame.
#[derive(Debug)]
pub(crate) enum State {
    Count(i64),
    /// Sum and count of the values (the sum restarts at zero when the count does).
    Sum(f64, u64),
    Avg(f64, u64),
    Distinct(Box<RetractableSketch>),
}

impl State {
    pub(crate) fn new(kind: AggKind) -> Self {
        match kind {
            AggKind::CountRows | AggKind::Count => Self::Count(0),
            AggKind::Sum => Self::Sum(0.0, 0),
            AggKind::Avg => Self::Avg(0.0, 0),
            AggKind::ApproxDistinct { p } => Self::Distinct(Box::new(RetractableSketch::new(p))),
        }
    }

    pub(crate) fn reset(&mut self) {
        match self {
            Self::Count(n) => *n = 0,
            Self::Sum(s, n) | Self::Avg(s, n) => (*s, *n) = (0.0, 0),
            Self::Distinct(sketch) => sketch.clear(),
        }
    }

    pub(crate) fn add(&mut self, cell: Cell) {
        match (self, cell) {
            (_, Cell::Null) => {}
            (Self::Count(n), _) => *n += 1,
            (Self::Sum(s, n) | Self::Avg(s, n), Cell::Double(v)) => {
                *s += v;
                *n += 1;
            }
            (Self::Distinct(sketch), Cell::Hash(h)) => sketch.add(h),
            _ => {}
        }
    }

    /// Bytes held beyond the enum itself.
    pub(crate) fn size(&self) -> usize {
        match self {
            Self::Distinct(sketch) => sketch.size(),
            _ => 0,
        }
    }

    pub(crate) fn remove(&mut self, cell: Cell) {
        match (self, cell) {
            (_, Cell::Null) => {}
            (Self::Count(n), _) => *n -= 1,
            (Self::Sum(s, n) | Self::Avg(s, n), Cell::Double(v)) => {
                *n -= 1;
                // no value left: no rounding residue either
                *s = if *n == 0 { 0.0 } else { *s - v };
            }
            (Self::Distinct(sketch), Cell::Hash(h)) => sketch.remove(h),
            _ => {}
        }
    }
}

/// The output column of one aggregate.
pub(crate) enum Output {
    Int64(Int64Builder),
    Float64(Float64Builder),
}

impl Output {
    pub(crate) fn new(kind: AggKind, rows: usize) -> Self {
        match kind {
            AggKind::Sum | AggKind::Avg => Self::Float64(Float64Builder::with_capacity(rows)),
            _ => Self::Int64(Int64Builder::with_capacity(rows)),
        }
    }

    /// Appends the value of `state`.
    pub(crate) fn push(&mut self, state: &State) {
        match (self, state) {
            (Self::Int64(b), State::Count(n)) => b.append_value(*n),
            (Self::Int64(b), State::Distinct(sketch)) => b.append_value(sketch.estimate()),
            (Self::Float64(b), State::Sum(s, n)) => b.append_option((*n > 0).then_some(*s)),
            (Self::Float64(b), State::Avg(s, n)) => {
                b.append_option((*n > 0).then(|| *s / *n as f64))
            }
            (Self::Int64(b), _) => b.append_null(),
            (Self::Float64(b), _) => b.append_null(),
        }
    }

    pub(crate) fn finish(self) -> ArrayRef {
        match self {
            Self::Int64(mut b) => Arc::new(b.finish()),
            Self::Float64(mut b) => Arc::new(b.finish()),
        }
    }
}

/// The rows of the frame that may still leave it, oldest first.
#[derive(Debug, Default)]
pub(crate) struct FrameRows {
    /// Normalised order keys (see [`normalise`]), for `RANGE` frames.
    pub(crate) keys: VecDeque<i128>,
    /// Per aggregate, the rows' inputs.
    pub(crate) cells: Vec<VecDeque<Cell>>,
    /// Rows held.
    pub(crate) len: usize,
}

impl FrameRows {
    pub(crate) fn new(aggs: usize) -> Self {
        Self {
            keys: VecDeque::new(),
            cells: (0..aggs).map(|_| VecDeque::new()).collect(),
            len: 0,
        }
    }

    /// Bytes held.
    pub(crate) fn size(&self) -> usize {
        self.keys.capacity() * std::mem::size_of::<i128>()
            + self
                .cells
                .iter()
                .map(|c| c.capacity() * std::mem::size_of::<Cell>())
                .sum::<usize>()
    }

    pub(crate) fn clear(&mut self) {
        self.keys.clear();
        self.cells.iter_mut().for_each(VecDeque::clear);
        self.len = 0;
    }

    /// Removes the oldest row from the frame and from the aggregates' states.
    pub(crate) fn pop_into(&mut self, states: &mut [State]) {
        self.keys.pop_front();
        for (cells, state) in self.cells.iter_mut().zip(states) {
            if let Some(cell) = cells.pop_front() {
                state.remove(cell);
            }
        }
        self.len = self.len.saturating_sub(1);
    }
}

/// Order keys as `i128`s that ascend in the window's order: negated for a descending order,
/// nulls below or above every value as the order puts them first or last.
pub(crate) fn normalise(keys: &ArrayRef, options: SortOptions) -> DfResult<Vec<i128>> {
    let keys = datafusion::arrow::compute::cast(keys, &DataType::Int64)?;
    let keys = keys.as_primitive::<Int64Type>();
    let null = if options.nulls_first {
        i128::MIN
    } else {
        i128::MAX
    };
    Ok((0..keys.len())
        .map(|i| {
            if keys.is_null(i) {
                null
            } else if options.descending {
                -i128::from(keys.value(i))
            } else {
                i128::from(keys.value(i))
            }
        })
        .collect())
}

/// The smallest normalised key in the frame of a row keyed `key` that starts `n` before it:
/// a null key's frame holds the null keys only.
pub(crate) fn lower_bound(key: i128, n: i128) -> i128 {
    if key == i128::MIN || key == i128::MAX {
        key
    } else {
        key - n
    }
}
