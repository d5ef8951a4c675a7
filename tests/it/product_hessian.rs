//! Second derivatives of an indexed `prod` at and near a factor that is 0,
//! against the same function written out (`Formula::unrolled`), whose
//! second derivatives multiply the other factors and never divide by one.
//! The gradient of the product divides the product of the non-zero
//! factors by the factor; swept again as a product, that form gave
//! `±Q·b'²/b²` terms that cancel (a Hessian off by 0.18 in entries of
//! 2,790) and `0·0⁻¹` (NaN) at a zero factor (`diff/product.rs`).

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use slope::{Formula, NodeId};

/// The Hessian of an indexed formula at `x` from its sparse Hessian
/// (Hessian-vector products), interpreted and compiled (which must agree
/// to the bit), and its unrolled twin's dense Hessian there, both as
/// n × n row-major matrices.
fn hessians(text: &str, x: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let mut f = Formula::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    let indexed = f.sparse_hessian(x).unwrap().to_dense();
    let compiled = f.compile().unwrap().sparse_hessian(x).unwrap().to_dense();
    for (a, b) in indexed.iter().zip(&compiled) {
        assert_eq!(
            a.to_bits(),
            b.to_bits(),
            "{text}: interpreted {indexed:?}, compiled {compiled:?}"
        );
    }
    let mut twin = f.unrolled().unwrap();
    let entries: Vec<NodeId> = twin.hessian().unwrap().concat();
    let want = twin.eval_nodes(&entries, x);
    (indexed, want)
}

/// Every entry within `ulps` ulps of the largest entry of the twin's.
fn within(got: &[f64], want: &[f64], ulps: f64) -> Result<(), String> {
    let scale = want.iter().fold(0.0f64, |m, h| m.max(h.abs()));
    for (k, (a, b)) in got.iter().zip(want).enumerate() {
        // NaN is never close.
        let close = (a - b).abs() <= ulps * f64::EPSILON * scale;
        if !close {
            return Err(format!(
                "entry {k}: {a:e}, the unrolled {b:e} (largest {scale:e})\n got {got:?}\nwant {want:?}"
            ));
        }
    }
    Ok(())
}

#[test]
fn a_products_hessian_at_a_zero_factor_is_the_unrolled_ones() {
    let text = "var x[1..3]\nprod(j in 1..2, x[3] + x[j])";
    let (got, want) = hessians(text, &[1.0, 0.0, -1.0]);
    assert_eq!(want, [0.0, 1.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 2.0]);
    assert_eq!(got, want);
    // Two zero factors: only the mixed entry of the two is not 0.
    let (got, want) = hessians(text, &[1.0, 1.0, -1.0]);
    assert_eq!(got, want);
    // Three: every second derivative is 0.
    let text = "var x[1..4]\nprod(j in 1..3, x[4] + x[j])";
    let (got, want) = hessians(text, &[1.0, 1.0, 1.0, -1.0]);
    assert_eq!(want, [0.0; 16]);
    assert_eq!(got, want);
    // Bodies that do not use the product's index: b^i, whose product of
    // the others is b^(i-1), computed outside the loop.
    let text = "var x[1..3]\nsum(i in 1..3, exp(prod(j in 1..i, x[i] + x[i])))";
    for x in [[0.0; 3], [0.3, -0.2, 1e-17]] {
        let (got, want) = hessians(text, &x);
        within(&got, &want, 8.0).unwrap();
    }
}

/// The product j = 5 of the term i = 5 has a factor that is 0 in one
/// order of summation and within rounding of 0 in the canonical one. The
/// exact Hessian at this point (40 digits, by sympy) is within 15 ulps of
/// the largest entry of slope's and 35 of the unrolled one's; before the
/// rule they were 0.18 apart.
#[test]
fn a_products_hessian_near_a_zero_factor_is_the_unrolled_ones() {
    let text = "var x[1..6]\n\
        sum(i in 2..5, sin(prod(j in 1..i, x[i-1]*i + x[i+1] + (x[i+1] - x[j]))))";
    let x = [0.01, -1.0, -0.01, -0.14, -0.9, -0.1];
    let (got, want) = hessians(text, &x);
    assert!(want.iter().any(|h| h.abs() > 2000.0), "{want:?}");
    within(&got, &want, 64.0).unwrap();
}

/// A Hessian of a product over scalar variables (the gradient swept
/// again, not products along directions) at and near its zero factors:
/// `(a - 1)*a*(a + 1)` has second derivative `6a`.
#[test]
fn a_products_scalar_hessian_is_right_at_and_near_a_zero_factor() {
    let mut f = Formula::parse("prod(i in 1..3, a - 2 + i)").unwrap();
    let h = f.hessian().unwrap()[0][0];
    for a in [0.0, 1.0, -1.0, 1e-12, 1.0 + 1e-12, -1.0 - 2e-16, 2.0, -0.5] {
        let got = f.eval_nodes(&[h], &[a])[0];
        let want = 6.0 * a;
        assert!(
            (got - want).abs() <= 8.0 * f64::EPSILON * want.abs().max(1.0),
            "at {a}: {got}, want {want}"
        );
    }
}

/// Products of `b_i = x[i] + c*x[i+1]` (inside `sin`, or times a sum)
/// with a factor or two set to 0, or to within 10⁻⁹ … 10⁻¹⁷ of it: the
/// Hessian is the unrolled one to a few ulps of its largest entry. Before
/// the rule of `diff/product.rs` these were NaN or off by far more.
#[test]
fn products_with_factors_at_or_near_zero_have_the_unrolled_hessian() {
    let case = (
        2usize..7,
        prop::collection::vec(0.3f64..1.5, 8),
        prop::collection::vec(prop::bool::ANY, 8),
        0usize..7,
        prop::sample::select(vec![0.0, 1e-9, -1e-12, 1e-15, -3e-17]),
        prop::bool::ANY,
        prop::bool::ANY,
    );
    let mut runner = TestRunner::new(Config {
        cases: 64,
        ..crate::properties::options()
    });
    runner
        .run(&case, |(n, magnitudes, signs, m, offset, two, wrapped)| {
            let m = m % n;
            let mut x: Vec<f64> = magnitudes[..=n]
                .iter()
                .zip(&signs)
                .map(|(v, s)| if *s { *v } else { -v })
                .collect();
            // b_m = x[m] + 0.5*x[m+1] is `offset` (0-based here).
            x[m] = -0.5 * x[m + 1] + offset;
            if two && n > 2 {
                let k = (m + 2) % n;
                if k + 1 != m {
                    x[k] = -0.5 * x[k + 1];
                }
            }
            let body = format!("prod(i in 1..{n}, x[i] + 0.5*x[i+1])");
            let text = if wrapped {
                format!("var x[1..{}]\nsin({body})", n + 1)
            } else {
                format!("var x[1..{}]\n{body}*sum(i in 1..{}, x[i])", n + 1, n + 1)
            };
            let (got, want) = hessians(&text, &x);
            within(&got, &want, 64.0)
                .map_err(|e| TestCaseError::fail(format!("{text}\nat {x:?}: {e}")))
        })
        .unwrap();
}
