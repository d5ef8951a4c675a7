//! The run-time inputs of compiled loops: parameters, where each array
//! lies in `x` and its extents, and the data columns, laid out as the code
//! reads them.

use crate::bind::Frame;

/// The run-time inputs of the code, laid out for it by [`Frame::inputs`].
#[repr(C)]
pub struct Inputs {
    /// `[n_vars, int_params.., per array: offset, per dimension: lo, len]`.
    pub(super) ints: *const i64,
    /// The parameters' values.
    pub(super) floats: *const f64,
    /// Each data column's first element.
    pub(super) data: *const *const f64,
    /// The direction of a Hessian-vector product (null for other code).
    pub(super) direction: *const f64,
}

/// The buffers `Inputs` points into, built from a `Frame`.
#[derive(Clone, Debug, Default)]
pub struct InputBuffers {
    pub(super) ints: Vec<i64>,
    pub(super) floats: Vec<f64>,
    pub(super) data: Vec<Vec<f64>>,
    pub(super) n_vars: usize,
}

impl Frame {
    /// The frame as the native code reads it.
    pub fn inputs(&self, n_vars: usize) -> InputBuffers {
        let mut ints = vec![n_vars as i64];
        ints.extend_from_slice(&self.int_params);
        for p in &self.arrays {
            ints.push(p.offset as i64);
            for &(lo, len) in &p.dims {
                ints.push(lo);
                ints.push(len as i64);
            }
        }
        InputBuffers {
            ints,
            floats: self.params.clone(),
            data: self.data.clone(),
            n_vars,
        }
    }
}

/// Where an array's block starts in [`Inputs::ints`]: after `n_vars`, the
/// parameters and the blocks of the arrays before it.
pub(super) fn array_blocks(n_params: usize, ranks: &[usize]) -> Vec<usize> {
    let mut at = 1 + n_params;
    ranks
        .iter()
        .map(|r| {
            let start = at;
            at += 1 + 2 * r;
            start
        })
        .collect()
}
