//! The bound-constrained half of L-BFGS (L-BFGS-B; Byrd, Lu, Nocedal and
//! Zhu 1995, with Morales and Nocedal's 2011 projection of the subspace
//! step). The L-BFGS matrix is kept in compact form,
//! `B = θI - W M Wᵀ` with `W = [Y, θS]` and
//! `M = [[-D, Lᵀ], [L, θ SᵀS]]⁻¹`, from which each iteration takes:
//!
//! 1. the generalised Cauchy point: the first minimiser of the quadratic
//!    model along the projected steepest-descent path `P(x - t g)`, found
//!    by walking the path's breakpoints in order (each fixes a variable
//!    at a bound) and updating the model's slope and curvature by O(m)
//!    work per breakpoint;
//! 2. the subspace step: the model's minimiser over the variables still
//!    free at the Cauchy point, by the Sherman–Morrison–Woodbury form of
//!    the reduced matrix;
//! 3. the projection of that step onto the box (or, if the projected
//!    point is not downhill, the step cut back to the box);
//!
//! and returns the direction from `x` to the point found, for a line search
//! kept inside the box.

use super::dense::cholesky;

/// The corrections as the compact form reads them: pair `a` (oldest
/// first) is in slot `order[a]` of the ring.
pub(super) struct Pairs<'a> {
    pub s: &'a [Vec<f64>],
    pub y: &'a [Vec<f64>],
    pub order: &'a [usize],
    /// By slot: `ss[i·memory + j] = s_i·s_j`, `sy[i·memory + j] = s_i·y_j`.
    pub ss: &'a [f64],
    pub sy: &'a [f64],
    pub memory: usize,
}

impl Pairs<'_> {
    fn len(&self) -> usize {
        self.order.len()
    }

    fn ss(&self, a: usize, b: usize) -> f64 {
        self.ss[self.order[a] * self.memory + self.order[b]]
    }

    fn sy(&self, a: usize, b: usize) -> f64 {
        self.sy[self.order[a] * self.memory + self.order[b]]
    }
}

/// Buffers for one iteration, allocated once.
pub(super) struct Scratch {
    /// The Cauchy point, then the point the iteration proposes.
    pub xcp: Vec<f64>,
    d: Vec<f64>,
    fixed: Vec<bool>,
    breaks: Vec<(f64, usize)>,
    free: Vec<usize>,
    du: Vec<f64>,
    /// `M` (2m × 2m), and scratch matrices of that size.
    m: Vec<f64>,
    /// The blocks of the matrix whose inverse is `M` (or of the subspace
    /// step's matrix), m × m each, and its factors.
    p_block: Vec<f64>,
    q_block: Vec<f64>,
    t_block: Vec<f64>,
    factors: Factors,
    b: Vec<f64>,
    p: Vec<f64>,
    c: Vec<f64>,
    mc: Vec<f64>,
    w: Vec<f64>,
    mw: Vec<f64>,
    v: Vec<f64>,
}

impl Scratch {
    pub fn new(n: usize, memory: usize) -> Scratch {
        let k = 2 * memory;
        Scratch {
            xcp: vec![0.0; n],
            d: vec![0.0; n],
            fixed: vec![false; n],
            breaks: Vec::with_capacity(n),
            free: Vec::with_capacity(n),
            du: vec![0.0; n],
            m: vec![0.0; k * k],
            p_block: vec![0.0; memory * memory],
            q_block: vec![0.0; memory * memory],
            t_block: vec![0.0; memory * memory],
            factors: Factors::new(memory),
            b: vec![0.0; k],
            p: vec![0.0; k],
            c: vec![0.0; k],
            mc: vec![0.0; k],
            w: vec![0.0; k],
            mw: vec![0.0; k],
            v: vec![0.0; k],
        }
    }
}

/// The point L-BFGS-B proposes from `x` (into `sc.xcp`), given the pairs
/// and `θ`; `false` if the compact matrix could not be formed (the caller
/// then forgets the pairs and tries again).
pub(super) fn propose(
    pairs: &Pairs<'_>,
    theta: f64,
    x: &[f64],
    g: &[f64],
    bounds: &[(f64, f64)],
    sc: &mut Scratch,
) -> bool {
    if pairs.len() > 0 && !middle_matrix(pairs, theta, sc) {
        return false;
    }
    cauchy_point(pairs, theta, x, g, bounds, sc);
    subspace_step(pairs, theta, x, g, bounds, sc);
    true
}

/// Row `i` of `W = [Y, θS]` into `w`.
fn w_row(pairs: &Pairs<'_>, theta: f64, i: usize, w: &mut [f64]) {
    let len = pairs.len();
    for a in 0..len {
        let slot = pairs.order[a];
        w[a] = pairs.y[slot][i];
        w[len + a] = theta * pairs.s[slot][i];
    }
}

/// `out = M v` for vectors of length `2·len`.
fn times_m(m: &[f64], k: usize, v: &[f64], out: &mut [f64]) {
    for r in 0..k {
        out[r] = (0..k).map(|q| m[r * k + q] * v[q]).sum();
    }
}

fn dot_k(a: &[f64], b: &[f64], k: usize) -> f64 {
    (0..k).map(|i| a[i] * b[i]).sum()
}

/// `M = [[-D, Lᵀ], [L, θ SᵀS]]⁻¹` into `sc.m`, column by column, from
/// the block factors of the matrix inverted ([`Factors`]), as Byrd, Lu,
/// Nocedal and Zhu factor it (their `formt`): `-D` is negative definite
/// and its Schur complement `θ SᵀS + L D⁻¹ Lᵀ` positive definite, so each
/// block has a Cholesky factor. `false` if one has none numerically.
fn middle_matrix(pairs: &Pairs<'_>, theta: f64, sc: &mut Scratch) -> bool {
    let len = pairs.len();
    let k = 2 * len;
    for r in 0..len {
        for q in 0..len {
            sc.p_block[r * len + q] = if r == q { pairs.sy(r, r) } else { 0.0 };
            // L[r][q] = s_r·y_q for r > q.
            sc.q_block[r * len + q] = if r > q { pairs.sy(r, q) } else { 0.0 };
            sc.t_block[r * len + q] = theta * pairs.ss(r, q);
        }
    }
    if !sc
        .factors
        .factor(&sc.p_block, &sc.q_block, &sc.t_block, len)
    {
        return false;
    }
    for col in 0..k {
        let e = &mut sc.b[..k];
        e.iter_mut()
            .enumerate()
            .for_each(|(i, v)| *v = f64::from(i == col));
        sc.factors.solve(len, e);
        for (r, &v) in e.iter().enumerate() {
            sc.m[r * k + col] = v;
        }
    }
    true
}

/// The factors of a symmetric `2len × 2len` matrix `[[-P, Qᵀ], [Q, T]]`
/// whose block `P` and Schur complement `T + Q P⁻¹ Qᵀ` are positive
/// definite: `P = L₁L₁ᵀ`, `G = L₁⁻¹Qᵀ`, `T + GᵀG = L₂L₂ᵀ`. Both of
/// L-BFGS-B's matrices have that form, and Cholesky factors are as
/// accurate however differently their rows are scaled, which the pairs of
/// a badly scaled problem make them (a step of 1e-8 beside one of 10):
/// Gaussian elimination of the whole matrix, with a threshold relative to
/// its largest entry, called such matrices singular or lost the step's
/// direction (Meyer's function in its box, where no bound was active:
/// directions off the two-loop recursion's by up to 100%, one uphill).
struct Factors {
    l1: Vec<f64>,
    g: Vec<f64>,
    l2: Vec<f64>,
    schur: Vec<f64>,
    w: Vec<f64>,
}

impl Factors {
    fn new(memory: usize) -> Factors {
        Factors {
            l1: vec![0.0; memory * memory],
            g: vec![0.0; memory * memory],
            l2: vec![0.0; memory * memory],
            schur: vec![0.0; memory * memory],
            w: vec![0.0; memory],
        }
    }

    /// Factors `[[-P, Qᵀ], [Q, T]]` (`len × len` blocks, row-major);
    /// `false` if `P` or the Schur complement is not numerically positive
    /// definite.
    fn factor(&mut self, p: &[f64], q: &[f64], t: &[f64], len: usize) -> bool {
        let nn = len * len;
        if !cholesky(&p[..nn], len, 0.0, &mut self.l1[..nn]) {
            return false;
        }
        // Column j of G solves L₁ x = (row j of Q).
        for j in 0..len {
            let x = &mut self.w[..len];
            x.copy_from_slice(&q[j * len..(j + 1) * len]);
            forward(&self.l1, len, x);
            for (i, &v) in x.iter().enumerate() {
                self.g[i * len + j] = v;
            }
        }
        for i in 0..len {
            for j in 0..len {
                let gg: f64 = (0..len)
                    .map(|r| self.g[r * len + i] * self.g[r * len + j])
                    .sum();
                self.schur[i * len + j] = t[i * len + j] + gg;
            }
        }
        cholesky(&self.schur[..nn], len, 0.0, &mut self.l2[..nn])
    }

    /// Solves the factored system for `(u, v)` (the two halves of `x`, of
    /// `len` each) in place.
    fn solve(&mut self, len: usize, x: &mut [f64]) {
        let (u, v) = x.split_at_mut(len);
        // w = L₁⁻¹u; b = (L₂L₂ᵀ)⁻¹(v + Gᵀw); a = L₁⁻ᵀ(G b - w).
        forward(&self.l1, len, u);
        for (i, vi) in v.iter_mut().enumerate() {
            *vi += (0..len).map(|r| self.g[r * len + i] * u[r]).sum::<f64>();
        }
        forward(&self.l2, len, v);
        backward(&self.l2, len, v);
        for (i, ui) in u.iter_mut().enumerate() {
            *ui = (0..len).map(|j| self.g[i * len + j] * v[j]).sum::<f64>() - *ui;
        }
        backward(&self.l1, len, u);
    }
}

/// `x = L⁻¹x`, `L` lower triangular (`n × n`, row-major).
fn forward(l: &[f64], n: usize, x: &mut [f64]) {
    for i in 0..n {
        let sum: f64 = (0..i).map(|k| l[i * n + k] * x[k]).sum();
        x[i] = (x[i] - sum) / l[i * n + i];
    }
}

/// `x = L⁻ᵀx`, `L` lower triangular (`n × n`, row-major).
fn backward(l: &[f64], n: usize, x: &mut [f64]) {
    for i in (0..n).rev() {
        let sum: f64 = (i + 1..n).map(|k| l[k * n + i] * x[k]).sum();
        x[i] = (x[i] - sum) / l[i * n + i];
    }
}

/// The generalised Cauchy point into `sc.xcp`, the variables it fixes at
/// a bound into `sc.fixed`, and `c = Wᵀ(xcp - x)` into `sc.c`.
fn cauchy_point(
    pairs: &Pairs<'_>,
    theta: f64,
    x: &[f64],
    g: &[f64],
    bounds: &[(f64, f64)],
    sc: &mut Scratch,
) {
    let n = x.len();
    let k = 2 * pairs.len();
    sc.xcp.copy_from_slice(x);
    sc.breaks.clear();
    for i in 0..n {
        let (lo, hi) = bounds[i];
        // Where the path x - t g meets variable i's bound.
        let t = if g[i] < 0.0 && hi.is_finite() {
            (x[i] - hi) / g[i]
        } else if g[i] > 0.0 && lo.is_finite() {
            (x[i] - lo) / g[i]
        } else {
            f64::INFINITY
        };
        sc.fixed[i] = t <= 0.0;
        sc.d[i] = if t <= 0.0 { 0.0 } else { -g[i] };
        if t > 0.0 && t.is_finite() {
            sc.breaks.push((t, i));
        }
    }
    sc.breaks.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
    // p = Wᵀd, c = 0; the model's slope and curvature along d.
    sc.p[..k].fill(0.0);
    sc.c[..k].fill(0.0);
    for i in 0..n {
        if sc.d[i] != 0.0 {
            w_row(pairs, theta, i, &mut sc.w);
            for q in 0..k {
                sc.p[q] += sc.w[q] * sc.d[i];
            }
        }
    }
    let mut slope = -dot_k(&sc.d, &sc.d, n);
    times_m(&sc.m, k, &sc.p, &mut sc.mw);
    let mut curvature = -theta * slope - dot_k(&sc.p, &sc.mw, k);
    let floor = f64::EPSILON * curvature;
    let mut t_old = 0.0;
    let mut dt_min = if curvature > 0.0 {
        -slope / curvature
    } else {
        f64::INFINITY
    };
    for &(t, b) in &sc.breaks {
        if slope >= 0.0 {
            dt_min = 0.0;
            break;
        }
        let dt = t - t_old;
        if dt_min < dt {
            break;
        }
        // Variable b reaches its bound and stays there.
        let bound = if sc.d[b] > 0.0 {
            bounds[b].1
        } else {
            bounds[b].0
        };
        let z = bound - x[b];
        sc.xcp[b] = bound;
        for q in 0..k {
            sc.c[q] += dt * sc.p[q];
        }
        let gb = g[b];
        w_row(pairs, theta, b, &mut sc.w);
        times_m(&sc.m, k, &sc.w, &mut sc.mw);
        let (w_mc, w_mp, w_mw) = (
            dot_k(&sc.mw, &sc.c, k),
            dot_k(&sc.mw, &sc.p, k),
            dot_k(&sc.mw, &sc.w, k),
        );
        slope += dt * curvature + gb * gb + theta * gb * z - gb * w_mc;
        curvature += -theta * gb * gb - 2.0 * gb * w_mp - gb * gb * w_mw;
        curvature = curvature.max(floor);
        for q in 0..k {
            sc.p[q] += gb * sc.w[q];
        }
        sc.d[b] = 0.0;
        sc.fixed[b] = true;
        t_old = t;
        dt_min = if curvature > 0.0 {
            -slope / curvature
        } else {
            f64::INFINITY
        };
    }
    // No minimiser along a path that ends at finite distance: the last
    // segment is unbounded only if a variable is unbounded; otherwise all
    // variables are fixed and the walk stopped at the last breakpoint.
    let dt_min = if dt_min.is_finite() {
        dt_min.max(0.0)
    } else {
        0.0
    };
    let t = t_old + dt_min;
    for i in 0..n {
        if !sc.fixed[i] && sc.d[i] != 0.0 {
            sc.xcp[i] = (x[i] + t * sc.d[i]).clamp(bounds[i].0, bounds[i].1);
        }
    }
    for q in 0..k {
        sc.c[q] += dt_min * sc.p[q];
    }
}

/// Minimises the model over the variables free at the Cauchy point and
/// leaves the proposed point in `sc.xcp`.
fn subspace_step(
    pairs: &Pairs<'_>,
    theta: f64,
    x: &[f64],
    g: &[f64],
    bounds: &[(f64, f64)],
    sc: &mut Scratch,
) {
    let n = x.len();
    let k = 2 * pairs.len();
    sc.free.clear();
    sc.free.extend((0..n).filter(|&i| !sc.fixed[i]));
    if sc.free.is_empty() {
        return;
    }
    // Reduced gradient of the model at the Cauchy point:
    // r = Zᵀ(g + θ(xcp - x) - W M c), and v = WᵀZ r.
    times_m(&sc.m, k, &sc.c, &mut sc.mc);
    sc.v[..k].fill(0.0);
    for &i in &sc.free {
        w_row(pairs, theta, i, &mut sc.w);
        let r = g[i] + theta * (sc.xcp[i] - x[i]) - dot_k(&sc.w, &sc.mc, k);
        sc.du[i] = r;
        for q in 0..k {
            sc.v[q] += sc.w[q] * r;
        }
    }
    // du = -(ZᵀBZ)⁻¹r = -r/θ - (1/θ²) ZᵀW K⁻¹ WᵀZ r (Sherman–Morrison–
    // Woodbury), K = M⁻¹ - (1/θ) WᵀZZᵀW: with P = D + YᵀZZᵀY/θ,
    // Q = L - SᵀZZᵀY and T = θ SᵀAAᵀS (A the fixed variables, Z the free),
    // K = [[-P, Qᵀ], [Q, T]], factored as M⁻¹ is ([`Factors`]; Byrd, Lu,
    // Nocedal and Zhu's `formk`). Each block is summed over the variables
    // it runs over, not as a difference of sums, so that none cancels.
    let solved = k > 0 && reduced_matrix(pairs, theta, sc);
    if solved {
        sc.factors.solve(k / 2, &mut sc.v[..k]);
    }
    for &i in &sc.free {
        let mut correction = 0.0;
        if solved {
            w_row(pairs, theta, i, &mut sc.w);
            correction = dot_k(&sc.w, &sc.v, k) / (theta * theta);
        }
        sc.du[i] = -sc.du[i] / theta - correction;
    }
    // Morales–Nocedal: project the subspace minimiser onto the box, and
    // keep it if the way there from x is downhill.
    let mut downhill = 0.0;
    for &i in &sc.free {
        let projected = (sc.xcp[i] + sc.du[i]).clamp(bounds[i].0, bounds[i].1);
        downhill += g[i] * (projected - x[i]);
    }
    for i in 0..n {
        if sc.fixed[i] {
            downhill += g[i] * (sc.xcp[i] - x[i]);
        }
    }
    if downhill < 0.0 {
        for &i in &sc.free {
            sc.xcp[i] = (sc.xcp[i] + sc.du[i]).clamp(bounds[i].0, bounds[i].1);
        }
        return;
    }
    // Otherwise the longest part of the step that stays in the box.
    let mut alpha: f64 = 1.0;
    for &i in &sc.free {
        let (lo, hi) = bounds[i];
        let room = if sc.du[i] > 0.0 {
            (hi - sc.xcp[i]) / sc.du[i]
        } else if sc.du[i] < 0.0 {
            (lo - sc.xcp[i]) / sc.du[i]
        } else {
            f64::INFINITY
        };
        alpha = alpha.min(room.max(0.0));
    }
    for &i in &sc.free {
        sc.xcp[i] = (sc.xcp[i] + alpha * sc.du[i]).clamp(bounds[i].0, bounds[i].1);
    }
}

/// Factors the subspace step's matrix `K = [[-P, Qᵀ], [Q, T]]` (see
/// [`subspace_step`]) into `sc.factors`; `false` if it could not be.
fn reduced_matrix(pairs: &Pairs<'_>, theta: f64, sc: &mut Scratch) -> bool {
    let len = pairs.len();
    let nn = len * len;
    sc.p_block[..nn].fill(0.0);
    sc.q_block[..nn].fill(0.0);
    sc.t_block[..nn].fill(0.0);
    for (i, &fixed) in sc.fixed.iter().enumerate() {
        for a in 0..len {
            let (sa, ya) = (pairs.s[pairs.order[a]][i], pairs.y[pairs.order[a]][i]);
            for b in 0..len {
                let (sb, yb) = (pairs.s[pairs.order[b]][i], pairs.y[pairs.order[b]][i]);
                if fixed {
                    // SᵀAAᵀY and SᵀAAᵀS.
                    sc.q_block[a * len + b] += sa * yb;
                    sc.t_block[a * len + b] += sa * sb;
                } else {
                    sc.p_block[a * len + b] += ya * yb;
                }
            }
        }
    }
    for a in 0..len {
        for b in 0..len {
            let ab = a * len + b;
            sc.p_block[ab] /= theta;
            if a == b {
                sc.p_block[ab] += pairs.sy(a, a);
            }
            // L - SᵀY + SᵀAAᵀY: -s_a·y_b on and above the diagonal.
            if a <= b {
                sc.q_block[ab] -= pairs.sy(a, b);
            }
            sc.t_block[ab] *= theta;
        }
    }
    sc.factors
        .factor(&sc.p_block, &sc.q_block, &sc.t_block, len)
}
