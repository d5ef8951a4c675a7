//! The NIST StRD nonlinear regression problems (public domain; the `.dat`
//! files as NIST publishes them, from lmfit's source distribution): each
//! fitted from both certified starts with the library, and the log
//! relative error (LRE, the number of correct significant digits) of the
//! parameters, their standard errors and the residual sum of squares
//! measured against the certified values.
//!
//! Each model is transcribed from the `.dat` file's model line and checked
//! against a second transcription (lmfit's `tests/NISTModels.py`). Nelson's
//! response is `log[y]`: the test fits a column `logy` computed from `y`.
//!
//! Run `cargo test --test it nist -- --nocapture` to see the table.

use std::path::Path;

use slope::fit::{Factorization, Model, Options};

/// Problem name and the model in slope syntax (the response `y`, the
/// predictor `x`; Nelson's are `logy`, `x1` and `x2`).
const PROBLEMS: [(&str, &str); 27] = [
    // Lower difficulty.
    ("Misra1a", "y ~ b1*(1 - exp(-b2*x))"),
    ("Chwirut2", "y ~ exp(-b1*x)/(b2 + b3*x)"),
    ("Chwirut1", "y ~ exp(-b1*x)/(b2 + b3*x)"),
    (
        "Lanczos3",
        "y ~ b1*exp(-b2*x) + b3*exp(-b4*x) + b5*exp(-b6*x)",
    ),
    ("Gauss1", GAUSS),
    ("Gauss2", GAUSS),
    ("DanWood", "y ~ b1*x^b2"),
    ("Misra1b", "y ~ b1*(1 - (1 + b2*x/2)^(-2))"),
    // Average difficulty.
    ("Kirby2", "y ~ (b1 + b2*x + b3*x^2)/(1 + b4*x + b5*x^2)"),
    ("Hahn1", CUBIC_OVER_CUBIC),
    ("Nelson", "logy ~ b1 - b2*x1*exp(-b3*x2)"),
    ("MGH17", "y ~ b1 + b2*exp(-x*b4) + b3*exp(-x*b5)"),
    (
        "Lanczos1",
        "y ~ b1*exp(-b2*x) + b3*exp(-b4*x) + b5*exp(-b6*x)",
    ),
    (
        "Lanczos2",
        "y ~ b1*exp(-b2*x) + b3*exp(-b4*x) + b5*exp(-b6*x)",
    ),
    ("Gauss3", GAUSS),
    ("Misra1c", "y ~ b1*(1 - (1 + 2*b2*x)^(-0.5))"),
    ("Misra1d", "y ~ b1*b2*x*((1 + b2*x)^(-1))"),
    ("Roszman1", "y ~ b1 - b2*x - atan(b3/(x - b4))/pi"),
    ("ENSO", ENSO),
    // Higher difficulty.
    ("MGH09", "y ~ b1*(x^2 + x*b2)/(x^2 + x*b3 + b4)"),
    ("Thurber", CUBIC_OVER_CUBIC),
    ("BoxBOD", "y ~ b1*(1 - exp(-b2*x))"),
    ("Rat42", "y ~ b1/(1 + exp(b2 - b3*x))"),
    ("MGH10", "y ~ b1*exp(b2/(x + b3))"),
    ("Eckerle4", "y ~ (b1/b2)*exp(-0.5*((x - b3)/b2)^2)"),
    ("Rat43", "y ~ b1/((1 + exp(b2 - b3*x))^(1/b4))"),
    ("Bennett5", "y ~ b1*(b2 + x)^(-1/b3)"),
];

const GAUSS: &str = "y ~ b1*exp(-b2*x) + b3*exp(-(x - b4)^2/b5^2) + b6*exp(-(x - b7)^2/b8^2)";
const CUBIC_OVER_CUBIC: &str = "y ~ (b1 + b2*x + b3*x^2 + b4*x^3)/(1 + b5*x + b6*x^2 + b7*x^3)";
const ENSO: &str = "y ~ b1 + b2*cos(2*pi*x/12) + b3*sin(2*pi*x/12) \
                    + b5*cos(2*pi*x/b4) + b6*sin(2*pi*x/b4) \
                    + b8*cos(2*pi*x/b7) + b9*sin(2*pi*x/b7)";

/// One certified problem read from its `.dat` file.
struct Problem {
    /// b1, b2, ... with both starts, the certified value and standard error.
    params: Vec<(String, [f64; 2], f64, f64)>,
    rss: f64,
    columns: Vec<String>,
    data: Vec<Vec<f64>>,
}

fn read(name: &str) -> Problem {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/data/nist/{name}.dat"));
    let text = std::fs::read_to_string(&path).unwrap();
    let mut params = Vec::new();
    let mut rss = f64::NAN;
    let mut columns = Vec::new();
    let mut data: Vec<Vec<f64>> = Vec::new();
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.len() == 6 && words[0].starts_with('b') && words[1] == "=" {
            let num = |i: usize| words[i].parse::<f64>().unwrap();
            params.push((words[0].to_string(), [num(2), num(3)], num(4), num(5)));
        } else if line.starts_with("Residual Sum of Squares:") {
            rss = words.last().unwrap().parse().unwrap();
        } else if words.first() == Some(&"Data:") && words.get(1) == Some(&"y") {
            columns = words[1..].iter().map(|w| w.to_string()).collect();
        } else if !columns.is_empty() && !words.is_empty() {
            let row: Vec<f64> = words.iter().map(|w| w.parse().unwrap()).collect();
            assert_eq!(row.len(), columns.len(), "{name}: {line}");
            data.push(row);
        }
    }
    assert!(
        !params.is_empty() && rss.is_finite() && !data.is_empty(),
        "{name}"
    );
    Problem {
        params,
        rss,
        columns,
        data,
    }
}

/// Correct significant digits of `got` against `want`, at most 11 (the
/// certified values' precision).
fn lre(got: f64, want: f64) -> f64 {
    if got == want {
        return 11.0;
    }
    let rel = (got - want).abs() / want.abs();
    if !rel.is_finite() {
        return 0.0;
    }
    (-rel.log10()).clamp(0.0, 11.0)
}

/// One run's figures: the least LRE over the parameters, over their
/// standard errors, and the RSS's LRE.
struct Run {
    problem: &'static str,
    start: usize,
    params: f64,
    stderr: f64,
    rss: f64,
    iterations: usize,
    reason: String,
    x: Vec<f64>,
}

fn fit_one(name: &'static str, text: &str, start: usize, factorization: Factorization) -> Run {
    let p = read(name);
    let mut columns: Vec<Vec<f64>> = (0..p.columns.len())
        .map(|j| p.data.iter().map(|row| row[j]).collect())
        .collect();
    let mut names = p.columns.clone();
    if name == "Nelson" {
        names.push("logy".into());
        columns.push(columns[0].iter().map(|y| y.ln()).collect());
    }
    let data: Vec<(&str, &[f64])> = names
        .iter()
        .map(String::as_str)
        .zip(columns.iter().map(Vec::as_slice))
        .collect();
    let model = Model::new(text, &names).unwrap();
    let find = |b: &str| p.params.iter().find(|q| q.0 == b).unwrap();
    assert_eq!(model.params().len(), p.params.len(), "{name}");
    let options = Options {
        start: Some(model.params().iter().map(|b| find(b).1[start]).collect()),
        factorization,
        ..Options::default()
    };
    let fit = model.fit(&data, &options).unwrap();
    let mut run = Run {
        problem: name,
        start: start + 1,
        params: 11.0,
        stderr: 11.0,
        rss: lre(fit.rss, p.rss),
        iterations: fit.iterations,
        reason: fit.reason.name().to_string(),
        x: fit.x.clone(),
    };
    for (i, b) in model.params().iter().enumerate() {
        let (_, _, value, stderr) = find(b);
        run.params = run.params.min(lre(fit.x[i], *value));
        run.stderr = run.stderr.min(lre(fit.stderr[i], *stderr));
    }
    run
}

/// Both ways of building R (Householder reflections, the default, and
/// the normal equations in double-double) reach the certified digits, and
/// each other's estimates.
#[test]
fn nist_strd_nonlinear_regression_to_certified_accuracy() {
    let householder = certified(Factorization::Householder);
    let normal = certified(Factorization::NormalEquations);
    let mut least = (11.0, "");
    for (a, b) in normal.iter().zip(&householder) {
        for (x, y) in a.x.iter().zip(&b.x) {
            if lre(*x, *y) < least.0 {
                least = (lre(*x, *y), a.problem);
            }
        }
    }
    eprintln!(
        "the two factorizations' estimates agree to {:.1} digits at least ({})",
        least.0, least.1
    );
    assert!(least.0 >= 6.0);
}

/// Fits every problem from both starts with R built by `factorization`,
/// prints the table and checks it against the goal.
fn certified(factorization: Factorization) -> Vec<Run> {
    let mut runs = Vec::new();
    for (name, text) in PROBLEMS {
        for start in 0..2 {
            runs.push(fit_one(name, text, start, factorization));
        }
    }
    eprintln!("{factorization:?}:");
    eprintln!(
        "{:<10} {:>5} {:>8} {:>8} {:>8} {:>6}  stopped",
        "problem", "start", "params", "stderr", "rss", "iter"
    );
    for r in &runs {
        eprintln!(
            "{:<10} {:>5} {:>8.1} {:>8.1} {:>8.1} {:>6}  {}",
            r.problem, r.start, r.params, r.stderr, r.rss, r.iterations, r.reason
        );
    }
    let mean = runs.iter().map(|r| r.params).sum::<f64>() / runs.len() as f64;
    eprintln!("mean parameter LRE {mean:.2} over {} runs", runs.len());
    let misses: Vec<String> = runs
        .iter()
        .filter(|r| r.params < 6.0 || r.stderr < 4.0)
        .map(|r| format!("{} start {}", r.problem, r.start))
        .collect();
    // Runs known to miss the goal (parameter LRE ≥ 6, stderr LRE ≥ 4);
    // any other miss fails. Lanczos1's data are exact to 12 digits, so its
    // certified RSS (1.4e-25) is the size of the rounding error of the
    // residuals themselves (|y| ≈ 1, so each rᵢ ≈ 1e-13 carries ~1e-16 of
    // rounding): no double-precision evaluation of the model gets the RSS,
    // and with it s² and the standard errors, to more than 3 to 5 digits
    // (3.4 from both starts when this was written; 4.8 and 3.2 with the
    // Jacobian stored and factored whole). The parameters reach 10.6.
    let known = ["Lanczos1 start 1", "Lanczos1 start 2"];
    let unexpected: Vec<&String> = misses
        .iter()
        .filter(|m| !known.contains(&m.as_str()))
        .collect();
    assert!(unexpected.is_empty(), "runs below the goal: {unexpected:?}");
    // The goal is a mean of 9.4 (Ceres Solver's published figure); this
    // solver measured 10.70 when this was written. Asserted at 10.5 so
    // that a regression in the solver or its polishing shows.
    assert!(mean >= 10.5, "mean parameter LRE {mean:.2} < 10.5");
    runs
}
