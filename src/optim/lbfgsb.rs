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

use super::dense::solve;

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
    a: Vec<f64>,
    n_mat: Vec<f64>,
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
            a: vec![0.0; k * k],
            n_mat: vec![0.0; k * k],
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

/// `M = [[-D, Lᵀ], [L, θ SᵀS]]⁻¹` into `sc.m`, column by column.
fn middle_matrix(pairs: &Pairs<'_>, theta: f64, sc: &mut Scratch) -> bool {
    let len = pairs.len();
    let k = 2 * len;
    let fill = |a: &mut [f64]| {
        for r in 0..len {
            for q in 0..len {
                a[r * k + q] = if r == q { -pairs.sy(r, r) } else { 0.0 };
                // Lᵀ[r][q] = L[q][r] = s_q·y_r for q > r.
                a[r * k + len + q] = if q > r { pairs.sy(q, r) } else { 0.0 };
                a[(len + r) * k + q] = if r > q { pairs.sy(r, q) } else { 0.0 };
                a[(len + r) * k + len + q] = theta * pairs.ss(r, q);
            }
        }
    };
    for col in 0..k {
        fill(&mut sc.a[..k * k]);
        let e = &mut sc.b[..k];
        e.iter_mut()
            .enumerate()
            .for_each(|(i, v)| *v = f64::from(i == col));
        if !solve(&mut sc.a[..k * k], k, e) {
            return false;
        }
        for (r, &v) in e.iter().enumerate() {
            sc.m[r * k + col] = v;
        }
    }
    true
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
    // r = Zᵀ(g + θ(xcp - x) - W M c).
    times_m(&sc.m, k, &sc.c, &mut sc.mc);
    sc.v[..k].fill(0.0);
    sc.a[..k * k].fill(0.0);
    for &i in &sc.free {
        w_row(pairs, theta, i, &mut sc.w);
        let r = g[i] + theta * (sc.xcp[i] - x[i]) - dot_k(&sc.w, &sc.mc, k);
        sc.du[i] = r;
        for q in 0..k {
            sc.v[q] += sc.w[q] * r;
            for s in 0..k {
                sc.a[q * k + s] += sc.w[q] * sc.w[s];
            }
        }
    }
    if k > 0 {
        // du = -r/θ - (1/θ²) Zᵀ W (I - (1/θ) M WᵀZZᵀW)⁻¹ M WᵀZ r.
        times_m(&sc.m, k, &sc.v, &mut sc.b);
        // N = I - (1/θ) M A, into `a` (by columns through `mw`).
        let n_mat = &mut sc.n_mat;
        for col in 0..k {
            for q in 0..k {
                sc.w[q] = sc.a[q * k + col];
            }
            times_m(&sc.m, k, &sc.w, &mut sc.mw);
            for r in 0..k {
                n_mat[r * k + col] = f64::from(r == col) - sc.mw[r] / theta;
            }
        }
        sc.a[..k * k].copy_from_slice(&n_mat[..k * k]);
        let solved = solve(&mut sc.a[..k * k], k, &mut sc.b[..k]);
        for &i in &sc.free {
            let mut correction = 0.0;
            if solved {
                w_row(pairs, theta, i, &mut sc.w);
                correction = dot_k(&sc.w, &sc.b, k) / (theta * theta);
            }
            sc.du[i] = -sc.du[i] / theta - correction;
        }
    } else {
        for &i in &sc.free {
            sc.du[i] = -sc.du[i] / theta;
        }
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
