//! The gradient of an indexed `prod`, the product of the other factors
//! (`diff/product.rs`), against exact products: at zero factors, where
//! the whole product overflows or underflows and the product of the
//! others does not, interpreted and compiled (to the bit), against
//! central differences and against the unrolled twin.

use slope::Formula;

fn parse(text: &str) -> Formula {
    Formula::parse(text)
        .unwrap_or_else(|e| panic!("{text:?} failed:\n{}", e.render(text, "<test>")))
}

/// The gradient at `x`, interpreted; the compiled one must be the same
/// to the bit.
fn gradient(text: &str, x: &[f64]) -> Vec<f64> {
    let f = parse(text);
    let (_, g) = f.value_grad(x);
    let (_, compiled) = f.compile().unwrap().value_grad(x).unwrap();
    for (k, (a, b)) in g.iter().zip(&compiled).enumerate() {
        assert_eq!(
            a.to_bits(),
            b.to_bits(),
            "{text} at {x:?}: partial {k}: interpreted {a:e}, compiled {b:e}"
        );
    }
    g
}

/// `m * 2^e`, exactly: `m` an integer below 2^53, the result a normal
/// number, infinity (above the largest) or 0 (below the smallest
/// subnormal).
fn exact(m: u64, e: i32) -> f64 {
    assert!(m > 0 && m < 1 << 53);
    let bits = 64 - m.leading_zeros() as i32;
    if e + bits > 1024 {
        return f64::INFINITY;
    }
    if e + bits < -1074 {
        return 0.0;
    }
    assert!(e + bits > -1021, "not a normal number");
    // m * 2^e in two exact steps, each power of two a normal number.
    let half = e / 2;
    let power = |k: i32| f64::from_bits(((k + 1023) as u64) << 52);
    m as f64 * power(half) * power(e - half)
}

/// Factors `m_i * 2^e_i` and their products of the others, exactly.
fn factors(m: &[u64], e: &[i32]) -> (Vec<f64>, Vec<f64>) {
    let x = m.iter().zip(e).map(|(&m, &e)| exact(m, e)).collect();
    let others = (0..m.len())
        .map(|k| {
            let mm: u64 = (m.iter().enumerate())
                .filter(|&(i, _)| i != k)
                .map(|(_, m)| m)
                .product();
            let ee: i32 = (e.iter().enumerate())
                .filter(|&(i, _)| i != k)
                .map(|(_, e)| e)
                .sum();
            exact(mm, ee)
        })
        .collect();
    (x, others)
}

fn assert_bits(got: &[f64], want: &[f64], what: &str) {
    for (k, (a, b)) in got.iter().zip(want).enumerate() {
        assert_eq!(
            a.to_bits(),
            b.to_bits(),
            "{what}: partial {k}: {a:e}, the product of the others is {b:e}\n got {got:?}\nwant {want:?}"
        );
    }
}

/// Where the whole product overflows or underflows and the product of the
/// others does not, the partial is that product: (1e-200, 1e-200, 1e200)
/// has df/dx[1] = 1 (the gradient gave 0), (1e200, 1e200, 1e-200)
/// df/dx[1] = 1 (it gave inf). With three factors the product of the
/// other two is one multiplication, which rounds correctly. Then longer
/// products whose factors are small integers times powers of two, so that
/// every product before and after a factor is exact: the whole product is
/// 2^±1300 (out of range), the products of the others 2^±1000 or so.
#[test]
fn a_products_partials_are_the_products_of_the_others_where_the_whole_product_is_out_of_range() {
    let text = "var x[1..3]\nprod(i in 1..3, x[i])";
    for x in [[1e-200, 1e-200, 1e200], [1e200, 1e200, 1e-200]] {
        let want = [x[1] * x[2], x[0] * x[2], x[0] * x[1]];
        assert_bits(&gradient(text, &x), &want, &format!("{x:?}"));
    }
    let text = "var x[1..5]\nprod(i in 1..5, x[i])";
    let m = [3, 5, 7, 9, 11];
    for e in [[300, 400, -100, 400, 300], [-300, -400, 100, -400, -300]] {
        let (x, want) = factors(&m, &e);
        assert_bits(&gradient(text, &x), &want, &format!("2^{e:?}"));
    }
    // The same per row of a sum of products: the products of the others
    // are formed again for each outer index.
    let text = "var x[1..2, 1..3]\nsum(i in 1..2, prod(j in 1..3, x[i,j]))";
    let x = [1e-200, 1e-200, 1e200, 1e200, 1e200, 1e-200];
    let want = [
        x[1] * x[2],
        x[0] * x[2],
        x[0] * x[1],
        x[4] * x[5],
        x[3] * x[5],
        x[3] * x[4],
    ];
    assert_bits(&gradient(text, &x), &want, "rows");
}

/// At one zero factor only that factor's partial is non-zero; at two,
/// every partial is 0; exactly (small integers).
#[test]
fn a_products_partials_at_zero_factors_are_exact() {
    let text = "var x[1..4]\nprod(i in 1..4, x[i])";
    let cases: [([f64; 4], [f64; 4]); 4] = [
        ([2.0, 0.0, 3.0, 5.0], [0.0, 30.0, 0.0, 0.0]),
        ([0.0, 2.0, 3.0, 5.0], [30.0, 0.0, 0.0, 0.0]),
        ([2.0, 3.0, 5.0, 0.0], [0.0, 0.0, 0.0, 30.0]),
        ([0.0, 2.0, 0.0, 3.0], [0.0; 4]),
    ];
    for (x, want) in cases {
        let g = gradient(text, &x);
        for (k, (a, b)) in g.iter().zip(&want).enumerate() {
            // -0 and 0 are the same partial.
            assert!(a == b, "at {x:?}: partial {k}: {a:e}, want {b:e}");
        }
    }
    // A body that is 0 at one index tuple.
    let text = "var x[1..3]\nprod(i in 1..3, x[i] - i)";
    let g = gradient(text, &[3.0, 2.0, 5.0]);
    assert_eq!(g, [0.0, 2.0 * 2.0, 0.0]);
}

/// Against central differences of the value, at a point without zero
/// factors, for bodies that are not the variable itself.
#[test]
fn a_products_gradient_matches_central_differences() {
    for text in [
        "param n = 6\nvar x[1..n]\nprod(i in 1..n, 1 + x[i]^2)",
        "param n = 5\nvar x[1..n]\nprod(i in 1..n, sin(x[i]) + i)",
        "var x[1..2, 1..3]\nprod(i in 1..2, j in 1..3, x[i,j] - 0.5*j)",
        "var x[1..4]\nsum(i in 1..4, prod(j in 1..i, x[j] + 0.1*i))",
    ] {
        let f = parse(text);
        let n = f.vars().len();
        let x: Vec<f64> = (0..n).map(|k| 0.7 + 0.37 * k as f64).collect();
        let g = gradient(text, &x);
        let h = 1e-6;
        for k in 0..n {
            let mut up = x.clone();
            let mut down = x.clone();
            up[k] += h;
            down[k] -= h;
            let want = (f.value_grad(&up).0 - f.value_grad(&down).0) / (2.0 * h);
            assert!(
                (g[k] - want).abs() <= 1e-6 * (1.0 + want.abs()),
                "{text}: partial {k}: {}, differences give {want}",
                g[k]
            );
        }
    }
}

/// The indexed gradient against the unrolled twin's (each factor's
/// partial the product of the other factors written out), to a few ulps,
/// with and without zero factors.
#[test]
fn a_products_gradient_is_the_unrolled_ones() {
    let text = "param n = 7\nvar x[1..n]\nprod(i in 1..n, x[i]^2 - 1)";
    let f = parse(text);
    let twin = f.unrolled().unwrap();
    for x in [
        [0.3, 1.7, -2.1, 0.9, 1.1, -0.4, 2.5],
        [0.3, 1.0, -2.1, 0.9, 1.1, -0.4, 2.5],
        [0.3, 1.0, -1.0, 0.9, 1.1, -0.4, 2.5],
    ] {
        let g = gradient(text, &x);
        let (_, want) = twin.value_grad(&x);
        let scale = want.iter().fold(0.0f64, |m, w| m.max(w.abs()));
        for (k, (a, b)) in g.iter().zip(&want).enumerate() {
            assert!(
                (a - b).abs() <= 16.0 * f64::EPSILON * scale,
                "at {x:?}: partial {k}: {a:e}, the unrolled {b:e}"
            );
        }
    }
}
