//! The canonical constructors' invariants: sums and products collected
//! whatever their order, constants folded only to finite values, powers
//! collected only where the domain stays, canonical nodes rebuilt to
//! themselves.

use super::*;

fn xy() -> (Graph, NodeId, NodeId) {
    let mut g = Graph::new();
    let x = g.var(0);
    let y = g.var(1);
    (g, x, y)
}

#[test]
fn sums_are_order_independent_and_collect() {
    let (mut g, x, y) = xy();
    let a = g.add(x, y);
    let b = g.add(y, x);
    assert_eq!(a, b);
    let two_x = g.add(x, x);
    let three_x = g.add(two_x, x);
    assert_eq!(g.split_coefficient(three_x), (3.0, Some(x)));
    let zero = g.sub(a, b);
    assert_eq!(g.as_const(zero), Some(0.0));
}

#[test]
fn products_collect_powers_and_cancel() {
    let (mut g, x, y) = xy();
    let xx = g.mul(x, x);
    assert!(matches!(g.node(xx), Node::Pow([b, _]) if *b == x));
    let q = g.div(xx, x);
    assert_eq!(q, x);
    let one = g.div(y, y);
    assert_eq!(g.as_const(one), Some(1.0));
}

#[test]
fn constants_fold_only_to_finite_values() {
    let mut g = Graph::new();
    let two = g.constant(2.0);
    let three = g.constant(3.0);
    let s = g.add(two, three);
    assert_eq!(g.as_const(s), Some(5.0));
    let m1 = g.constant(-1.0);
    let l = g.call1(Func::Ln, m1);
    assert!(matches!(g.node(l), Node::Call1(Func::Ln, _)));
    let zero = g.constant(0.0);
    let inv = g.div(two, zero);
    assert!(g.as_const(inv).is_none());
}

#[test]
fn constants_fold_in_any_order_if_their_product_is_finite() {
    let (mut g, x, _) = xy();
    let big = g.constant(1e300);
    let small = g.constant(1e-300);
    let p = g.product(&[big, big, small, x]);
    assert_eq!(g.split_coefficient(p), (1.0000000000000002e300, Some(x)));
}

/// The value of `id` at `x = at` (one variable).
fn value_at(g: &Graph, id: NodeId, at: f64) -> f64 {
    crate::eval::Interpreter::new(g, &[id]).eval(&[at, 0.0])[0]
}

#[test]
fn constants_that_underflow_stay_apart() {
    let (mut g, x, _) = xy();
    // x/1e200/1e200 at x = 1e300 is 1e-100, not 0.
    let big = g.constant(1e200);
    let q = g.div(x, big);
    let q = g.div(q, big);
    assert!(g.as_const(q).is_none());
    assert_eq!(value_at(&g, q, 1e300), 1e300 / 1e200 / 1e200);
    let tiny = g.constant(1e-200);
    let p = g.product(&[tiny, x, tiny]);
    assert_eq!(p, q);
    assert_eq!(g.product(&[p]), p);
    let d = crate::diff::gradient(&mut g, p, &[x])[0];
    assert!(g.as_const(d).is_none(), "d/dx is 1e-400, not 0");
    // They cancel, and fold with a constant that brings them back.
    let zero = g.sub(p, q);
    assert_eq!(g.as_const(zero), Some(0.0));
    let scaled = g.scale(1e300, p);
    let (c, rest) = g.split_coefficient(scaled);
    assert_eq!(rest, Some(x));
    assert!((c / 1e-100 - 1.0).abs() <= 2.0 * f64::EPSILON, "{c:e}");
}

#[test]
fn constants_that_overflow_come_last_and_rebuild_to_themselves() {
    let (mut g, x, y) = xy();
    let big = g.constant(-1e300);
    let p = g.product(&[big, x, big, y, big]);
    let Node::Product(fs) = g.node(p).clone() else {
        panic!("not a product")
    };
    assert_eq!(&fs[..2], &[x, y]);
    let constants: Vec<f64> = fs[2..].iter().filter_map(|&f| g.as_const(f)).collect();
    assert_eq!(constants.len(), fs.len() - 2);
    // -1e900 as m * 2^1023 * 2^1023.
    assert_eq!(constants[1..], [2f64.powi(1023), 2f64.powi(1023)]);
    assert!(constants[0] < 0.0);
    assert_eq!(g.product(&fs), p);
    let again = g.product(&[p, x]);
    assert_eq!(g.product(&[again]), again);
    // `p - p` cancels, sign and all.
    let zero = g.sub(p, p);
    assert_eq!(g.as_const(zero), Some(0.0));
    let twice = g.add(p, p);
    let doubled = g.scale(2.0, p);
    assert_eq!(twice, doubled);
}

#[test]
fn a_power_that_changes_base_is_collected_again() {
    let (mut g, _, y) = xy();
    let s = g.powc(y, 0.5);
    let ss = g.powc(s, 0.5);
    // ss^-0.5 * ss^-0.5 is ss^-1, which is s^-0.5, which collects with
    // the other s^-0.5 into s^-1, which is y^-0.5.
    let a = g.powc(s, -0.5);
    let b = g.powc(ss, -0.5);
    let p = g.product(&[b, a, b]);
    assert_eq!(p, g.powc(y, -0.5));
    // sqrt(y^2) * sqrt(y^2) is y^2 itself, which collects with y.
    let y2 = g.powc(y, 2.0);
    let r = g.powc(y2, 0.5);
    let q = g.product(&[r, y, r]);
    assert_eq!(q, g.powc(y, 3.0));
}

#[test]
fn powers_collect_only_where_the_domain_stays() {
    let (mut g, x, y) = xy();
    let s = g.powc(x, 0.5);
    // sqrt(x)^2, sqrt(x)*sqrt(x), (x^(1/3))^3: NaN at x = -1, x is not.
    let s2 = g.powc(s, 2.0);
    assert!(matches!(g.node(s2), Node::Pow([b, _]) if *b == s));
    assert_ne!(g.product(&[s, s]), x);
    let c = g.powc(x, 1.0 / 3.0);
    let c3 = g.powc(c, 3.0);
    assert_ne!(c3, x);
    // Non-integer sums collect, integer powers of integer powers too.
    let xs = g.product(&[x, s]);
    assert_eq!(xs, g.powc(x, 1.5));
    let x2 = g.powc(x, 2.0);
    assert_eq!(g.powc(x2, 3.0), g.powc(x, 6.0));
    assert_eq!(g.powc(s, 3.0), g.powc(x, 1.5));
    // A base never negative: sqrt(x^2)^2 is x^2.
    let r = g.powc(x2, 0.5);
    assert_eq!(g.powc(r, 2.0), x2);
    // sqrt(y)/sqrt(y) is 1 by the a/a convention.
    let t = g.powc(y, 0.5);
    let one = g.div(t, t);
    assert_eq!(g.as_const(one), Some(1.0));
}

#[test]
fn integer_powers_of_products_keep_the_product_but_not_its_constant() {
    let (mut g, x, y) = xy();
    let q = g.div(x, y);
    let q2 = g.powc(q, 2.0);
    assert!(matches!(g.node(q2), Node::Pow([b, _]) if *b == q));
    let two = g.constant(2.0);
    let two_xy = g.product(&[two, x, y]);
    let p = g.powc(two_xy, 2.0);
    let xy = g.mul(x, y);
    let xy2 = g.powc(xy, 2.0);
    assert_eq!(p, g.scale(4.0, xy2));
    // 1/(x/y) is y/x.
    let inv = g.powc(q, -1.0);
    assert_eq!(inv, g.div(y, x));
    // A constant whose power underflows stays inside: (1e-200*x)^2.
    let tiny = g.scale(1e-200, x);
    let t2 = g.powc(tiny, 2.0);
    assert!(matches!(g.node(t2), Node::Pow([b, _]) if *b == tiny));
}

#[test]
fn rebuilding_a_canonical_node_returns_it() {
    let (mut g, x, y) = xy();
    let x2 = g.powc(x, 2.0);
    let t = g.scale(3.0, x2);
    let s = g.sum(&[t, y, x]);
    let n = g.len();
    let Node::Sum(terms) = g.node(s).clone() else {
        panic!("not a sum")
    };
    assert_eq!(g.sum(&terms), s);
    assert_eq!(g.len(), n);
}

/// The least text [`Graph::printed_at_least`] gives `id` of `g`.
fn least_printed(g: &Graph, id: NodeId) -> u64 {
    let mut sizes = Vec::new();
    for k in 0..g.len() {
        sizes.push(g.printed_at_least(NodeId(k as u32), &sizes));
    }
    sizes[id.index()]
}

/// The flattening for the printer stops once the text is sure to pass
/// the limit (a 10,000-deep `x^x^…^x` took 945 MB and 13 s to refuse):
/// its measure is never above the length of the text printed, in either
/// syntax, and a limit below it stops the rebuild.
#[test]
fn the_printed_size_measured_while_flattening_is_a_lower_bound() {
    use crate::print::{Names, Syntax, print};
    let formulas = [
        "x^x^x^x^x",
        "sin(cos(x*y))^2/(1 + x^2)",
        "exp(-x)*ln(1 + y) - 3*x*y",
        "sqrt(x)/(x*y - 1) - x/y",
        "abs(x) + atan2(y, x) + hypot(x, y)*x",
        "exp(exp(exp(x*y)))",
        "x*ln(y) + 1/(1 + exp(-x*y))",
        "sin(sin(sin(sin(x + y))))",
    ];
    let mut stopped = 0;
    for text in formulas {
        let f = crate::Formula::parse(text).unwrap();
        let names = Names {
            vars: f.vars(),
            ..Names::default()
        };
        for &d in f.gradient().iter().chain([f.value()].iter()) {
            let flat = f.graph().flattened(d, usize::MAX).unwrap();
            let (g, id) = match &flat {
                Some((g, id)) => (g, *id),
                None => (f.graph(), d),
            };
            let least = least_printed(g, id);
            for syntax in [Syntax::Slope, Syntax::Latex] {
                let printed = print(f.graph(), d, names, syntax).unwrap();
                assert!(
                    least <= printed.len() as u64,
                    "{text}: {least} > {} for {printed}",
                    printed.len()
                );
            }
            if flat.is_some() && least > 0 {
                let short = f.graph().flattened(d, least as usize - 1);
                assert!(short.is_err(), "{text}: not stopped below {least}");
                stopped += 1;
            }
        }
    }
    assert!(stopped > 0, "no formula was flattened");
}
