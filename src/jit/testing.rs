//! What the jit's unit tests share: a comparison with the interpreter at
//! points, special values, and a lock for the tests that use much memory.

use crate::eval::Interpreter;
use crate::graph::{Graph, NodeId};
use crate::jit::Compiled;

/// Held by the tests that use much memory, so that the leak test's
/// measurement sees only its own.
static MEMORY: std::sync::Mutex<()> = std::sync::Mutex::new(());

pub(super) fn exclusive() -> std::sync::MutexGuard<'static, ()> {
    MEMORY.lock().unwrap_or_else(|e| e.into_inner())
}

/// Distance in units in the last place; NaN matches only NaN.
pub(super) fn ulps(a: f64, b: f64) -> u64 {
    if a.is_nan() || b.is_nan() {
        return if a.is_nan() && b.is_nan() {
            0
        } else {
            u64::MAX
        };
    }
    let key = |v: f64| {
        let bits = v.to_bits() as i64;
        if bits < 0 { i64::MIN - bits } else { bits }
    };
    key(a).abs_diff(key(b))
}

/// Compiles `outputs` and checks them against the interpreter at each point.
pub(super) fn check(g: &Graph, outputs: &[NodeId], n_vars: usize, points: &[Vec<f64>]) {
    let compiled = Compiled::compile(g, outputs, n_vars).expect("compiles");
    let interpreter = Interpreter::new(g, outputs);
    let mut out = vec![0.0; outputs.len()];
    for x in points {
        compiled.call(x, &mut out);
        let want = interpreter.eval(x);
        for (k, (&got, &want)) in out.iter().zip(&want).enumerate() {
            assert!(
                ulps(got, want) <= 4,
                "output {k} at {x:?}: compiled {got:e}, interpreter {want:e}"
            );
        }
    }
}

pub(super) const SPECIAL: [f64; 17] = [
    -3.5,
    -1.0,
    -0.75,
    -0.5,
    -0.0,
    0.0,
    0.25,
    0.5,
    1.0,
    1.5,
    2.0,
    7.25,
    1e-300,
    1e300,
    f64::INFINITY,
    f64::NEG_INFINITY,
    f64::NAN,
];

pub(super) fn pairs() -> Vec<Vec<f64>> {
    let mut points = Vec::new();
    for &a in &SPECIAL {
        for &b in &SPECIAL {
            points.push(vec![a, b]);
        }
    }
    points
}

/// Expanded Rosenbrock: the value and its gradient.
pub(super) fn rosenbrock(n: usize) -> (Graph, Vec<NodeId>) {
    let mut g = Graph::new();
    let xs: Vec<NodeId> = (0..n as u32).map(|i| g.var(i)).collect();
    let one = g.constant(1.0);
    let mut terms = Vec::new();
    for i in 0..n - 1 {
        let x2 = g.powc(xs[i], 2.0);
        let d = g.sub(xs[i + 1], x2);
        let d2 = g.powc(d, 2.0);
        terms.push(g.scale(100.0, d2));
        let e = g.sub(one, xs[i]);
        terms.push(g.powc(e, 2.0));
    }
    let f = g.sum(&terms);
    let mut outputs = vec![f];
    outputs.extend(crate::diff::gradient(&mut g, f, &xs));
    (g, outputs)
}
