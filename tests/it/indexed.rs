//! Indexed formulas: parameters, arrays of variables, data, sums and
//! products, checked against the same functions written out term by term,
//! and the errors of bad indices.

use slope::{ErrorKind, Formula, Options};

use crate::run::{json, run};

fn parse(text: &str) -> Formula {
    Formula::parse(text)
        .unwrap_or_else(|e| panic!("{text:?} failed:\n{}", e.render(text, "<test>")))
}

fn parse_with(text: &str, params: &[(&str, f64)], data: &[(&str, Vec<f64>)]) -> Formula {
    let options = Options {
        params: params.iter().map(|(n, v)| (n.to_string(), *v)).collect(),
        data: data
            .iter()
            .map(|(n, v)| (n.to_string(), v.clone()))
            .collect(),
        ..Options::default()
    };
    Formula::parse_with(text, &options)
        .unwrap_or_else(|e| panic!("{text:?} failed:\n{}", e.render(text, "<test>")))
}

/// Equal to a few ulps of the larger magnitude in `scale`.
fn close(a: f64, b: f64, scale: f64) -> bool {
    (a - b).abs() <= 16.0 * f64::EPSILON * scale.max(a.abs()).max(b.abs())
}

/// The unrolled text of an indexed formula, `i` replaced by each value.
fn unrolled(n: usize, term: impl Fn(usize) -> String) -> String {
    (1..=n).map(term).collect::<Vec<_>>().join(" + ")
}

/// Value, gradient and Hessian-vector product of an indexed formula and of
/// its unrolled twin (by its dense Hessian) agree at a point, variable by
/// variable (the unrolled names are `x_k` for `x[k]`); the compiled
/// product is the interpreted one to the bit.
fn agree(indexed: &Formula, flat: &Formula, at: impl Fn(usize) -> f64) {
    let n = indexed.vars().len();
    let x: Vec<f64> = (0..n).map(&at).collect();
    let (v, g) = indexed.value_grad(&x);
    let names: Vec<String> = indexed
        .vars()
        .iter()
        .map(|v| v.replace('[', "_").replace([']'], "").replace(',', "_"))
        .collect();
    let assignments: Vec<(String, f64)> = names.iter().cloned().zip(x.iter().copied()).collect();
    let flat_x = flat
        .point(&assignments[..flat.vars().len().min(n)])
        .unwrap_or_else(|_| {
            flat.vars()
                .iter()
                .map(|name| x[names.iter().position(|m| m == name).unwrap()])
                .collect()
        });
    let (fv, fg) = flat.value_grad(&flat_x);
    assert!(close(v, fv, v.abs()), "value {v} against {fv}");
    let scale = g.iter().fold(0.0f64, |a, b| a.max(b.abs()));
    for (k, name) in names.iter().enumerate() {
        let want = flat.var_index(name).map_or(0.0, |j| fg[j]);
        assert!(
            close(g[k], want, scale),
            "d/d{name}: {} against {want}",
            g[k]
        );
    }
    hess_vec_agrees(indexed, flat, &names, &x, &flat_x);
}

/// The indexed Hessian-vector product against the twin's dense Hessian
/// times the same direction, to a few ulps of the largest row of |H|·|v|
/// (terms the twin merges are added apart by the loops), and the compiled
/// product against the interpreted one, to the bit.
fn hess_vec_agrees(indexed: &Formula, flat: &Formula, names: &[String], x: &[f64], flat_x: &[f64]) {
    let n = x.len();
    let v: Vec<f64> = (0..n).map(|k| 1.0 - 0.3 * k as f64).collect();
    let mut hv = vec![0.0; n];
    indexed.clone().hess_vec(x, &v, &mut hv).unwrap();
    let compiled = indexed.compile().unwrap().hessian_times(x, &v).unwrap();
    for (a, b) in hv.iter().zip(&compiled) {
        assert_eq!(
            a.to_bits(),
            b.to_bits(),
            "{}: Hv {hv:?}, compiled {compiled:?}",
            indexed.source()
        );
    }
    let mut flat = flat.clone();
    let h: Vec<Vec<f64>> = flat
        .hessian()
        .unwrap()
        .iter()
        .map(|row| flat.eval_nodes(row, flat_x))
        .collect();
    let at = |name: &String| flat.var_index(name);
    let rows: Vec<(f64, f64)> = names
        .iter()
        .map(|a| {
            names
                .iter()
                .zip(&v)
                .fold((0.0, 0.0), |(sum, magnitude), (b, vj)| {
                    let hij = match (at(a), at(b)) {
                        (Some(i), Some(j)) => h[i][j],
                        _ => 0.0,
                    };
                    (sum + hij * vj, magnitude + (hij * vj).abs())
                })
        })
        .collect();
    let scale = rows.iter().fold(0.0f64, |m, r| m.max(r.1));
    // The second derivative of `x[j]^i` at x[j] = 0 and i = 1 is NaN, as
    // `i*(i - 1)*x^(i - 2)` (the twin's exponents are numbers, and `x^1`
    // is `x`). A product's at a zero factor is a number
    // (`product_hessian.rs`).
    let zero_factor = x.contains(&0.0);
    for (k, name) in names.iter().enumerate() {
        if zero_factor && hv[k].is_nan() {
            continue;
        }
        assert!(
            close(hv[k], rows[k].0, scale),
            "{}: (Hv) at {name}: {} against {}",
            indexed.source(),
            hv[k],
            rows[k].0
        );
    }
    sparse_hessian_agrees(indexed, &flat, names, x, &h, zero_factor);
}

/// The sparse Hessian (interpreted, and compiled to the bit) against the
/// twin's dense one `h`, entry by entry, to a few ulps of the largest
/// entry: nothing outside its pattern, nothing missing.
fn sparse_hessian_agrees(
    indexed: &Formula,
    flat: &Formula,
    names: &[String],
    x: &[f64],
    h: &[Vec<f64>],
    zero_factor: bool,
) {
    let n = x.len();
    let sparse = indexed.clone().sparse_hessian(x).unwrap();
    let compiled = indexed.compile().unwrap().sparse_hessian(x).unwrap();
    assert_eq!(sparse.cols, compiled.cols);
    for (a, b) in sparse.values.iter().zip(&compiled.values) {
        assert_eq!(
            a.to_bits(),
            b.to_bits(),
            "{}: sparse Hessian, compiled",
            indexed.source()
        );
    }
    let dense = sparse.to_dense();
    let scale = h.iter().flatten().fold(0.0f64, |m, v| m.max(v.abs()));
    for (i, a) in names.iter().enumerate() {
        for (j, b) in names.iter().enumerate() {
            let want = match (flat.var_index(a), flat.var_index(b)) {
                (Some(p), Some(q)) => h[p][q],
                _ => 0.0,
            };
            let got = dense[i * n + j];
            if zero_factor && got.is_nan() {
                continue;
            }
            assert!(
                close(got, want, scale),
                "{}: d2f/d{a}d{b} = {got} in the sparse Hessian, {want} unrolled",
                indexed.source()
            );
        }
    }
}

#[test]
fn rosenbrock_indexed_equals_unrolled() {
    let text = "param n = 7\nvar x[1..n]\nsum(i in 1..n-1, 100*(x[i+1] - x[i]^2)^2 + (1 - x[i])^2)";
    let flat = unrolled(6, |i| {
        format!("100*(x_{} - x_{i}^2)^2 + (1 - x_{i})^2", i + 1)
    });
    agree(&parse(text), &parse(&flat), |k| -1.2 + 0.3 * k as f64);
    compiled_equals_interpreted(&parse(text), |k| -1.2 + 0.3 * k as f64);
    // The same formula at another size, without parsing again.
    let mut f = parse(text);
    f.bind(&[("n".to_string(), 3.0)], &[]).unwrap();
    assert_eq!(f.vars(), ["x[1]", "x[2]", "x[3]"]);
    let flat3 = unrolled(2, |i| {
        format!("100*(x_{} - x_{i}^2)^2 + (1 - x_{i})^2", i + 1)
    });
    agree(&f, &parse(&flat3), |k| 0.5 - 0.2 * k as f64);
}

#[test]
fn sums_inside_functions_products_and_double_sums_equal_unrolled() {
    // log-sum-exp, a product, an index used as a number, a dependent
    // double sum, an indexed definition, a two-dimensional array.
    let cases: Vec<(String, String)> = vec![
        (
            "var x[1..4]\nlog(sum(i in 1..4, exp(x[i])))".into(),
            format!("log({})", unrolled(4, |i| format!("exp(x_{i})"))),
        ),
        (
            "var x[1..4]\nprod(i in 1..4, x[i]) * sum(i in 1..4, i*x[i])".into(),
            format!(
                "({}) * ({})",
                (1..=4).map(|i| format!("x_{i}")).collect::<Vec<_>>().join("*"),
                unrolled(4, |i| format!("{i}*x_{i}"))
            ),
        ),
        (
            "var x[1..4]\nsum(i in 1..3, j in i+1..4, (x[i] - x[j])^2 / (i + j))".into(),
            (1..=3)
                .flat_map(|i| (i + 1..=4).map(move |j| format!("(x_{i} - x_{j})^2/{}", i + j)))
                .collect::<Vec<_>>()
                .join(" + "),
        ),
        (
            "var x[1..5]\nlet r[i] = x[i+1] - 2*x[i]\nsum(k in 1..4, r[k]^2) + sin(r[2])".into(),
            format!(
                "{} + sin(x_3 - 2*x_2)",
                unrolled(4, |k| format!("(x_{} - 2*x_{k})^2", k + 1))
            ),
        ),
        (
            "var p[1..3, 1..2]\nsum(i in 1..2, j in i+1..3, sqrt((p[i,1] - p[j,1])^2 + (p[i,2] - p[j,2])^2))"
                .into(),
            (1..=2)
                .flat_map(|i| {
                    (i + 1..=3).map(move |j| {
                        format!("sqrt((p_{i}_1 - p_{j}_1)^2 + (p_{i}_2 - p_{j}_2)^2)")
                    })
                })
                .collect::<Vec<_>>()
                .join(" + "),
        ),
        (
            "var x[1..4]\na*sum(i in 1..4, exp(b*x[i])) + a^2*b".into(),
            format!("a*({}) + a^2*b", unrolled(4, |i| format!("exp(b*x_{i})"))),
        ),
        (
            "var x[1..3]\nsum(i in 1..3, x[4-i]*x[1]) + x[2]^3".into(),
            format!("{} + x_2^3", unrolled(3, |i| format!("x_{}*x_1", 4 - i))),
        ),
    ];
    for (text, flat) in &cases {
        let at = |k: usize| 0.7 + 0.37 * k as f64 - 0.05 * (k * k) as f64;
        let f = parse(text);
        agree(&f, &parse(flat), at);
        compiled_equals_interpreted(&f, at);
    }
}

/// A pair's two partials are one product and its mirror (`-2*d/q^2` and
/// `2*d/q^2`), which compiled code computes once and negates: still the
/// interpreter's bits where the partials are zeros of either sign or
/// infinite, and NaN where its are (made by `inf/inf`, or carried from a
/// NaN variable). A NaN's sign is not compared: the value's (`1/q`, no
/// mirror) already differs between the two at these points.
#[test]
fn mirrored_partials_equal_the_interpreters_at_zeros_infinities_and_nans() {
    let f =
        parse("param n = 6\nvar x[1..n]\nsum(i in 1..n-1, j in i+1..n, 1/(1 + (x[i] - x[j])^2))");
    let compiled = f.compile().unwrap();
    let same = |a: f64, b: f64| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
    let points: [[f64; 6]; 4] = [
        [0.5, 0.5, -0.0, 0.0, 1e300, -1e300],
        [f64::INFINITY, 1.0, 0.0, 2.0, f64::NEG_INFINITY, 3.0],
        [f64::NAN, 1.0, -f64::NAN, 0.25, 0.5, 2.0],
        [1.0, f64::INFINITY, f64::INFINITY, f64::NAN, 0.0, -0.0],
    ];
    for x in points {
        let (v, g) = f.value_grad(&x);
        let (cv, cg) = compiled.value_grad(&x).unwrap();
        assert!(same(v, cv), "at {x:?}: value {v} against {cv}");
        for (k, (a, b)) in g.iter().zip(&cg).enumerate() {
            assert!(same(*a, *b), "at {x:?}: partial {k}: {a:e} against {b:e}");
        }
    }
}

/// The native loops give the interpreter's value and gradient, to the bit.
fn compiled_equals_interpreted(f: &Formula, at: impl Fn(usize) -> f64) {
    let x: Vec<f64> = (0..f.vars().len()).map(at).collect();
    let (v, g) = f.value_grad(&x);
    let compiled = f.compile().unwrap();
    let (cv, cg) = compiled.value_grad(&x).unwrap();
    assert_eq!(
        v.to_bits(),
        cv.to_bits(),
        "{}: value {v} against {cv}",
        f.source()
    );
    for (a, b) in g.iter().zip(&cg) {
        assert_eq!(
            a.to_bits(),
            b.to_bits(),
            "{}: gradient {g:?} against {cg:?}",
            f.source()
        );
    }
    assert_eq!(compiled.value(&x).unwrap().to_bits(), v.to_bits());
}

#[test]
fn data_and_parameters_fit_a_model() {
    let t = vec![0.0, 1.0, 2.0, 3.0];
    let y = vec![3.0, 1.9, 1.3, 1.1];
    let text = "data t, y\nsum(i in 1..rows, (y[i] - a*exp(-b*t[i]) - c)^2)";
    let f = parse_with(text, &[], &[("t", t.clone()), ("y", y.clone())]);
    assert_eq!(f.vars(), ["a", "b", "c"]);
    let flat = unrolled(4, |i| {
        format!("({} - a*exp(-b*{}) - c)^2", y[i - 1], t[i - 1])
    });
    agree(&f, &parse(&flat), |k| [2.0, 0.9, 1.0][k]);
    compiled_equals_interpreted(&f, |k| [2.0, 0.9, 1.0][k]);
    // Scalar variables only: the Hessian is built too, and matches.
    let mut f = f;
    let mut flat = parse(&flat);
    let (h, hf) = (f.hessian().unwrap(), flat.hessian().unwrap());
    let x = [2.0, 0.9, 1.0];
    for (row, frow) in h.iter().zip(&hf) {
        let a = f.eval_nodes(row, &x);
        let b = flat.eval_nodes(frow, &x);
        for (u, v) in a.iter().zip(&b) {
            assert!(close(*u, *v, 1.0), "{u} against {v}");
        }
    }
    // The derivative prints as a sum, and reads back as the same function.
    let da = f.partial("a").unwrap().to_string();
    assert_eq!(
        da,
        "sum(i in 1..rows, -2*(y[i] - a*exp(-b*t[i]) - c)*exp(-b*t[i]))"
    );
    let again = parse_with(&format!("data t, y\n{da}"), &[], &[("t", t), ("y", y)]);
    let x = [2.0, 0.9, 1.0];
    let want = f.eval_nodes(&[f.gradient()[0]], &x)[0];
    assert_eq!(again.eval(&x), want);
}

#[test]
fn parameters_are_set_and_checked() {
    let text = "param n = 3\nsum(i in 1..n, (x - i)^2)";
    let f = parse_with(text, &[("n", 5.0)], &[]);
    assert_eq!(f.eval(&[0.0]), 1.0 + 4.0 + 9.0 + 16.0 + 25.0);
    let unknown = Formula::parse_with(
        text,
        &Options {
            params: vec![("m".into(), 1.0)],
            ..Options::default()
        },
    )
    .err()
    .unwrap();
    assert_eq!(unknown.message, "the formula has no parameter 'm'");
    let fractional = Formula::parse_with(
        text,
        &Options {
            params: vec![("n".into(), 2.5)],
            ..Options::default()
        },
    )
    .err()
    .unwrap();
    assert_eq!(fractional.kind, ErrorKind::Index);
}

#[test]
fn bad_indices_are_errors_with_a_caret() {
    let cases = [
        (
            "var x[1..3]\nsum(i in 1..4, x[i])",
            "this reads x[4], outside its extent 1..3",
            "x[i]",
            Some("when i = 4"),
        ),
        (
            "sum(i in 1..3, x[i*i])",
            "an index must be affine: a sum of integer multiples of loop indices and parameters",
            "i*i",
            None,
        ),
        (
            "sum(i in 1..3, x[i]) + i",
            "'i' is a loop index, used here outside its sum",
            "i",
            None,
        ),
        (
            "sum(i, x[i])",
            "'sum' needs an index and its range",
            "sum(i, x[i])",
            None,
        ),
        (
            "var x[1..3]\nx + 1",
            "'x' is an array: read one element, as x[i]",
            "x",
            None,
        ),
        (
            "data t\nsum(i in 1..rows, t[i+1])",
            "no data were given for 't'",
            "t",
            None,
        ),
        (
            "var x[1..2]\nx[1, 2]",
            "'x' has 1 index, but 2 are given",
            "x[1, 2]",
            None,
        ),
        (
            // `--set n=4` alone does not declare n: the hint says how.
            "sum(i in 1..n, x[i])",
            "'n' in an index is neither a loop index nor a parameter",
            "n",
            Some("a parameter is declared first, as `param n = 10`; --set n=… then overrides it"),
        ),
        (
            // With --data but no `data` line, `rows` is not yet defined.
            "sum(i in 1..rows, y[i])",
            "'rows' in an index is neither a loop index nor a parameter",
            "rows",
            Some(
                "`rows` is the number of rows of the data, which a `data` line declares \
                 first, as `data t, y`",
            ),
        ),
        (
            "sum(i in 1..3, x[i/2])",
            "an index must be affine: a sum of integer multiples of loop indices and parameters",
            "i/2",
            None,
        ),
        // Through an indexed let, the read is shown where the let is used,
        // with the use's loop indices (user probe: the caret was under the
        // let's x[i], "when i = 3", which is the sum's i, not the let's).
        (
            "var x[1..3]\nlet r[i] = 2*x[i]\nsum(i in 1..3, r[i+1])",
            "this reads x[4], outside its extent 1..3",
            "r[i+1]",
            Some("when i = 3"),
        ),
        (
            "var x[1..3]\nlet r[i] = 2*x[i]\nr[2] + r[4]",
            "this reads x[4], outside its extent 1..3",
            "r[4]",
            None,
        ),
        (
            "var x[1..3]\nlet r[i] = 2*x[i]\nlet q[j] = r[j] + 1\nsum(i in 1..3, q[i+1])",
            "this reads x[4], outside its extent 1..3",
            "q[i+1]",
            Some("when i = 3"),
        ),
    ];
    for (text, message, underlined, hint) in cases {
        let e = Formula::parse(text).err().unwrap();
        assert_eq!(e.message, message, "{text}");
        let span = e.span.unwrap_or_else(|| panic!("{text}: no span"));
        assert_eq!(&text[span.range()], underlined, "{text}");
        if let Some(h) = hint {
            assert_eq!(e.hint.as_deref(), Some(h), "{text}");
        }
    }
}

#[test]
fn an_undeclared_array_extends_to_its_largest_read() {
    let f = parse("sum(i in 2..5, x[i-1]*x[i+1])");
    assert_eq!(f.vars(), ["x[1]", "x[2]", "x[3]", "x[4]", "x[5]", "x[6]"]);
    let below = Formula::parse("sum(i in 1..3, x[i-1])").err().unwrap();
    assert_eq!(
        below.message,
        "this reads x[0], but an undeclared array starts at index 1"
    );
    assert_eq!(
        below.hint.as_deref(),
        Some("declare its extent, as in var x[0..n]")
    );
}

#[test]
fn reductions_print_as_themselves_and_read_back() {
    let text = "param n = 6\nvar x[1..n]\nsum(i in 1..n-1, j in i+1..n, x[i]*x[j]/(i+j)) + prod(k in 2..n, cos(x[k]))";
    let f = parse(text);
    let printed = f.to_slope(f.value()).unwrap();
    let again = parse(&format!("param n = 6\nvar x[1..n]\n{printed}"));
    let x: Vec<f64> = (0..6).map(|k| 0.3 * k as f64 - 0.4).collect();
    assert_eq!(f.eval(&x), again.eval(&x), "{printed}");
    assert_eq!(again.to_slope(again.value()).unwrap(), printed);
}

#[test]
fn the_command_line_evaluates_and_minimises_indexed_formulas() {
    let rosen =
        "param n = 4\nvar x[1..n]\nsum(i in 1..n-1, 100*(x[i+1] - x[i]^2)^2 + (1 - x[i])^2)";
    let (v, _) = json(&[
        "eval",
        rosen,
        "--at",
        "x=-1.2,x[2]=1",
        "--grad",
        "--set",
        "n=3",
        "--json",
    ]);
    assert_eq!(v["vars"], serde_json::json!(["x[1]", "x[2]", "x[3]"]));
    let flat = "100*(x2 - x1^2)^2 + (1 - x1)^2 + 100*(x3 - x2^2)^2 + (1 - x2)^2";
    let (w, _) = json(&[
        "eval",
        flat,
        "--at",
        "x1=-1.2,x2=1,x3=-1.2",
        "--grad",
        "--json",
        "--vars",
        "x1,x2,x3",
    ]);
    assert_eq!(v["value"], w["value"]);
    assert_eq!(v["gradient"], w["gradient"]);
    let (m, _) = json(&["min", rosen, "--start", "x=-1.2", "--set", "n=20", "--json"]);
    assert_eq!(m["converged"], true, "{m}");
    for xi in m["x"].as_array().unwrap() {
        assert!((xi.as_f64().unwrap() - 1.0).abs() < 1e-6, "{m}");
    }
    let bad = run(&["eval", rosen, "--at", "x=1", "--set", "n=x"]);
    assert_eq!(bad.status, 2);
    assert!(
        bad.stderr.contains("--set: 'x' is not a number"),
        "{}",
        bad.stderr
    );
}

/// The run's end (the saddle test) must not ask for an n×n Hessian: at
/// n = 100,000 that was an 80 GB allocation, and the process aborted.
#[test]
fn a_hundred_thousand_variables_are_minimised_without_an_n_squared_matrix() {
    let rosen =
        "param n = 4\nvar x[1..n]\nsum(i in 1..n-1, 100*(x[i+1] - x[i]^2)^2 + (1 - x[i])^2)";
    let (m, _) = json(&[
        "min", rosen, "--start", "x=1.1", "--set", "n=100000", "--json",
    ]);
    assert_eq!(m["converged"], true, "{}", m["message"]);
    let x = m["x"].as_array().unwrap();
    assert_eq!(x.len(), 100_000);
    assert!(x.iter().all(|xi| (xi.as_f64().unwrap() - 1.0).abs() < 1e-6));
}

/// The objective Newton's method runs on for large n: a compiled indexed
/// formula's Hessian-vector products come from its compiled loops (no
/// n×n anywhere), equal to the interpreter's to the bit; its sparse
/// Hessian is tridiagonal with the exact entries; the dense one is
/// refused past the node limit.
#[test]
fn a_compiled_indexed_objective_gives_exact_products_at_a_hundred_thousand_variables() {
    use slope::Objective;
    let text = std::fs::read_to_string("tests/data/rosen.slope").unwrap();
    let n = 100_000;
    let mut f = parse_with(&text, &[("n", n as f64)], &[]);
    let mut code = f.compile().unwrap();
    let x: Vec<f64> = (0..n)
        .map(|k| 1.1 - 0.3 * ((k * 7) % 11) as f64 / 11.0)
        .collect();
    let v: Vec<f64> = (0..n).map(|k| 0.5 - ((k * 5) % 13) as f64 / 13.0).collect();
    let mut product = vec![0.0; n];
    // None until asked for, as for every objective.
    assert!(!Objective::hess_vec(&mut code, &x, &v, &mut product));
    assert!(code.prepare_hess_vec().unwrap());
    assert!(Objective::hess_vec(&mut code, &x, &v, &mut product));
    let mut want = vec![0.0; n];
    f.hess_vec(&x, &v, &mut want).unwrap();
    for k in 0..n {
        assert_eq!(product[k].to_bits(), want[k].to_bits(), "(Hv)[{}]", k + 1);
    }
    // Against the Hessian written by hand: 1200 x_k^2 - 400 x_{k+1} + 2
    // (+ 200 past the first) on the diagonal, -400 x_k beside it.
    let h = code.sparse_hessian(&x).unwrap();
    assert_eq!(h.values.len(), 2 * n - 1);
    for (i, j, value) in h.entries() {
        let hand = if i == j {
            let mut d = 200.0 * (i > 0) as u8 as f64;
            if i + 1 < n {
                d += 1200.0 * x[i] * x[i] - 400.0 * x[i + 1] + 2.0;
            }
            d
        } else {
            assert_eq!(i, j + 1, "only the diagonal and the band below it");
            -400.0 * x[j]
        };
        assert!(
            close(value, hand, 1.0),
            "H[{i}][{j}] = {value}, by hand {hand}"
        );
    }
    // The dense Hessian would be 10^10 values: refused, with no matrix.
    let e = code.prepare_hessian().unwrap_err();
    assert_eq!(e.kind, ErrorKind::Limit, "{e:?}");
    assert!(e.message.contains("dense Hessian"), "{e:?}");
    assert!(!Objective::hessian(&mut code, &x, &mut []));
    assert!(code.hessian(&x).is_err());
    // Small n: the dense one, from the same products.
    let mut small = parse_with(&text, &[("n", 5.0)], &[]);
    let mut code = small.compile().unwrap();
    assert!(code.prepare_hessian().unwrap());
    let mut dense = vec![0.0; 25];
    assert!(Objective::hessian(&mut code, &x[..5], &mut dense));
    assert_eq!(dense, small.sparse_hessian(&x[..5]).unwrap().to_dense());
}

/// `eval --hessian` on arrays: a table up to 20 variables (the same
/// numbers as the sparse form), then the lower triangle entry by entry,
/// in text and as coordinates in JSON; `diff --hessian` refuses.
#[test]
fn the_command_line_prints_the_sparse_hessian_of_arrays() {
    let rosen = "tests/data/rosen.slope";
    fn at(n: &str) -> [&str; 8] {
        let rosen = "tests/data/rosen.slope";
        [
            "eval",
            "-f",
            rosen,
            "--set",
            n,
            "--at",
            "x=1.1",
            "--hessian",
        ]
    }
    let small = run(&at("n=3"));
    assert_eq!(small.status, 0, "{}", small.stderr);
    assert!(small.stdout.contains("hessian:\n"), "{}", small.stdout);
    assert!(small.stdout.contains("x[3]"), "{}", small.stdout);
    let large = run(&at("n=30"));
    assert_eq!(large.status, 0, "{}", large.stderr);
    let lines: Vec<&str> = large.stdout.lines().collect();
    assert_eq!(
        lines[1],
        "hessian (lower triangle, 59 of 30×30 entries; the others are 0):"
    );
    // d2f/dx[2]dx[1] = -400*x[1], and the last diagonal entry 200.
    assert_eq!(lines[3], "  x[2] x[1] -440.00000000000006");
    assert_eq!(lines.last().unwrap(), &"  x[30] x[30] 200");
    assert_eq!(lines.len(), 2 + 59);
    let mut args = at("n=30").to_vec();
    args.push("--json");
    let (j, _) = json(&args);
    let h = &j["hessian"];
    assert_eq!(h["format"], "coo-lower");
    let (rows, cols, values) = (
        h["rows"].as_array().unwrap(),
        h["cols"].as_array().unwrap(),
        h["values"].as_array().unwrap(),
    );
    assert_eq!((rows.len(), cols.len(), values.len()), (59, 59, 59));
    assert_eq!((rows[1].as_u64(), cols[1].as_u64()), (Some(1), Some(0)));
    assert_eq!(values[1].as_f64().unwrap(), -440.00000000000006);
    let diff = run(&["diff", "-f", rosen, "--hessian"]);
    assert_eq!(diff.status, 2);
    assert!(diff.stderr.contains("eval --hessian"), "{}", diff.stderr);
}

#[test]
fn array_partials_print_as_indexed_closed_forms() {
    let rosen =
        "param n = 1000\nvar x[1..n]\nsum(i in 1..n-1, 100*(x[i+1] - x[i]^2)^2 + (1 - x[i])^2)";
    let out = run(&["diff", rosen]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "df/dx[k] = -400*x[k]*(x[k+1] - x[k]^2) - 2*(1 - x[k])   for k in 1..n-1\n\
        \x20        + 200*(x[k] - x[k-1]^2)                        for k in 2..n\n"
    );
    // Where k is a variable, the index is another letter, in the heading too.
    let out = run(&[
        "diff",
        "param n = 3\nvar k\nvar x[1..n]\nsum(i in 1..n, k*x[i])",
    ]);
    assert_eq!(
        out.stdout,
        "df/dk = sum(i in 1..n, x[i])\ndf/dx[m] = k   for m in 1..n\n"
    );
}

/// The partial of a `prod` is the product of the other factors, printed
/// as a person writes it: the products before and after the factor, not
/// the guarded quotient the gradient computes it by (`(1 - sign(...))*
/// x[k]^-sign(x[k])^2*prod(i in 1..3, x[i]^sign(x[i])^2)` before).
#[test]
fn a_products_partials_print_as_the_products_before_and_after_the_factor() {
    let cases = [
        (
            "var x[1..3]\nprod(i in 1..3, x[i])",
            "df/dx[k] = prod(i in 1..k-1, x[i])*prod(i in k+1..3, x[i])   for k in 1..3\n",
        ),
        (
            "param n = 4\nvar x[1..n]\nprod(i in 1..n, 1 + x[i]^2)",
            "df/dx[k] = 2*x[k]*prod(i in 1..k-1, x[i]^2 + 1)*prod(i in k+1..n, x[i]^2 + 1)   \
             for k in 1..n\n",
        ),
        (
            "param n = 4\nvar x[1..n]\nprod(i in 1..n, sin(x[i]))",
            "df/dx[k] = prod(i in 1..k-1, sin(x[i]))*prod(i in k+1..n, sin(x[i]))*cos(x[k])   \
             for k in 1..n\n",
        ),
        // Printed inside the loop over i, the index of the products is
        // another name; with two indices, two products each.
        (
            "param n = 3\nvar x[1..n, 1..2]\nprod(i in 1..n, j in 1..2, x[i,j])",
            "df/dx[k] = prod(i2 in 1..i-1, j2 in 1..2, x[i2,j2])*prod(j2 in 1..j-1, x[i,j2])\
             *prod(j2 in j+1..2, x[i,j2])*prod(i2 in i+1..n, j2 in 1..2, x[i2,j2])   \
             for the element x[i,j], for i in 1..n, j in 1..2\n",
        ),
        // A factor that does not use the index: m - 1 copies of it (over
        // a range of fixed numbers, the product is folded to a power).
        (
            "param m = 3\nvar x[1..3]\nprod(i in 1..m, y)",
            "df/dy = sum(i in 1..m, prod(i in 2..m, y))\ndf/dx[k] = 0\n",
        ),
        (
            "var x[1..3]\nprod(i in 1..3, y)",
            "df/dy = 3*y^2\ndf/dx[k] = 0\n",
        ),
        // A scalar product is no indexed one, and prints as before.
        ("x*y*z", "df/dx = y*z\ndf/dy = x*z\ndf/dz = x*y\n"),
    ];
    for (text, want) in cases {
        let out = run(&["diff", text]);
        assert_eq!(out.status, 0, "{}", out.stderr);
        assert_eq!(out.stdout, want, "{text}");
    }
    // The 2-D form reads back as the product of the other elements.
    let x = [0.5, -1.5, 2.0, 0.25, 3.0, 0.75];
    for (i, j) in [(1, 1), (2, 2), (3, 1)] {
        let term = format!(
            "param i = {i}\nparam j = {j}\nparam n = 3\nvar x[1..n, 1..2]\n\
             prod(i2 in 1..i-1, j2 in 1..2, x[i2,j2])*prod(j2 in 1..j-1, x[i,j2])\
             *prod(j2 in j+1..2, x[i,j2])*prod(i2 in i+1..n, j2 in 1..2, x[i2,j2])"
        );
        let at = 2 * (i - 1) + j - 1;
        let want: f64 = (0..6).filter(|&e| e != at).map(|e| x[e]).product();
        assert_eq!(parse(&term).eval(&x), want, "x[{i},{j}]");
    }
    let powers = parse("sum(i in 1..3, prod(i in 2..3, y))");
    assert_eq!(powers.eval(&[1.5]), 3.0 * 1.5 * 1.5);
    let latex = run(&[
        "diff",
        "--latex",
        "param n = 4\nvar x[1..n]\nprod(i in 1..n, sin(x[i]))",
    ]);
    assert_eq!(
        latex.stdout,
        "df/dx[k] = \\prod_{i=1}^{k-1} \\left(\\sin\\left(x_{i}\\right)\\right) \
         \\prod_{i=k+1}^{n} \\left(\\sin\\left(x_{i}\\right)\\right) \
         \\cos\\left(x_{k}\\right)   for k in 1..n\n"
    );
}

#[test]
fn partials_of_a_double_sum_name_the_element_as_k_in_both_loops() {
    let pairs =
        "param n = 100\nvar x[1..n]\nsum(i in 1..n-1, j in i+1..n, 1/(1 + (x[i] - x[j])^2))";
    let out = run(&["diff", pairs]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "df/dx[k] = sum(i in 1..k-1, 2*(x[i] - x[k])/((x[i] - x[k])^2 + 1)^2)    for k in 2..n\n\
        \x20        + sum(j in k+1..n, -2*(x[k] - x[j])/((x[k] - x[j])^2 + 1)^2)   for k in 1..n-1\n"
    );
    let latex = run(&["diff", "--latex", pairs]);
    assert!(
        latex.stdout.starts_with(
            "df/dx[k] = \\sum_{i=1}^{k-1} \\left(\\frac{2 \\left(x_{i} - x_{k}\\right)}"
        ),
        "{}",
        latex.stdout
    );
}

/// Each printed term, read back with `k` as a parameter, summed over the
/// `k` where it holds, gives the gradient at every element.
#[test]
fn printed_array_partials_evaluate_to_the_gradient() {
    let texts = [
        "param n = 6\nvar x[1..n]\nsum(i in 1..n-1, 100*(x[i+1] - x[i]^2)^2 + (1 - x[i])^2)",
        "param n = 5\nvar x[1..n]\nlog(sum(i in 1..n, exp(x[i]))) + x[2]*x[n]",
        "param n = 5\nvar x[1..n]\nsum(i in 1..n-1, j in i+1..n, (x[i] - x[j])^2/(i + j)) + sum(i in 2..n, i*x[n+1-i]*x[i-1])",
        // Triangular loops, printed with the order exchanged for the
        // inner index's elements, and one whose exchange would split a range
        // (i in 1..n-2 leaves x[n-1]'s sum starting past the end).
        "param n = 5\nvar x[1..n]\nsum(i in 1..n, j in 1..i-1, x[i]*x[j]^2*(i - j))",
        "param n = 6\nvar x[1..n]\nsum(i in 1..n-2, j in i+1..n, x[i]/(1 + x[j]^2))",
        // Inner reductions that use the outer index: their terms name
        // the inner index again inside the loops that add them.
        "param n = 4\nvar x[1..n]\nsum(i in 1..n, exp(prod(j in 1..i, x[j])))",
        "param n = 4\nvar x[1..n]\nsum(i in 1..n, x[i]*sum(j in 1..n, x[j]^i))",
        "param n = 5\nvar x[1..n]\nsum(i in 1..n, (x[i] - 1 - sum(j in 1..i-1, x[j]))^2)",
        // Products: the product of the other factors prints as the
        // products before and after the factor (`prod(i in 1..k-1, x[i])*
        // prod(i in k+1..n, x[i])`), with the index renamed where it is
        // printed by name, and two products per index of several.
        "param n = 5\nvar x[1..n]\nprod(i in 1..n, x[i])",
        "param n = 5\nvar x[1..n]\nprod(i in 1..n, 1 + x[i]^2)",
        "param n = 5\nvar x[1..n]\nprod(i in 1..n, sin(x[i]))",
        "param n = 4\nvar x[1..n+1]\nprod(i in 1..n, x[i+1]*x[i])",
        "param n = 3\nvar x[1..2*n]\nprod(i in 1..n, x[2*i])",
        "param n = 4\nvar x[1..n]\nprod(i in 1..n, j in i..n, 1 + x[i]*x[j])",
        "param n = 4\nvar x[1..n]\nsum(i in 1..n, prod(j in 1..i, i + x[j]))",
    ];
    for (text, zero) in texts.iter().flat_map(|t| [(*t, false), (*t, true)]) {
        let f = parse(text);
        let n = f.vars().len();
        // Also with a factor of every product 0 (x[2] = 0), where the
        // gradient must give the product of the other factors exactly.
        let x: Vec<f64> = (0..n)
            .map(|k| {
                if zero && k == 1 {
                    0.0
                } else {
                    0.2 + 0.3 * k as f64
                }
            })
            .collect();
        let (_, g) = f.value_grad(&x);
        let (decl, body) = text.split_at(text.rfind('\n').unwrap());
        let mut from_terms = vec![0.0; n];
        for (_, terms) in f.array_partials(false).unwrap() {
            for t in terms {
                let range = t.range.unwrap();
                if let Some(rest) = range.strip_prefix("the element ") {
                    // `the element x[j], for i in 1..n-1, j in i+1..n`: the
                    // loops that add the term to that element.
                    let (element, loops) = rest.split_once(", for ").unwrap();
                    let target = &element[element.find('[').unwrap() + 1..element.len() - 1];
                    let loops: Vec<(String, String, String)> = loops
                        .split(", ")
                        .map(|l| {
                            let (name, r) = l.split_once(" in ").unwrap();
                            let (lo, hi) = r.split_once("..").unwrap();
                            (name.into(), lo.into(), hi.into())
                        })
                        .collect();
                    add_over_loops(
                        decl,
                        &loops,
                        String::new(),
                        &t.text,
                        target,
                        &x,
                        &mut from_terms,
                    );
                    continue;
                }
                let (lo, hi) = match range.strip_prefix("k in ") {
                    Some(r) => {
                        let (lo, hi) = r.split_once("..").unwrap();
                        (lo.to_string(), hi.to_string())
                    }
                    None => {
                        let k = range
                            .strip_prefix("k = ")
                            .unwrap_or_else(|| panic!("{text}: {range}"));
                        (k.to_string(), k.to_string())
                    }
                };
                // The range's ends and the term, with k a parameter.
                let at = |end: &str| parse(&format!("{decl}\n{end}")).eval(&x) as usize;
                for k in at(&lo)..=at(&hi) {
                    let term = format!("param k = {k}\n{decl}\n{}", t.text);
                    let _ = body;
                    from_terms[k - 1] += parse(&term).eval(&x);
                }
            }
        }
        for (k, (a, b)) in from_terms.iter().zip(&g).enumerate() {
            assert!(close(*a, *b, 1.0), "{text}: x[{}] {a} against {b}", k + 1);
        }
    }
}

/// Adds `term` to `sums[target - 1]` for every tuple of `loops`, each
/// loop's ends evaluated with the outer indices as parameters.
fn add_over_loops(
    decl: &str,
    loops: &[(String, String, String)],
    bound: String,
    term: &str,
    target: &str,
    x: &[f64],
    sums: &mut [f64],
) {
    let at = |e: &str| parse(&format!("{bound}{decl}\n{e}")).eval(x);
    let Some(((name, lo, hi), rest)) = loops.split_first() else {
        let k = at(target) as usize;
        sums[k - 1] += at(term);
        return;
    };
    for v in at(lo) as i64..=at(hi) as i64 {
        let bound = format!("{bound}param {name} = {v}\n");
        add_over_loops(decl, rest, bound, term, target, x, sums);
    }
}

#[test]
fn data_columns_come_from_a_csv_file() {
    let model = "data t, y\nsum(i in 1..rows, (y[i] - a*exp(-b*t[i]) - c)^2)";
    let (m, min_run) = json(&[
        "min",
        model,
        "--data",
        "tests/data/decay.csv",
        "--start",
        "a=1,b=0.1,c=0",
        "--json",
    ]);
    assert_eq!(m["converged"], true, "{m} {}", min_run.stderr);
    // The least-squares minimum is slope fit's estimate.
    let (fit, _) = json(&[
        "fit",
        "y ~ a*exp(-b*t) + c",
        "--data",
        "tests/data/decay.csv",
        "--start",
        "a=1,b=0.1,c=0",
        "--json",
    ]);
    for (k, name) in ["a", "b", "c"].iter().enumerate() {
        let (got, want) = (
            m["x"][k].as_f64().unwrap(),
            fit["params"][name].as_f64().unwrap(),
        );
        assert!(
            (got - want).abs() < 1e-6 * want.abs().max(1.0),
            "{name}: {got} against {want}"
        );
    }
    let missing = run(&[
        "eval",
        "data t, q\nsum(i in 1..rows, q[i])",
        "--data",
        "tests/data/decay.csv",
    ]);
    assert_eq!(missing.status, 2);
    assert!(
        missing.stderr.contains("the data have no column 'q'"),
        "{}",
        missing.stderr
    );
    assert!(
        missing
            .stderr
            .contains("the columns are 't', 'y' and 'sigma'"),
        "{}",
        missing.stderr
    );
    let none = run(&["eval", "data t\nsum(i in 1..rows, t[i])"]);
    assert_eq!(none.status, 2);
    assert!(
        none.stderr.contains("give the data with --data FILE.csv"),
        "{}",
        none.stderr
    );
}

/// Columns of a CSV text by header name (numbers only, no quoting): what
/// a data file gives `Options::data`.
fn csv_columns(text: &str) -> Vec<(String, Vec<f64>)> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<String> = lines
        .next()
        .unwrap()
        .split(',')
        .map(|h| h.trim().to_string())
        .collect();
    let mut columns: Vec<Vec<f64>> = vec![Vec::new(); header.len()];
    for line in lines {
        for (column, cell) in columns.iter_mut().zip(line.split(',')) {
            column.push(cell.trim().parse().unwrap());
        }
    }
    header.into_iter().zip(columns).collect()
}

/// Exact data (no noise) from y = a*exp(-b*t) + c as CSV text.
fn decay_csv(a: f64, b: f64, c: f64, rows: usize) -> String {
    let mut text = String::from("t,y\n");
    for k in 0..rows {
        let t = 0.1 * k as f64;
        // `{:?}` prints the shortest text that reads back as the same double.
        text.push_str(&format!("{t:?},{:?}\n", a * (-b * t).exp() + c));
    }
    text
}

#[test]
fn a_least_squares_sum_over_csv_data_recovers_its_parameters() {
    let text = "data t, y\nlet r[i] = y[i] - a*exp(-b*t[i]) - c\nsum(i in 1..rows, r[i]^2)";
    let (a, b, c) = (2.5, 1.3, 0.5);
    let data = csv_columns(&decay_csv(a, b, c, 40));
    let options = Options {
        data: data.clone(),
        ..Options::default()
    };
    let mut f = Formula::parse_with(text, &options).unwrap();
    assert_eq!(f.vars(), ["a", "b", "c"]);
    let start = [1.0, 0.2, 0.0];
    compiled_equals_interpreted(&f, |k| start[k]);
    let settings = slope::Settings {
        gtol: 1e-12,
        ..slope::Settings::default()
    };
    let mut compiled = f.compile().unwrap();
    let out = slope::minimize(&mut compiled, &start, &settings).unwrap();
    assert!(out.converged(), "{}", out.message);
    for (got, want) in out.x.iter().zip([a, b, c]) {
        assert!(
            (got - want).abs() <= 1e-6,
            "{:?} against {a}, {b}, {c}",
            out.x
        );
    }
    assert!(out.f <= 1e-20, "f = {:e}", out.f);

    // Other data, bound without parsing again, give their own parameters.
    // (A negative amplitude, (-0.75, 0.4, 3), from the same start leads
    // L-BFGS down the valley b -> 0, where a*exp(-b*t) + c is nearly linear
    // in t and a and c grow apart without bound: a property of the model
    // and the start, not of the sum, so the second set keeps a > 0.)
    let (a, b, c) = (1.75, 0.4, -3.0);
    f.bind(&[], &csv_columns(&decay_csv(a, b, c, 25))).unwrap();
    let mut compiled = f.compile().unwrap();
    let out = slope::minimize(&mut compiled, &start, &settings).unwrap();
    assert!(out.converged(), "{}", out.message);
    for (got, want) in out.x.iter().zip([a, b, c]) {
        assert!(
            (got - want).abs() <= 1e-6,
            "{:?} against {a}, {b}, {c}",
            out.x
        );
    }
}

/// A sum or product inside another that uses the outer index, in its body
/// or its range, equals its unrolled twin, and its compiled code agrees
/// with the interpreter to the bit, also where a factor is 0. These were
/// refused until the evaluators ran an inner loop inside a gradient's loop
/// over the same levels: the compiled code failed to build (a product
/// whose range or body depends on the sum's index), its gradient was
/// wrong (exp of an inner sum over 1..i gave (0, 1.6487, 2.7183) for
/// (10.7025, 9.0538, 6.0496)), and so was the interpreter's on some (an
/// inner sum over 2..i of x[j-1]*x[j+1] beside another).
#[test]
fn a_sum_using_the_index_of_the_sum_around_it_equals_its_unrolled_twin() {
    for (text, flat) in [
        (
            "param n = 3\nvar x[1..n]\nsum(i in 1..n, prod(j in 1..i, x[j]))",
            "x_1 + x_1*x_2 + x_1*x_2*x_3",
        ),
        (
            "param n = 3\nvar x[0..n]\nsum(i in 0..n, prod(j in 0..i, x[j]))",
            "x_0 + x_0*x_1 + x_0*x_1*x_2 + x_0*x_1*x_2*x_3",
        ),
        (
            "param n = 3\nvar x[1..n]\nsum(i in 1..n, x[i]*prod(j in 1..i, x[j]))",
            "x_1*x_1 + x_2*x_1*x_2 + x_3*x_1*x_2*x_3",
        ),
        (
            "param n = 3\nvar x[1..n]\nsum(i in 1..n, prod(j in 1..2, x[j] + i))",
            "(x_1 + 1)*(x_2 + 1) + (x_1 + 2)*(x_2 + 2) + (x_1 + 3)*(x_2 + 3)",
        ),
        (
            "param n = 3\nvar x[1..n]\nsum(i in 1..n, exp(sum(j in 1..i, x[j])))",
            "exp(x_1) + exp(x_1 + x_2) + exp(x_1 + x_2 + x_3)",
        ),
        (
            "param n = 3\nvar x[1..n]\nsum(i in 1..n, x[i]*sum(j in 1..n, x[j]^i))",
            "x_1*(x_1 + x_2 + x_3) + x_2*(x_1^2 + x_2^2 + x_3^2) + x_3*(x_1^3 + x_2^3 + x_3^3)",
        ),
        (
            "param n = 4\nvar x[1..n]\nsum(i in 2..n-1, sum(j in 2..i, x[j-1]*x[j+1]) + x[i]^2)",
            "x_1*x_3 + x_2^2 + x_1*x_3 + x_2*x_4 + x_3^2",
        ),
        (
            "param n = 3\nvar x[1..n]\nlog(sum(i in 1..n, exp(prod(j in i..n, sin(x[j] + j)))))",
            "log(exp(sin(x_1 + 1)*sin(x_2 + 2)*sin(x_3 + 3)) + exp(sin(x_2 + 2)*sin(x_3 + 3)) \
             + exp(sin(x_3 + 3)))",
        ),
    ] {
        let (indexed, flat) = (parse(text), parse(flat));
        let without_zeros = |k: usize| 0.5 + 0.1 * k as f64;
        let with_a_zero = |k: usize| if k == 1 { 0.0 } else { 0.7 - 0.2 * k as f64 };
        agree(&indexed, &flat, without_zeros);
        agree(&indexed, &flat, with_a_zero);
        compiled_equals_interpreted(&indexed, without_zeros);
        compiled_equals_interpreted(&indexed, with_a_zero);
    }
}

/// The real binary on such formulas: `eval --grad` gives the unrolled
/// twin's gradient (and the product of the other factors at a zero
/// factor), and `min` finds the minimum of a sum whose terms each hold a
/// sum over the indices before theirs: x[i] = 1 + x[1] + ... + x[i-1],
/// that is x[i] = 2^(i-1), where it is 0.
#[test]
fn the_command_line_differentiates_and_minimises_nested_sums() {
    let nested = "param n = 3\nvar x[1..n]\nsum(i in 1..n, exp(prod(j in 1..i, x[j])))";
    let (v, _) = json(&["eval", nested, "--at", "x=0.5,x[2]=0", "--grad", "--json"]);
    let flat = "exp(x1) + exp(x1*x2) + exp(x1*x2*x3)";
    let (w, _) = json(&[
        "eval",
        flat,
        "--at",
        "x1=0.5,x2=0,x3=0.5",
        "--grad",
        "--json",
        "--vars",
        "x1,x2,x3",
    ]);
    assert_eq!(v["value"], w["value"]);
    let (g, want) = (
        v["gradient"].as_array().unwrap(),
        w["gradient"].as_array().unwrap(),
    );
    for (a, b) in g.iter().zip(want) {
        let (a, b) = (a.as_f64().unwrap(), b.as_f64().unwrap());
        assert!((a - b).abs() <= 1e-15 * b.abs().max(1.0), "{v} against {w}");
    }
    let product = "var x[1..3]\nprod(i in 1..3, x[i])";
    let (p, _) = json(&[
        "eval",
        product,
        "--at",
        "x=2,x[2]=0,x[3]=3",
        "--grad",
        "--json",
    ]);
    assert_eq!(p["gradient"], serde_json::json!([0.0, 6.0, 0.0]), "{p}");

    let doubling =
        "param n = 6\nvar x[1..n]\nsum(i in 1..n, (x[i] - 1 - sum(j in 1..i-1, x[j]))^2)";
    let (m, _) = json(&["min", doubling, "--start", "x=0", "--json"]);
    assert_eq!(m["converged"], true, "{m}");
    assert!(m["f"].as_f64().unwrap() < 1e-12, "{m}");
    for (k, xk) in m["x"].as_array().unwrap().iter().enumerate() {
        let want = 2f64.powi(k as i32);
        assert!((xk.as_f64().unwrap() - want).abs() < 1e-6 * want, "{m}");
    }
}

#[test]
fn constraints_on_indexed_formulas_are_solved() {
    use slope::{Auglag, Settings, minimize_constrained};
    let solve = |f: &Formula, start: &[f64]| {
        let mut p = f.compile_problem().unwrap();
        let out =
            minimize_constrained(&mut p, start, &Settings::default(), &Auglag::default()).unwrap();
        assert!(out.converged(), "{:?}", out.outcome.reason);
        out.outcome.x
    };
    // On an array: the nearest point of the half-plane x[1] + x[2] >= 1 to 0.
    let arrays = parse("var x[1..2]\nx[1]^2 + x[2]^2\nsubject to x[1] + x[2] >= 1");
    let x = solve(&arrays, &[0.0, 0.0]);
    assert!(
        (x[0] - 0.5).abs() < 1e-6 && (x[1] - 0.5).abs() < 1e-6,
        "{x:?}"
    );
    // A scalar variable with a sum in the objective: the sum is least at
    // a = 1.5, but a <= 1 holds it at 1.
    let sums = parse("param n = 2\nsum(i in 1..n, (a - i)^2)\nsubject to a <= 1");
    let x = solve(&sums, &[0.0]);
    assert!((x[0] - 1.0).abs() < 1e-6, "{x:?}");
}
