//! The benchmark functions' hand-written value and gradient (value in
//! `out[0]`, gradient after it) and value alone, as a good engineer would
//! write them: loops where loops belong, prefix and suffix products for
//! the product. `benches/gradients.rs` times them against the compiled
//! code, `benches/call_counts.rs` counts their instructions.

use slope::testfns;

use super::rosenbrock;

pub fn parabola(x: &[f64], out: &mut [f64]) {
    out[0] = 3.0 * x[0] * x[0] + 2.0 * x[0] + 1.0;
    out[1] = 6.0 * x[0] + 2.0;
}

pub fn gaussian(x: &[f64], out: &mut [f64]) {
    let e = (-x[0] * x[0] - x[1] * x[1]).exp();
    out[0] = -e;
    out[1] = 2.0 * x[0] * e;
    out[2] = 2.0 * x[1] * e;
}

pub fn sphere(x: &[f64], out: &mut [f64]) {
    let centre = [1.5, 2.5, 0.5];
    let mut f = 0.0;
    for i in 0..3 {
        let d = x[i] - centre[i];
        f += d * d;
        out[i + 1] = 2.0 * d;
    }
    out[0] = f;
}

/// [`rosenbrock`] in this file's layout (value in `out[0]`).
pub fn rosenbrock_out(x: &[f64], out: &mut [f64]) {
    let (value, grad) = out.split_at_mut(1);
    value[0] = rosenbrock(x, grad);
}

pub fn ackley(x: &[f64], out: &mut [f64]) {
    use std::f64::consts::{E, PI};
    let (a, b) = (x[0], x[1]);
    let r = (0.5 * (a * a + b * b)).sqrt();
    let e1 = (-0.2 * r).exp();
    let (ca, cb) = ((2.0 * PI * a).cos(), (2.0 * PI * b).cos());
    let e2 = (0.5 * (ca + cb)).exp();
    out[0] = -20.0 * e1 - e2 + E + 20.0;
    // d/da of -20 exp(-0.2 r) is 2 exp(-0.2 r) a / r (r > 0 at the point).
    let radial = 2.0 * e1 / r;
    out[1] = radial * a + PI * (2.0 * PI * a).sin() * e2;
    out[2] = radial * b + PI * (2.0 * PI * b).sin() * e2;
}

/// Prefix and suffix products: each partial is the product of the others.
pub fn product(x: &[f64], out: &mut [f64]) {
    let n = x.len();
    let (value, grad) = out.split_at_mut(1);
    let mut prefix = 1.0;
    for i in 0..n {
        grad[i] = prefix;
        prefix *= x[i];
    }
    let mut suffix = 1.0;
    for i in (0..n).rev() {
        grad[i] *= suffix;
        suffix *= x[i];
    }
    value[0] = prefix;
}

pub fn nested_sin50(x: &[f64], out: &mut [f64]) {
    let mut u = x[0] * x[1];
    let mut d = 1.0;
    for _ in 0..50 {
        d *= u.cos();
        u = u.sin();
    }
    out[0] = u;
    out[1] = d * x[1];
    out[2] = d * x[0];
}

pub fn logistic(w: &[f64], out: &mut [f64]) {
    static DATA: std::sync::OnceLock<(Vec<Vec<f64>>, Vec<f64>)> = std::sync::OnceLock::new();
    let (rows, labels) = DATA.get_or_init(|| testfns::logistic_data(10, 100));
    {
        let (value, grad) = out.split_at_mut(1);
        grad.fill(0.0);
        let mut f = 0.0;
        for (row, label) in rows.iter().zip(labels) {
            let dot: f64 = row.iter().zip(w).map(|(a, w)| a * w).sum();
            let m = -label * dot;
            let e = m.exp();
            f += (1.0 + e).ln();
            let dm = e / (1.0 + e) * -label;
            for (g, a) in grad.iter_mut().zip(row) {
                *g += dm * a;
            }
        }
        value[0] = f;
    }
}

// ---------------------------------------------------------------------------
// Hand-written values alone: the same arithmetic without the gradient.

pub fn parabola_value(x: &[f64]) -> f64 {
    3.0 * x[0] * x[0] + 2.0 * x[0] + 1.0
}

pub fn gaussian_value(x: &[f64]) -> f64 {
    -(-x[0] * x[0] - x[1] * x[1]).exp()
}

pub fn sphere_value(x: &[f64]) -> f64 {
    let centre = [1.5, 2.5, 0.5];
    (0..3)
        .map(|i| (x[i] - centre[i]) * (x[i] - centre[i]))
        .sum()
}

pub fn rosenbrock_value(x: &[f64]) -> f64 {
    let mut f = 0.0;
    for i in 0..x.len() - 1 {
        let t = x[i + 1] - x[i] * x[i];
        let s = 1.0 - x[i];
        f += 100.0 * t * t + s * s;
    }
    f
}

pub fn ackley_value(x: &[f64]) -> f64 {
    use std::f64::consts::{E, PI};
    let (a, b) = (x[0], x[1]);
    let r = (0.5 * (a * a + b * b)).sqrt();
    let e2 = (0.5 * ((2.0 * PI * a).cos() + (2.0 * PI * b).cos())).exp();
    -20.0 * (-0.2 * r).exp() - e2 + E + 20.0
}

pub fn product_value(x: &[f64]) -> f64 {
    x.iter().product()
}

pub fn nested_sin50_value(x: &[f64]) -> f64 {
    let mut u = x[0] * x[1];
    for _ in 0..50 {
        u = u.sin();
    }
    u
}

pub fn logistic_value(w: &[f64]) -> f64 {
    static DATA: std::sync::OnceLock<(Vec<Vec<f64>>, Vec<f64>)> = std::sync::OnceLock::new();
    let (rows, labels) = DATA.get_or_init(|| testfns::logistic_data(10, 100));
    rows.iter()
        .zip(labels)
        .map(|(row, label)| {
            let dot: f64 = row.iter().zip(w).map(|(a, w)| a * w).sum();
            (1.0 + (-label * dot).exp()).ln()
        })
        .sum()
}
