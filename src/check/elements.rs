//! The gradient of an indexed formula against finite differences: its
//! compiled loops' gradient, element by element, against differences of
//! its compiled value. The gradient of a million variables is one call,
//! but each difference is eight calls of the value, each over every
//! element: so past [`ALL_UP_TO`] variables a bounded subset is compared
//! ([`vars_to_check`]), the elements where boundary terms of a chained sum
//! live (the first and last few) and some drawn at random between them.
//!
//! Kinks (`abs`, `min`, ...) inside a loop's body have one switch per
//! iteration, which the interpreter cannot evaluate outside its loop: a
//! formula with kinks is written out (its value, as
//! [`Formula::unrolled`] does) to find those a stencil along a compared
//! variable can cross, and refused if it is too large to be.

use crate::error::{Error, ErrorKind, Result};
use crate::fd;
use crate::formula::Formula;
use crate::graph::{Node, reachable};

use super::kinks::Kinks;
use super::ladder::{Exact, compare_along};
use super::points::{Checked, PointCheck, Skip, Trouble};

/// Up to this many variables, every one is compared.
pub const ALL_UP_TO: usize = 20;
/// Past [`ALL_UP_TO`]: this many at each end ...
const ENDS: usize = 5;
/// ... and this many drawn between them.
const DRAWN: usize = 10;

/// The variables a check of `n` compares, ascending: all of them up to
/// [`ALL_UP_TO`]; past that the first 5, the last 5 and 10 drawn at random
/// (from `seed`) between them.
pub fn vars_to_check(n: usize, seed: u64) -> Vec<usize> {
    if n <= ALL_UP_TO {
        return (0..n).collect();
    }
    let mut vars: Vec<usize> = (0..ENDS).chain(n - ENDS..n).collect();
    let middle = (ENDS as f64, (n - ENDS) as f64);
    let mut k = 0;
    while vars.len() < 2 * ENDS + DRAWN {
        let u = crate::random::start_of_run(&[middle], seed ^ 0x2545_f491_4f6c_dd1d, k)[0];
        k += 1;
        let i = (u.floor() as usize).clamp(ENDS, n - ENDS - 1);
        if !vars.contains(&i) {
            vars.push(i);
        }
    }
    vars.sort_unstable();
    vars
}

/// Compares the compiled gradient of an indexed `formula` with finite
/// differences of its compiled value, along each of `vars`, at each of
/// `points`; [`Checked::gradient`] holds one comparison per entry of
/// `vars`, in that order, and no Hessian. The rounding scale of a
/// difference is the largest |f| over its stencil. Errors if a point has
/// the wrong number of coordinates, the formula cannot be compiled, or it
/// has kinks and cannot be written out to locate them.
pub fn check_elements(
    formula: &Formula,
    points: &[Vec<f64>],
    vars: &[usize],
) -> Result<Vec<PointCheck>> {
    let n = formula.n_vars();
    if let Some(p) = points.iter().find(|p| p.len() != n) {
        return Err(Error::new(
            ErrorKind::Usage,
            format!(
                "a point of {} values for a formula of {n} variables",
                p.len()
            ),
        ));
    }
    let compiled = formula.compile()?;
    let graph = formula.graph();
    let has_kinks = reachable(graph, &[formula.value()]).iter().any(
        |&id| matches!(graph.node(id), Node::Call1(f, _) | Node::Call2(f, _) if f.kink().is_some()),
    );
    let twin = if has_kinks {
        let twin = formula.unrolled_value().map_err(|e| {
            Error::new(
                e.kind,
                format!(
                    "the formula has kinks (abs, min, floor, ...), found by writing its sums out, and {}",
                    e.message
                ),
            )
            .with_hint("check it at a smaller size, e.g. with --set n=100")
        })?;
        Some(twin)
    } else {
        None
    };
    // Only the kinks a stencil along one of `vars` can cross.
    let kinks = twin
        .as_ref()
        .map(|(graph, value)| Kinks::along(graph, &[*value], Some(vars)));
    let branches = |x: &[f64]| kinks.as_ref().map_or(Vec::new(), |k| k.branches(x));

    let mut results = Vec::with_capacity(points.len());
    for point in points {
        let mut x = point.clone();
        let (value, gradient) = compiled.value_grad(&x)?;
        if !value.is_finite() || gradient.iter().any(|g| !g.is_finite()) {
            let error = formula.diagnose(&[formula.value()], &x).unwrap_or_else(|| {
                Error::new(ErrorKind::NotFinite, "the gradient is not finite here")
            });
            results.push(PointCheck {
                x,
                value,
                outcome: Err(Skip::NotFinite { error, var: None }),
            });
            continue;
        }
        let center = branches(&x);
        let siblings = gradient.iter().fold(0.0f64, |m, g| m.max(g.abs()));
        let mut checked = Checked {
            gradient: Vec::with_capacity(vars.len()),
            hessian: Vec::new(),
        };
        let mut skip = None;
        for &i in vars {
            // The compiled loops' rounding is not bounded here.
            let exact = Exact {
                value: gradient[i],
                rounding: 0.0,
                siblings,
                terms: 0.0,
            };
            let mut first_trouble: Option<Trouble> = None;
            let mut estimate = |length: f64| {
                let mut trouble: Option<Trouble> = None;
                let mut f = |x: &[f64], out: &mut [f64]| {
                    out[0] = compiled.value(x).unwrap_or(f64::NAN);
                    if trouble.is_some() {
                        return;
                    }
                    if let Some(k) = kinks
                        .as_ref()
                        .and_then(|k| k.crossed(&branches(x), &center))
                    {
                        trouble = Some(Trouble::Kink(k));
                    } else if !out[0].is_finite() {
                        trouble = Some(Trouble::NotFinite(x.to_vec()));
                    }
                };
                let along = fd::along_at_scale(&mut f, &mut x, i, 1, length);
                match trouble {
                    Some(t) => {
                        first_trouble.get_or_insert(t);
                        None
                    }
                    None => Some(along),
                }
            };
            if let Some(mut c) = compare_along(point[i], &[exact], &mut estimate) {
                checked.gradient.push(c.remove(0));
                continue;
            }
            skip = match first_trouble {
                Some(Trouble::Kink(k)) => {
                    let (func, span) = kinks.as_ref().map(|ks| ks.describe(k)).unzip();
                    func.map(|func| Skip::Kink {
                        func,
                        span: span.flatten(),
                        var: i,
                    })
                }
                Some(Trouble::NotFinite(at)) => {
                    let error = formula
                        .diagnose(&[formula.value()], &at)
                        .unwrap_or_else(|| {
                            Error::new(ErrorKind::NotFinite, "the value is not finite")
                        });
                    Some(Skip::NotFinite {
                        error,
                        var: Some(i),
                    })
                }
                None => None,
            };
            break;
        }
        results.push(PointCheck {
            x,
            value,
            outcome: match skip {
                Some(s) => Err(s),
                None => Ok(checked),
            },
        });
    }
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_formulas_check_every_variable_large_ones_both_ends_and_some_between() {
        assert_eq!(vars_to_check(3, 1), [0, 1, 2]);
        assert_eq!(vars_to_check(ALL_UP_TO, 1).len(), ALL_UP_TO);
        for n in [21, 50, 1_000_000] {
            let v = vars_to_check(n, 7);
            assert_eq!(v.len(), 20, "{v:?}");
            assert!(v.windows(2).all(|w| w[0] < w[1]), "{v:?}");
            assert_eq!(v[..5], [0, 1, 2, 3, 4]);
            assert_eq!(v[15..], [n - 5, n - 4, n - 3, n - 2, n - 1]);
        }
        assert_ne!(vars_to_check(1000, 1), vars_to_check(1000, 2));
    }

    #[test]
    fn an_indexed_gradient_agrees_and_kinks_are_skipped() {
        let f = Formula::parse(
            "param n = 30\nvar x[1..n]\nsum(i in 1..n-1, 100*(x[i+1] - x[i]^2)^2 + (1 - x[i])^2)",
        )
        .unwrap();
        let x: Vec<f64> = (0..30).map(|k| 0.1 * k as f64 - 1.0).collect();
        let vars = vars_to_check(30, 3);
        let checks = check_elements(&f, &[x], &vars).unwrap();
        let checked = checks[0].outcome.as_ref().unwrap();
        assert_eq!(checked.gradient.len(), 20);
        assert!(checked.ok(), "{checked:?}");

        let f = Formula::parse("param n = 3\nvar x[1..n]\nsum(i in 1..n, abs(x[i]))").unwrap();
        let checks = check_elements(&f, &[vec![1.0, 0.0, 1.0]], &[0, 1, 2]).unwrap();
        let vars = f.vars().to_vec();
        match &checks[0].outcome {
            Err(s) => assert_eq!(
                s.describe(f.source(), &vars),
                "on a kink of abs at 3:16 (within the difference step along x[2])"
            ),
            Ok(c) => panic!("checked: {c:?}"),
        }
    }
}
