//! The limits on variables and graph nodes, and inputs at the sizes the
//! limits must allow: 100,000 variables through parse, gradient, compile and
//! evaluation (library and binary), and 10,000-deep formulas through the
//! whole pipeline on a small stack, which fails if any stage (drops
//! included) recurses on depth.

use slope::jit::Compiled;
use slope::{Detail, ErrorKind, Formula, Limit, Limits, Options};

use crate::run;
use crate::table::Table;

/// `sum (v_i - c_i)^2 * w_i` over `n` variables, with `c_i`, `w_i` small
/// numbers that differ between neighbours.
fn weighted_squares(n: usize) -> String {
    (0..n)
        .map(|i| format!("{}*(v{i} - {})^2", i % 5 + 1, i % 7))
        .collect::<Vec<_>>()
        .join(" + ")
}

fn point(n: usize) -> Vec<f64> {
    (0..n).map(|i| (i % 11) as f64 * 0.5 - 2.0).collect()
}

/// The value and gradient of [`weighted_squares`] at `x`.
fn expected(x: &[f64]) -> (f64, Vec<f64>) {
    let mut value = 0.0;
    let mut gradient = Vec::with_capacity(x.len());
    for (i, &xi) in x.iter().enumerate() {
        let (w, c) = ((i % 5 + 1) as f64, (i % 7) as f64);
        value += w * (xi - c) * (xi - c);
        gradient.push(2.0 * w * (xi - c));
    }
    (value, gradient)
}

const MANY: usize = 100_000;

#[test]
fn a_hundred_thousand_variables_through_the_library() {
    let text = weighted_squares(MANY);
    let mut f = Formula::parse(&text).unwrap();
    assert_eq!(f.vars().len(), MANY);
    assert_eq!(f.vars()[MANY - 1], format!("v{}", MANY - 1));
    let mut outputs = vec![f.value()];
    outputs.extend_from_slice(f.gradient());
    let x = point(MANY);
    let (value, gradient) = expected(&x);

    let interpreted = f.eval_nodes(&outputs, &x);
    let compiled = Compiled::compile(f.graph(), &outputs, MANY).unwrap();
    let mut out = vec![0.0; outputs.len()];
    compiled.call(&x, &mut out);
    for (name, got) in [("interpreter", &interpreted), ("compiled", &out)] {
        assert!(
            (got[0] - value).abs() <= 1e-12 * value,
            "{name}: value {} vs {value}",
            got[0]
        );
        // Each partial is one product: exact.
        assert_eq!(got[1..], gradient[..], "{name}: gradient");
    }
    // The Hessian would have 10^10 entries: refused before any is made.
    let nodes = f.graph().len();
    let e = f.hessian().unwrap_err();
    assert_eq!(e.kind, ErrorKind::Limit);
    assert!(e.message.contains("10000000000 entries"), "{}", e.message);
    let over_nodes = Detail::Limit {
        limit: Limit::Nodes,
        max: Limits::default().max_nodes,
    };
    assert_eq!(e.detail, Some(over_nodes));
    assert_eq!(f.graph().len(), nodes);
}

/// Writes `text` to a file of this test's own, removed when dropped.
struct Scratch(std::path::PathBuf);

impl Scratch {
    fn new(name: &str, text: &str) -> Scratch {
        let path = std::env::temp_dir().join(format!("slope-limits-{}-{name}", std::process::id()));
        std::fs::write(&path, text).unwrap();
        Scratch(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn a_hundred_thousand_variables_through_the_binary() {
    let formula = Scratch::new("formula", &weighted_squares(MANY));
    let x = point(MANY);
    // One pair a line: `--at @FILE` reads commas or newlines.
    let at_text: String = x
        .iter()
        .enumerate()
        .map(|(i, v)| format!("v{i}={v}\n"))
        .collect();
    let at = Scratch::new("point", &at_text);
    let at_arg = format!("--at=@{}", at.path());
    let (json, _) = run::json(&["eval", "-f", formula.path(), "--grad", "--json", &at_arg]);
    let (value, gradient) = expected(&x);
    let got_value = json["value"].as_f64().unwrap();
    assert!((got_value - value).abs() <= 1e-12 * value);
    let got: Vec<f64> = json["gradient"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(got, gradient);
    assert_eq!(json["vars"].as_array().unwrap().len(), MANY);

    // Over --max-vars: refused, naming the limit and the flag.
    let out = run::run(&["diff", "-f", formula.path(), "--max-vars", "99999"]);
    let stderr = out.stderr;
    assert_eq!(out.status, 2);
    assert!(
        stderr.starts_with("error: the formula has 100000 variables, over the limit of 99999\n"),
        "{stderr}"
    );
    assert!(stderr.contains("--max-vars"), "{stderr}");
    assert!(out.stdout.is_empty());
}

fn with_limits(limits: Limits) -> Options {
    Options {
        limits,
        ..Options::default()
    }
}

#[test]
fn the_variable_limit() {
    let limits = Limits {
        max_vars: 3,
        ..Limits::default()
    };
    assert!(Formula::parse_with("x + y + z", &with_limits(limits)).is_ok());
    let e = Formula::parse_with("x + y + z + w", &with_limits(limits))
        .err()
        .unwrap();
    assert_eq!(e.kind, ErrorKind::Limit);
    assert_eq!(
        e.message,
        "the formula has 4 variables, over the limit of 3"
    );
    let over_vars = Detail::Limit {
        limit: Limit::Vars,
        max: 3,
    };
    assert_eq!(e.detail, Some(over_vars));
    // Variables named by --vars count too.
    let options = Options {
        vars: Some(["a", "b", "c", "d"].map(String::from).to_vec()),
        limits,
        ..Options::default()
    };
    assert_eq!(
        Formula::parse_with("a*b", &options).err().unwrap().kind,
        ErrorKind::Limit
    );
}

/// `exp(x1*x2*...*xn)`: every second partial is a distinct product, so the
/// Hessian's graph is far larger than the formula's.
fn exp_of_product(n: usize) -> String {
    let factors: Vec<String> = (1..=n).map(|i| format!("x{i}")).collect();
    format!("exp({})", factors.join("*"))
}

#[test]
fn the_node_limit_covers_derivatives() {
    let text = exp_of_product(40);
    // Measure what each stage needs with no limit: a formula is parsed
    // with its gradient.
    let mut free = Formula::parse(&text).unwrap();
    let gradient_nodes = free.graph().len();
    let _ = free.hessian().unwrap();
    let hessian_nodes = free.graph().len();
    assert!(
        hessian_nodes > 5 * gradient_nodes,
        "{gradient_nodes} → {hessian_nodes}"
    );

    let limited = |max_nodes| {
        Formula::parse_with(
            &text,
            &with_limits(Limits {
                max_nodes,
                ..Limits::default()
            }),
        )
    };
    // The formula and its gradient over the limit: refused, saying which
    // limit (the command line adds the flag that raises it).
    let e = limited(gradient_nodes - 1).err().unwrap();
    assert_eq!(e.kind, ErrorKind::Limit);
    assert!(
        e.message
            .contains(&format!("more than {} graph nodes", gradient_nodes - 1)),
        "{}",
        e.message
    );
    let over = |max| {
        Some(Detail::Limit {
            limit: Limit::Nodes,
            max,
        })
    };
    assert_eq!(e.detail, over(gradient_nodes - 1));
    // Exactly enough.
    let f = limited(gradient_nodes).unwrap();
    assert_eq!(f.eval(&[1.0; 40]), 1f64.exp());

    // The Hessian over the limit (with room for its 1,600 entries), after a
    // gradient that fits: refused mid-sweep, and the gradient still works.
    let max = gradient_nodes + 1_600 + 10;
    let mut f = limited(max).unwrap();
    let grad = f.gradient().to_vec();
    let e = f.hessian().unwrap_err();
    assert_eq!(e.kind, ErrorKind::Limit);
    assert_eq!(e.detail, over(max));
    assert_eq!(f.graph().len(), gradient_nodes);
    let g = f.eval_nodes(&grad, &[1.0; 40]);
    assert!(g.iter().all(|&d| d == 1f64.exp()), "{g:?}");

    // Exactly enough: the Hessian is built.
    let mut f = limited(hessian_nodes + 40 * 40).unwrap();
    assert_eq!(f.hessian().unwrap().len(), 40);

    // A hand-written derivative (`slope check --grad`) read into the
    // formula's graph counts too.
    let limits = Limits {
        max_nodes: gradient_nodes + 5,
        ..Limits::default()
    };
    let mut f = limited(limits.max_nodes).unwrap();
    assert!(f.parse_into("x1 + 1", &limits).is_ok());
    let cubes: Vec<String> = (1..=10).map(|i| format!("x{i}^3")).collect();
    let e = f.parse_into(&cubes.join(" + "), &limits).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Limit);
    assert_eq!(f.graph().len(), gradient_nodes + 1);
}

#[test]
fn an_exploding_hessian_is_refused_by_default_without_running_out_of_memory() {
    // 4,000 variables: the Hessian's 1.6*10^7 entries are over the default
    // limit, refused before the first sweep.
    let text = format!(
        "exp({})",
        (0..4_000)
            .map(|i| format!("v{i}"))
            .collect::<Vec<_>>()
            .join(" + ")
    );
    let mut f = Formula::parse(&text).unwrap();
    let e = f.hessian().unwrap_err();
    assert_eq!(e.kind, ErrorKind::Limit);
    assert!(e.message.contains("16000000 entries"), "{}", e.message);
    // 150 variables in one product under exp: 150 sweeps. It fits by
    // default; with room for the entries but half the nodes it takes, it
    // is refused mid-sweep.
    let text = exp_of_product(150);
    let mut f = Formula::parse(&text).unwrap();
    let gradient_nodes = f.graph().len();
    let _ = f.hessian().unwrap();
    let needed = f.graph().len();
    assert!(needed > 20 * gradient_nodes, "{needed} nodes");
    let options = with_limits(Limits {
        max_nodes: 150 * 150 + needed / 2,
        ..Limits::default()
    });
    let mut f = Formula::parse_with(&text, &options).unwrap();
    let e = f.hessian().unwrap_err();
    assert!(e.message.contains("graph nodes"), "{}", e.message);
}

/// Runs `work` on a thread with a 256 KiB stack; its panic is the caller's.
fn on_a_small_stack(work: impl FnOnce() + Send) {
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .stack_size(256 << 10)
            .spawn_scoped(s, work)
            .unwrap()
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
    });
}

/// `sin` applied `k` times to `x`, and the derivative of that.
fn sines(k: usize, x: f64) -> (f64, f64) {
    let (mut v, mut d) = (x, 1.0f64);
    for _ in 0..k {
        d *= v.cos();
        v = v.sin();
    }
    (v, d)
}

/// Parse, differentiate, evaluate, compile, print and drop formulas nested
/// 10,000 deep, on a small stack: only the parser may recurse, and it runs
/// on a thread of its own. Where the calculus knows the value and the
/// derivative at x = 0.5, the interpreter gives them.
#[test]
fn ten_thousand_deep_through_the_pipeline_on_a_small_stack() {
    let n = 10_000;
    let rows: [(String, Option<(f64, f64)>); 7] = [
        (
            format!("{}x{}", "(".repeat(n), ")".repeat(n)),
            Some((0.5, 1.0)),
        ),
        // An even number of signs is x itself, an odd number -x.
        (format!("{}x", "-".repeat(n)), Some((0.5, 1.0))),
        (format!("{}x", "-".repeat(n - 1)), Some((-0.5, -1.0))),
        (
            format!("{}x{}", "sin(".repeat(n), ")".repeat(n)),
            Some(sines(n, 0.5)),
        ),
        (format!("{}x{}", "max(x, ".repeat(n), ")".repeat(n)), None),
        (vec!["x"; n].join("^"), None),
        (
            {
                let mut t = String::from("let a1 = x\n");
                for k in 2..=n {
                    t.push_str(&format!("let a{k} = sin(a{})\n", k - 1));
                }
                t.push_str(&format!("a{n}"));
                t
            },
            Some(sines(n - 1, 0.5)),
        ),
    ];
    let t = Table::new();
    for (text, known) in &rows {
        t.row(format!("{text:.30}"), || {
            on_a_small_stack(|| {
                let f = Formula::parse(text).unwrap();
                let mut outputs = vec![f.value()];
                outputs.extend_from_slice(f.gradient());
                let x = [0.5];
                let interpreted = f.eval_nodes(&outputs, &x);
                if let Some((v, d)) = *known {
                    let [value, slope] = interpreted[..] else {
                        unreachable!()
                    };
                    assert!(
                        (value - v).abs() <= 1e-12 * (1.0 + v.abs()),
                        "value {value}, expected {v}"
                    );
                    assert!(
                        (slope - d).abs() <= 1e-9 * (1.0 + d.abs()),
                        "derivative {slope}, expected {d}"
                    );
                }
                let compiled = Compiled::compile(f.graph(), &outputs, 1).unwrap();
                let mut out = [0.0; 2];
                compiled.call(&x, &mut out);
                for (c, i) in out.iter().zip(&interpreted) {
                    assert!((c - i).abs() <= 1e-13 * i.abs(), "{c} vs {i}");
                }
                // Printing may refuse (output too deep) but must not overflow.
                let _ = f.to_slope(f.value());
                let _ = f.to_latex(outputs[1]);
                let _ = f.diagnose(&outputs, &x);
                drop(compiled);
                drop(f);
            })
        });
    }
}

/// Found by the `roundtrip` fuzz target: constants whose product overflows
/// were kept in whatever order they came, and at x = 0 the derivative was
/// NaN (inf * 0) while its printed form gave -0. They now come last, after
/// the factors that can be 0, in both.
#[test]
fn overflowing_constants_print_back_to_the_same_value() {
    let c = "(6.02E+23 * 6.02E+23)";
    let c4 = format!("(({c} * {c}) * ({c} * {c}))");
    let text = format!("((({c4} * {c4}) * (((-(x + x)) * x) * x)) * x)");
    let f = Formula::parse(&text).unwrap();
    let dx = f.gradient()[0];
    let printed = f.to_slope(dx).unwrap();
    let back = Formula::parse(&printed).unwrap();
    let (a, b) = (f.eval_nodes(&[dx], &[0.0])[0], back.eval(&[0.0]));
    assert!(
        a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
        "d/dx is {a} at 0, printed as {printed}, which is {b}"
    );
}

/// The error `text` is refused with, in one line: kind, message, where.
fn refusal(text: &str) -> String {
    let e = Formula::parse(text).err().expect("refused");
    let span = e.span.map(|s| &text[s.range()]).unwrap_or("");
    format!("{:?}: {} at {span:?}", e.kind, e.message)
}

#[test]
fn the_iteration_limit_bounds_each_nest_of_loops_whatever_its_ranges_are_written_with() {
    // A range of numbers is held to the limit as one of parameters is.
    assert_eq!(
        refusal("sum(i in 1..1e12, x*i)"),
        "Limit: this sum runs up to 1e12 iterations, over the limit of 1e10 \
         per evaluation at \"sum(i in 1..1e12, x*i)\""
    );
    assert_eq!(
        refusal("param n = 1e11\nprod(i in 1..n, x)"),
        "Limit: this prod runs up to 1e11 iterations, over the limit of 1e10 \
         per evaluation at \"prod(i in 1..n, x)\""
    );
    // Nested loops multiply: 10^6 inside 10^6 is 10^12, refused at the
    // inner loop, and a triangle is bounded by its rectangle.
    let nested = "param n = 1000000\nsum(i in 1..n, sum(j in 1..n, x*i*j))";
    assert_eq!(
        refusal(nested),
        "Limit: this sum runs up to 1e12 iterations with the loops around it, \
         over the limit of 1e10 per evaluation at \"sum(j in 1..n, x*i*j)\""
    );
    let e = Formula::parse(nested).err().unwrap();
    assert_eq!(
        e.hint.as_deref(),
        Some("nested loops multiply: give the ranges, or the parameters in them, smaller values")
    );
    let e = Formula::parse("sum(i in 1..1e12, x*i)").err().unwrap();
    assert_eq!(
        e.hint.as_deref(),
        Some("give the range, or the parameters in it, smaller values")
    );
    let triangle = |n: u64| format!("param n = {n}\nsum(i in 1..n, sum(j in i+1..n, x*i*j))");
    assert_eq!(
        Formula::parse(&triangle(100_001)).err().unwrap().kind,
        ErrorKind::Limit
    );
    assert!(Formula::parse(&triangle(100_000)).is_ok());
    // At the limit and one past it.
    assert!(Formula::parse("sum(i in 1..1e10, x*i)").is_ok());
    assert!(Formula::parse("sum(i in 1..1e5, j in 1..1e5, x*i)").is_ok());
    assert_eq!(
        Formula::parse("sum(i in 1..1e10+1, x*i)")
            .err()
            .unwrap()
            .kind,
        ErrorKind::Limit
    );
    // A count just over the limit shows as over it (it read "1.000e10").
    assert_eq!(
        refusal("sum(i in 1..100001, j in 1..100000, x*i*j)"),
        "Limit: this sum runs up to 1.00001e10 iterations, over the limit of 1e10 \
         per evaluation at \"sum(i in 1..100001, j in 1..100000, x*i*j)\""
    );
    // Rebinding with a larger parameter is refused alike.
    let mut f = Formula::parse("param n = 10\nsum(i in 1..n, sum(j in 1..n, i*j*x))").unwrap();
    let e = f.bind(&[("n".to_string(), 1e6)], &[]).err().unwrap();
    assert_eq!(e.kind, ErrorKind::Limit);
    // Numbers in a bound may be a power; too large a one is out of range.
    assert_eq!(
        refusal("sum(i in 1..10^12, x*i)"),
        "Limit: this sum runs up to 1e12 iterations, over the limit of 1e10 \
         per evaluation at \"sum(i in 1..10^12, x*i)\""
    );
    let f = Formula::parse("sum(i in 1..10^3, x*i)").unwrap();
    assert_eq!(f.eval_nodes(&[f.value()], &[2.0]), [1001000.0]);
    assert_eq!(
        refusal("sum(i in 1..9223372036854775807, x)"),
        "Index: the index 9.223372036854776e18 is out of the range of indices \
         at \"9223372036854775807\""
    );
}

/// Written out term by term, a sum of more terms than the node limit is
/// refused before its terms are listed (one task per term of 500 bytes
/// took 10 GB for 2*10^7 terms).
#[test]
fn writing_out_a_loop_past_the_node_limit_is_refused_before_it_starts() {
    let limits = Limits {
        max_nodes: 1000,
        ..Limits::default()
    };
    let f = Formula::parse_with("sum(i in 1..1e9, i*x)", &with_limits(limits)).unwrap();
    let e = f.unrolled().err().unwrap();
    assert_eq!(
        e.detail,
        Some(Detail::Limit {
            limit: Limit::Nodes,
            max: 1000
        })
    );
    assert!(
        e.hint.as_deref().unwrap().contains("up to 1.000e9 terms"),
        "{e:?}"
    );
    let f =
        Formula::parse_with("sum(i in 1..10, j in i..10, i*j*x)", &with_limits(limits)).unwrap();
    assert_eq!(
        f.unrolled().unwrap().partial("x").unwrap().to_string(),
        "1705"
    );
}

/// A point for more variables than memory can hold is an error, not an
/// abort: the variable limit raised past the machine.
#[test]
fn a_point_larger_than_memory_is_refused() {
    let limits = Limits {
        max_vars: usize::MAX,
        ..Limits::default()
    };
    let f = Formula::parse_with("x[1125899906842624]", &with_limits(limits)).unwrap();
    let e = f.point(&[("x".to_string(), 1.0)]).err().unwrap();
    assert_eq!(e.kind, ErrorKind::Limit);
    assert_eq!(
        e.message,
        "1125899906842624 variables need 9.007e15 bytes, more memory than the system can allocate"
    );
}

#[test]
fn one_name_is_not_both_a_variable_and_an_array() {
    assert_eq!(
        refusal("x + sum(i in 1..3, x[i])"),
        "Name: 'x' is used both as a variable and as an array at \"x\""
    );
    let e = Formula::parse("x[1] + y + x").err().unwrap();
    assert_eq!(e.span.map(|s| s.start), Some(11));
    assert_eq!(
        e.hint.as_deref(),
        Some("it is an array at 1:1: give the scalar and the array different names")
    );
    let e = Formula::parse("var x\nx[2]").err().unwrap();
    assert_eq!(e.span.map(|s| s.start), Some(6));
}

/// A sum or product whose body uses none of its indices, over ranges of
/// fixed numbers, is no loop: its count times the body, or the body to
/// that power (`sum(i in 1..10^10, x)` took seconds per evaluation, and
/// nested ranges minutes). Ranges with parameters stay loops.
#[test]
fn a_body_without_its_indices_over_fixed_ranges_is_folded() {
    let printed = |text: &str| {
        let f = Formula::parse(text).unwrap();
        f.to_slope(f.value()).unwrap()
    };
    assert_eq!(printed("sum(i in 1..10^12, x)"), "1000000000000*x");
    assert_eq!(printed("sum(i in 1..1e5, j in 1..1e5, x)"), "10000000000*x");
    assert_eq!(printed("prod(i in 1..3, x)"), "x^3");
    assert_eq!(printed("sum(i in 3..2, x)"), "0");
    assert_eq!(printed("prod(i in 3..2, x)"), "1");
    // Inside a loop, over the outer index: the inner one folds.
    assert_eq!(
        printed("var y[1..4]\nsum(i in 1..4, sum(j in 1..3, y[i]))"),
        "sum(i in 1..4, 3*y[i])"
    );
    assert_eq!(
        printed("param n = 5\nsum(i in 1..n, x)"),
        "sum(i in 1..n, x)"
    );
}
