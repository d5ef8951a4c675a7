//! The model's residuals and Jacobian over the data, a block of rows at a
//! time: the compiled row loop (`RowEval`) and the weighted residuals the
//! Levenberg–Marquardt loop reads (`Rows`, its `Residuals`).

use super::Model;
use super::lm::Residuals;
use super::stream::RowSink;
use crate::jit::RowCode;

pub(super) use super::stream::BLOCK;

/// Where each residual of a pass lies in the order the pass feeds them,
/// listed family by family (all rows of the first family first): a pass
/// feeds a block of rows of every family in turn, then the next block.
pub(super) fn fed_order(rows: usize, families: usize) -> Vec<usize> {
    let mut order = Vec::with_capacity(rows * families);
    for f in 0..families {
        for i in 0..rows {
            let lo = i / BLOCK * BLOCK;
            let n = (lo + BLOCK).min(rows) - lo;
            order.push(lo * families + f * n + (i - lo));
        }
    }
    order
}

/// The model's outputs a block of rows at a time, through the compiled
/// loop over the rows.
pub(super) struct RowEval<'a> {
    pub(super) code: &'a RowCode,
    pub(super) predictors: Vec<&'a [f64]>,
    /// Column-major, `BLOCK` rows per output (see [`Form`]).
    pub(super) block: Vec<f64>,
    pub(super) n_params: usize,
    pub(super) rows: usize,
}

impl<'a> RowEval<'a> {
    pub(super) fn new(model: &'a Model, predictors: &[&'a [f64]], rows: usize) -> RowEval<'a> {
        RowEval {
            code: &model.code,
            predictors: predictors.to_vec(),
            block: vec![0.0; model.outputs.len() * BLOCK],
            n_params: model.params.len(),
            rows,
        }
    }

    /// The outputs at `params` for the rows `rows` (at most `BLOCK`), into
    /// `self.block`.
    pub(super) fn block(&mut self, params: &[f64], rows: std::ops::Range<usize>) {
        self.code
            .call(params, &self.predictors, rows, &mut self.block, BLOCK);
    }
}

/// The weighted residuals of a model on data: `(yᵢ − m(rowᵢ))/σᵢ` for
/// `y ~ MODEL`, `√cₖ·rₖ(rowᵢ)/σᵢ` for each family k of a sum of squares.
pub(super) struct Rows<'a> {
    pub(super) eval: RowEval<'a>,
    /// The response of `y ~ MODEL`; `None` for a sum of squares.
    pub(super) y: Option<&'a [f64]>,
    /// √cₖ for each family (one 1 for `y ~ MODEL`).
    pub(super) scales: Vec<f64>,
    /// 1/σᵢ, or `None` for 1 in every row.
    pub(super) w: Option<&'a [f64]>,
    /// [`Residuals::rounding`] of the last pass.
    pub(super) rounding: f64,
}

impl Rows<'_> {
    /// A pass of `y ~ MODEL`: the block turned into residuals and their
    /// gradients in place, column by column. Whether they are finite the
    /// sink tells ([`RowSink::rows`]), so each value is touched once
    /// here; without weights (σ = 1, `w` is `None`) nothing is multiplied
    /// by them.
    fn response(&mut self, y: &[f64], x: &[f64], sink: &mut dyn RowSink) -> bool {
        let (p, m) = (self.eval.n_params, self.eval.rows);
        let mut finite = true;
        let mut rounding = 0.0;
        let mut r = [0.0; BLOCK];
        for lo in (0..m).step_by(BLOCK) {
            let hi = (lo + BLOCK).min(m);
            let n = hi - lo;
            self.eval.block(x, lo..hi);
            let y = &y[lo..hi];
            let (values, partials) = self.eval.block.split_at_mut(BLOCK);
            let (values, partials) = (&values[..n], &mut partials[..p * BLOCK]);
            match self.w {
                None => {
                    for ((ri, &model), &yi) in r.iter_mut().zip(values).zip(y) {
                        *ri = yi - model;
                    }
                    rounding += rounding_sum(&r[..n], None, y, values);
                    // Whole columns (a short block's last rows are not
                    // read): a loop the compiler vectorises.
                    for g in partials.iter_mut() {
                        *g = -*g;
                    }
                }
                Some(w) => {
                    let w = &w[lo..hi];
                    for (((ri, &model), &yi), &wi) in r.iter_mut().zip(values).zip(y).zip(w) {
                        *ri = (yi - model) * wi;
                    }
                    rounding += rounding_sum(&r[..n], Some(w), y, values);
                    for column in partials.chunks_exact_mut(BLOCK) {
                        for (g, &wi) in column.iter_mut().zip(w) {
                            *g = -*g * wi;
                        }
                    }
                }
            }
            finite &= sink.rows(&mut r[..n], partials, BLOCK);
        }
        self.rounding = 2.0 * f64::EPSILON * rounding;
        finite
    }

    /// A pass of a sum of squares: each block's rows of every family in
    /// turn, each scaled by its √c and σ.
    fn families(&mut self, x: &[f64], sink: &mut dyn RowSink) -> bool {
        let (p, m, k) = (self.eval.n_params, self.eval.rows, self.scales.len());
        let mut finite = true;
        let mut rounding = 0.0;
        let mut r = [0.0; BLOCK];
        let mut w = [1.0; BLOCK];
        for lo in (0..m).step_by(BLOCK) {
            let n = (lo + BLOCK).min(m) - lo;
            self.eval.block(x, lo..lo + n);
            let (head, partials) = self.eval.block.split_at_mut(3 * k * BLOCK);
            for (f, &scale) in self.scales.iter().enumerate() {
                for (i, wi) in w[..n].iter_mut().enumerate() {
                    *wi = scale * self.w.map_or(1.0, |w| w[lo + i]);
                }
                let values = &head[f * BLOCK..][..n];
                let magnitudes = &head[(k + f) * BLOCK..][..n];
                for (((ri, &v), &wi), &size) in r.iter_mut().zip(values).zip(&w).zip(magnitudes) {
                    *ri = v * wi;
                    rounding += (*ri * wi * size).abs();
                }
                let jac = &mut partials[f * p * BLOCK..(f + 1) * p * BLOCK];
                for column in jac.chunks_exact_mut(BLOCK) {
                    for (g, &wi) in column.iter_mut().zip(&w[..n]) {
                        *g *= wi;
                    }
                }
                finite &= sink.rows(&mut r[..n], jac, BLOCK);
            }
        }
        self.rounding = 2.0 * f64::EPSILON * rounding;
        finite
    }
}

/// Σ |rᵢ·wᵢ·(|yᵢ| + |mᵢ|)| over a block, summed in four lanes: one
/// chain of dependent additions, a few cycles a row, cost more than the
/// rest of the sweep. `w` `None` is 1 in every row (the same bits: the
/// product by 1 is exact). Read four rows at a time from slices of four,
/// so that no index is checked.
fn rounding_sum(r: &[f64], w: Option<&[f64]>, y: &[f64], model: &[f64]) -> f64 {
    const ONES: [f64; BLOCK] = [1.0; BLOCK];
    let n = r.len();
    let (w, y, model) = (w.unwrap_or(&ONES[..n]), &y[..n], &model[..n]);
    let term = |r: f64, w: f64, y: f64, m: f64| (r * w * (y.abs() + m.abs())).abs();
    let (r4, w4) = (r.chunks_exact(4), w[..n].chunks_exact(4));
    let (y4, m4) = (y.chunks_exact(4), model.chunks_exact(4));
    let tail: f64 = (r4.remainder().iter().zip(w4.remainder()))
        .zip(y4.remainder().iter().zip(m4.remainder()))
        .map(|((&r, &w), (&y, &m))| term(r, w, y, m))
        .sum();
    let mut lanes = [0.0; 4];
    for ((r, w), (y, m)) in r4.zip(w4).zip(y4.zip(m4)) {
        for (l, lane) in lanes.iter_mut().enumerate() {
            *lane += term(r[l], w[l], y[l], m[l]);
        }
    }
    (lanes[0] + lanes[2]) + (lanes[1] + lanes[3]) + tail
}

impl Residuals for Rows<'_> {
    fn rows(&self) -> usize {
        self.eval.rows * self.scales.len()
    }

    fn params(&self) -> usize {
        self.eval.n_params
    }

    fn eval(&mut self, x: &[f64], sink: &mut dyn RowSink) -> bool {
        match self.y {
            Some(y) => self.response(y, x, sink),
            None => self.families(x, sink),
        }
    }

    fn rounding(&self) -> f64 {
        self.rounding
    }
}
