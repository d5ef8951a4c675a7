//! `slope diff --expand`: every scalar partial of an indexed formula,
//! written out at the parameters' values, read back and evaluated against
//! the indexed gradient.

use serde_json::Value;
use slope::{Formula, Options};

use crate::run::{json, run};

/// The formula's declarations (every line but the last) and its value.
fn split(text: &str) -> (&str, &str) {
    let at = text.rfind('\n').unwrap();
    (&text[..at], &text[at + 1..])
}

fn with_n(text: &str, n: i64) -> Formula {
    let options = Options {
        params: vec![("n".into(), n as f64)],
        ..Options::default()
    };
    Formula::parse_with(text, &options)
        .unwrap_or_else(|e| panic!("{text:?} failed:\n{}", e.render(text, "<test>")))
}

/// SplitMix64 numbers in [-1.5, 1.5): random points, the same every run.
fn points(seed: u64, len: usize) -> Vec<f64> {
    let mut s = seed;
    (0..len)
        .map(|_| {
            s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = s;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            -1.5 + 3.0 * (z >> 11) as f64 / (1u64 << 53) as f64
        })
        .collect()
}

/// Each partial printed by `--expand --json`, read back over the same
/// declarations (it names elements only: `x[3]`, no sums), equals the
/// indexed gradient's element at random points, and every element has one.
#[test]
fn expanded_partials_read_back_equal_the_indexed_gradient() {
    let texts = [
        "param n = 1000\nvar x[1..n]\nsum(i in 1..n-1, 100*(x[i+1] - x[i]^2)^2 + (1 - x[i])^2)",
        "param n = 5\nvar x[1..n]\nlog(sum(i in 1..n, exp(x[i]))) + x[2]*x[n]",
        "param n = 5\nvar x[1..n]\nsum(i in 1..n-1, j in i+1..n, (x[i] - x[j])^2/(i + j)) + sum(i in 2..n, i*x[n+1-i]*x[i-1])",
        "param n = 4\nvar x[1..n]\nsum(i in 1..n, exp(prod(j in 1..i, x[j])))",
        "param n = 4\nvar x[1..n]\nsum(i in 1..n, (x[i] - 1 - sum(j in 1..i-1, x[j]))^2)",
        "param n = 3\nvar p[1..n, 1..2]\nsum(i in 1..n-1, j in i+1..n, ((p[i,1] - p[j,1])^2 + (p[i,2] - p[j,2])^2)^-1) + y^2*p[1,2]",
    ];
    for text in texts {
        for n in [3, 7] {
            let f = with_n(text, n);
            let set = format!("n={n}");
            let (v, r) = json(&["diff", text, "--set", &set, "--expand", "--json"]);
            assert_eq!(r.status, 0, "{text}: {}", r.stderr);
            let vars: Vec<&str> = v["vars"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap())
                .collect();
            assert_eq!(vars, f.vars(), "{text}");
            let (decl, _) = split(text);
            for seed in 0..3 {
                let x = points(seed + 17 * n as u64, vars.len());
                let (_, g) = f.value_grad(&x);
                for (k, name) in vars.iter().enumerate() {
                    let Value::String(partial) = &v["partials"][*name] else {
                        panic!("{text}: no partial for {name}: {v}");
                    };
                    assert!(!partial.contains("sum"), "{partial}");
                    let back = with_n(&format!("{decl}\n{partial}"), n);
                    // Its point: each of its variables (every element,
                    // and `y` if it is used) at its value in `x`.
                    let at: Vec<f64> = back
                        .vars()
                        .iter()
                        .map(|v| x[f.var_index(v).unwrap()])
                        .collect();
                    let want = g[k];
                    let got = back.eval(&at);
                    let scale = g.iter().fold(1.0f64, |m, v| m.max(v.abs()));
                    assert!(
                        (got - want).abs() <= 1e-12 * scale,
                        "{text}, n = {n}: d/d{name} = {partial} gives {got}, the indexed gradient {want}"
                    );
                }
            }
        }
    }
}

#[test]
fn expanded_partials_print_in_slope_syntax_and_latex() {
    let rosen =
        "param n = 1000\nvar x[1..n]\nsum(i in 1..n-1, 100*(x[i+1] - x[i]^2)^2 + (1 - x[i])^2)";
    let r = run(&["diff", rosen, "--set", "n=3", "--expand"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout,
        "df/dx[1] = -400*x[1]*(x[2] - x[1]^2) - 2*(1 - x[1])\n\
         df/dx[2] = 200*(x[2] - x[1]^2) - 400*x[2]*(x[3] - x[2]^2) - 2*(1 - x[2])\n\
         df/dx[3] = 200*(x[3] - x[2]^2)\n"
    );
    let r = run(&["diff", rosen, "--set", "n=2", "--expand", "--latex"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout,
        "\\frac{\\partial f}{\\partial x_{1}} = -400 x_{1} \\left(x_{2} - x_{1}^{2}\\right) - 2 \\left(1 - x_{1}\\right)\n\
         \\frac{\\partial f}{\\partial x_{2}} = 200 \\left(x_{2} - x_{1}^{2}\\right)\n"
    );
    // Written out, the formula is scalar: --hessian and --wrt work on it.
    let r = run(&[
        "diff",
        rosen,
        "--set",
        "n=3",
        "--expand",
        "--hessian",
        "--wrt",
        "x[3]",
    ]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout,
        "df/dx[3] = 200*(x[3] - x[2]^2)\nd2f/dx[3]2 = 200\n"
    );
    // A family of constraints is one constraint per index.
    let r = run(&[
        "diff",
        "param n = 3\nvar x[1..n]\nsum(i in 1..n, x[i]^2)\nsubject to (i in 1..n-1) x[i] <= x[i+1]",
        "--expand",
        "--wrt",
        "x[2]",
    ]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout,
        "df/dx[2] = 2*x[2]\n\
         # subject to (i in 1..n-1) x[i] <= x[i+1]: g1 = x[1] - x[2] <= 0\n\
         dg1/dx[2] = -1\n\
         # subject to (i in 1..n-1) x[i] <= x[i+1]: g2 = x[2] - x[3] <= 0\n\
         dg2/dx[2] = 1\n"
    );
}

#[test]
fn expanding_too_much_or_nothing_is_refused() {
    let rosen =
        "param n = 1000\nvar x[1..n]\nsum(i in 1..n-1, 100*(x[i+1] - x[i]^2)^2 + (1 - x[i])^2)";
    let r = run(&["diff", rosen, "--set", "n=1001", "--expand"]);
    assert_eq!(r.status, 2);
    assert!(r.stdout.is_empty());
    assert!(
        r.stderr.contains("this formula has 1001, over 1000") && r.stderr.contains("--set n=5"),
        "{}",
        r.stderr
    );
    let r = run(&["diff", "x^2*y", "--expand"]);
    assert_eq!(r.status, 2);
    assert!(r.stderr.contains("this formula has none"), "{}", r.stderr);
    // A written-out sum past the node limit is refused, not built.
    let r = run(&[
        "diff",
        "param n = 1000\nvar x[1..n]\nsum(i in 1..n, j in 1..n, x[i]*x[j]*sin(i*j))",
        "--expand",
        "--max-nodes",
        "100000",
    ]);
    assert_eq!(r.status, 2, "{}", r.stderr);
    assert!(r.stderr.contains("graph nodes"), "{}", r.stderr);
}
