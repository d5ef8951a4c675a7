//! The `slope` binary: outputs, JSON shapes, input sources, diagnostics and
//! exit statuses (0 success, 1 failure, 2 bad input).

use serde_json::{Value, json};
use slope::{Formula, Options};

use super::slope as run;

// ---------------------------------------------------------------- helpers

/// Exact stdout and status; stderr holds each fragment (and is empty if none).
fn check_cli(args: &[&str], stdout: &str, stderr: &[&str], status: i32) {
    check_cli_stdin(args, None, stdout, stderr, status);
}

fn check_cli_stdin(args: &[&str], stdin: Option<&str>, stdout: &str, stderr: &[&str], status: i32) {
    let r = run(args, stdin);
    assert_eq!(
        r.stdout, stdout,
        "stdout of {args:?} (stderr:\n{})",
        r.stderr
    );
    if stderr.is_empty() {
        assert_eq!(r.stderr, "", "stderr of {args:?}");
    }
    for fragment in stderr {
        assert!(
            r.stderr.contains(fragment),
            "stderr of {args:?} lacks {fragment:?}:\n{}",
            r.stderr
        );
    }
    assert_eq!(
        r.status, status,
        "status of {args:?} (stderr:\n{})",
        r.stderr
    );
}

/// Exact stderr, empty stdout, and the status.
fn check_failure(args: &[&str], stderr: &str, status: i32) {
    let r = run(args, None);
    assert_eq!(
        (r.stdout.as_str(), r.stderr.as_str(), r.status),
        ("", stderr, status),
        "{args:?}"
    );
}

/// Stdout as one JSON object, and the status.
fn run_json(args: &[&str]) -> (Value, i32) {
    let r = run(args, None);
    assert!(
        r.stdout.ends_with('\n') && r.stdout.lines().count() == 1,
        "{args:?}: {}",
        r.stdout
    );
    let value =
        serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {}", r.stdout));
    (value, r.status)
}

/// A file under the temporary directory, removed when dropped.
struct TempFile(std::path::PathBuf);

impl TempFile {
    fn new(name: &str, text: &str) -> TempFile {
        let path = std::env::temp_dir().join(format!("slope-cli-{}-{name}", std::process::id()));
        std::fs::write(&path, text).unwrap();
        TempFile(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

const ROSENBROCK: &str = "(1-x)^2 + 100*(y-x^2)^2";

// ---------------------------------------------------------------- diff

#[rustfmt::skip]
#[test]
fn diff_text() {
    check_cli(&["diff", "x^2"], "df/dx = 2*x\n", &[], 0);
    check_cli(&["diff", "3*x^2 + 2*x + 1"], "df/dx = 6*x + 2\n", &[], 0);
    check_cli(&["diff", "x^2*sin(y)"], "df/dx = 2*x*sin(y)\ndf/dy = x^2*cos(y)\n", &[], 0);
    check_cli(&["diff", "-exp(-x1^2 - x2^2)"], "df/dx1 = 2*x1*exp(-x1^2 - x2^2)\ndf/dx2 = 2*x2*exp(-x1^2 - x2^2)\n", &[], 0);
    // A constant has no partials: nothing to print, and no error.
    check_cli(&["diff", "2 + 3"], "", &[], 0);
    // Formulas starting with '-' are formulas, not flags.
    check_cli(&["diff", "-x^2"], "df/dx = -2*x\n", &[], 0);
    check_cli(&["diff", "-x^2", "--wrt", "x"], "df/dx = -2*x\n", &[], 0);
    check_cli(&["diff", "--", "-x^2"], "df/dx = -2*x\n", &[], 0);
}

#[rustfmt::skip]
#[test]
fn diff_wrt_and_vars() {
    check_cli(&["diff", "x^2*sin(y)", "--wrt", "y"], "df/dy = x^2*cos(y)\n", &[], 0);
    check_cli(&["diff", "x^2*sin(y)", "--wrt", "y,x"], "df/dy = x^2*cos(y)\ndf/dx = 2*x*sin(y)\n", &[], 0);
    check_cli(&["diff", "x^2*sin(y)", "--vars", "y,x"], "df/dy = x^2*cos(y)\ndf/dx = 2*x*sin(y)\n", &[], 0);
    // --vars may name variables the formula does not use.
    check_cli(&["diff", "x^2", "--vars", "x,z"], "df/dx = 2*x\ndf/dz = 0\n", &[], 0);
    check_cli(&["diff", "x^2*y", "--wrt", "z"], "", &["error: --wrt: the formula has no variable 'z'\n", "hint: its variables are 'x' and 'y'"], 2);
    check_cli(&["diff", "x^2*y", "--vars", "y"], "", &["error: --vars leaves out 'x'\n", "hint: the formula's variables are 'x' and 'y'"], 2);
    check_cli(&["diff", "x", "--vars", "x,sin"], "", &["error: 'sin' in --vars is not a valid variable name"], 2);
}

#[test]
fn diff_hessian_and_latex() {
    check_cli(
        &["diff", ROSENBROCK, "--hessian"],
        "df/dx = -400*x*(y - x^2) - 2*(1 - x)\n\
         df/dy = 200*(y - x^2)\n\
         d2f/dx2 = 800*x^2 - 400*(y - x^2) + 2\n\
         d2f/dxdy = -400*x\n\
         d2f/dy2 = 200\n",
        &[],
        0,
    );
    check_cli(
        &["diff", "x^2*sin(y)", "--latex"],
        "\\frac{\\partial f}{\\partial x} = 2 x \\sin\\left(y\\right)\n\
         \\frac{\\partial f}{\\partial y} = x^{2} \\cos\\left(y\\right)\n",
        &[],
        0,
    );
    check_cli(
        &["diff", "x1*x2^2", "--latex", "--hessian", "--wrt", "x2"],
        "\\frac{\\partial f}{\\partial x_{2}} = 2 x_{1} x_{2}\n\
         \\frac{\\partial^{2} f}{\\partial x_{2}^{2}} = 2 x_{1}\n",
        &[],
        0,
    );
    check_cli(
        &["diff", "x*y", "--latex", "--hessian"],
        "\\frac{\\partial f}{\\partial x} = y\n\
         \\frac{\\partial f}{\\partial y} = x\n\
         \\frac{\\partial^{2} f}{\\partial x^{2}} = 0\n\
         \\frac{\\partial^{2} f}{\\partial x \\partial y} = 1\n\
         \\frac{\\partial^{2} f}{\\partial y^{2}} = 0\n",
        &[],
        0,
    );
}

#[test]
fn diff_json() {
    let (v, status) = run_json(&["diff", "x^2*y", "--json"]);
    assert_eq!(status, 0);
    assert_eq!(
        v,
        json!({"vars": ["x", "y"], "partials": {"x": "2*x*y", "y": "x^2"}})
    );
    // Key order follows the variables (a tool may rely on it).
    let r = run(&["diff", "x^2*y", "--json"], None);
    assert_eq!(
        r.stdout,
        "{\"vars\":[\"x\",\"y\"],\"partials\":{\"x\":\"2*x*y\",\"y\":\"x^2\"}}\n"
    );

    let (v, _) = run_json(&["diff", "x^2*y", "--json", "--wrt", "y"]);
    assert_eq!(v, json!({"vars": ["x", "y"], "partials": {"y": "x^2"}}));
    let (v, _) = run_json(&["diff", "x^2*y", "--json", "--vars", "y,x"]);
    assert_eq!(v["vars"], json!(["y", "x"]));
    let (v, _) = run_json(&["diff", "2", "--json"]);
    assert_eq!(v, json!({"vars": [], "partials": {}}));
    let (v, _) = run_json(&["diff", ROSENBROCK, "--json", "--hessian"]);
    assert_eq!(
        v["hessian"],
        json!([["800*x^2 - 400*(y - x^2) + 2", "-400*x"], ["-400*x", "200"]])
    );
    let (v, _) = run_json(&["diff", "x^2*y", "--json", "--latex"]);
    assert_eq!(v["latex"], json!({"x": "2 x y", "y": "x^{2}"}));
}

/// Each JSON partial is slope syntax for the same function as the library's
/// partial derivative.
#[test]
fn diff_json_partials_parse_back() {
    let formulas = [
        ROSENBROCK,
        "x^2*sin(y)",
        "-exp(-x1^2 - x2^2)",
        "a/b - b/a + atan2(a, b)",
        "hypot(u, v)*ln(u) - 2^-v",
        "let r = sqrt(x^2 + y^2)\nsin(r)/r",
    ];
    let points: [[f64; 2]; 3] = [[0.5, 1.5], [1.25, -0.75], [2.0, 3.0]];
    for text in formulas {
        let (v, status) = run_json(&["diff", text, "--json"]);
        assert_eq!(status, 0, "{text}");
        let f = Formula::parse(text).unwrap();
        let vars: Vec<String> = serde_json::from_value(v["vars"].clone()).unwrap();
        assert_eq!(vars, f.vars(), "{text}");
        let options = Options {
            vars: Some(vars.clone()),
            ..Default::default()
        };
        for (i, name) in vars.iter().enumerate() {
            let printed = v["partials"][name].as_str().unwrap();
            let g = Formula::parse_with(printed, &options).unwrap();
            let d = f.gradient()[i];
            for x in points {
                let (want, got) = (f.eval_nodes(&[d], &x)[0], g.eval(&x));
                assert!(want.is_finite(), "{text}: d/d{name} at {x:?} is {want}");
                let tol = 1e-12 * want.abs().max(1.0);
                assert!(
                    (want - got).abs() <= tol,
                    "{text}: d/d{name} = {printed} at {x:?}: {got} vs {want}"
                );
            }
        }
    }
}

// ---------------------------------------------------------------- eval

#[rustfmt::skip]
#[test]
fn eval_text() {
    check_cli(&["eval", "x^2*y", "--at", "x=3,y=2"], "f = 18\n", &[], 0);
    check_cli(&["eval", "x^2*y", "--at", "x=3,y=2", "--grad"], "f = 18\ndf/dx = 12\ndf/dy = 9\n", &[], 0);
    check_cli(&["eval", "x^2*y", "--at", "y=2,x=3", "--grad", "--vars", "y,x"], "f = 18\ndf/dy = 9\ndf/dx = 12\n", &[], 0);
    check_cli(&["eval", "x/3", "--at", "x=1"], "f = 0.3333333333333333\n", &[], 0);
    check_cli(&["eval", "2^3^2"], "f = 512\n", &[], 0);
    check_cli(&["eval", "pi"], "f = 3.141592653589793\n", &[], 0);
    check_cli(&["eval", "-x^2", "--at", "x=3"], "f = -9\n", &[], 0);
    check_cli(&["eval", "x", "--at", "x=-2.5"], "f = -2.5\n", &[], 0);
    check_cli(&["eval", "x", "--at", " x = 2 ,"], "f = 2\n", &[], 0);
    check_cli(&["eval", "x*1e300", "--at", "x=2"], "f = 2e300\n", &[], 0);
    check_cli(&["eval", "min(x, y)", "--at", "x=1,y=1", "--grad"], "f = 1\ndf/dx = 0.5\ndf/dy = 0.5\n", &[], 0);
}

#[test]
fn eval_hessian_text() {
    check_cli(
        &["eval", ROSENBROCK, "--at", "x=1,y=1", "--grad", "--hessian"],
        "f = 0\ndf/dx = 0\ndf/dy = 0\n\
         hessian:\n        x     y\n  x   802  -400\n  y  -400   200\n",
        &[],
        0,
    );
    check_cli(
        &["eval", "x^2*y + z", "--at", "x=1,y=2,z=3", "--hessian"],
        "f = 5\nhessian:\n     x  y  z\n  x  4  2  0\n  y  2  0  0\n  z  0  0  0\n",
        &[],
        0,
    );
}

#[test]
fn eval_json() {
    let (v, status) = run_json(&["eval", "x^2*y", "--at", "x=3,y=2", "--grad", "--json"]);
    assert_eq!(status, 0);
    assert_eq!(
        v,
        json!({"vars": ["x", "y"], "value": 18.0, "gradient": [12.0, 9.0]})
    );
    let (v, _) = run_json(&["eval", "x^2*y", "--at", "x=3,y=2", "--json"]);
    assert_eq!(v, json!({"vars": ["x", "y"], "value": 18.0}));
    let (v, _) = run_json(&[
        "eval",
        ROSENBROCK,
        "--at",
        "x=1,y=1",
        "--grad",
        "--hessian",
        "--json",
    ]);
    assert_eq!(
        v,
        json!({"vars": ["x", "y"], "value": 0.0, "gradient": [0.0, 0.0],
               "hessian": [[802.0, -400.0], [-400.0, 200.0]]})
    );
    let (v, _) = run_json(&[
        "eval",
        ROSENBROCK,
        "--at",
        "x=-1.2,y=1",
        "--hessian",
        "--json",
    ]);
    assert_eq!(v["hessian"][0][1], v["hessian"][1][0]);
    assert_eq!(v["hessian"][1], json!([480.0, 200.0]));
    let (v, _) = run_json(&["eval", "2", "--grad", "--hessian", "--json"]);
    assert_eq!(
        v,
        json!({"vars": [], "value": 2.0, "gradient": [], "hessian": []})
    );
}

// ---------------------------------------------------------------- input

#[test]
fn formula_from_a_file() {
    let file = TempFile::new(
        "sphere.slope",
        "# the sphere\nlet r1 = x1 - 1.5\nlet r2 = x2 - 2.5\n\nr1^2 + r2^2 + (x3 - 0.5)^2\n",
    );
    check_cli(
        &["diff", "-f", file.path()],
        "df/dx1 = 2*(x1 - 1.5)\ndf/dx2 = 2*(x2 - 2.5)\ndf/dx3 = 2*(x3 - 0.5)\n",
        &[],
        0,
    );
    check_cli(
        &[
            "eval",
            "--file",
            file.path(),
            "--at",
            "x1=1.5,x2=2.5,x3=1.5",
        ],
        "f = 1\n",
        &[],
        0,
    );
    // Errors name the file and the line.
    let bad = TempFile::new("bad.slope", "let a = x\n\nsinn(a)\n");
    let expected = format!(
        "error: unknown function 'sinn'\n --> {}:3:1\n  |\n3 | sinn(a)\n  | ^^^^ did you mean 'sin'?\n",
        bad.path()
    );
    check_failure(&["diff", "-f", bad.path()], &expected, 2);
    let missing = std::env::temp_dir().join(format!("slope-cli-{}-missing", std::process::id()));
    let missing = missing.to_str().unwrap();
    check_cli(
        &["diff", "-f", missing],
        "",
        &[&format!("error: cannot read '{missing}'")],
        2,
    );
    // A formula and a file at once is a usage error.
    check_cli(
        &["diff", "x", "-f", file.path()],
        "",
        &["cannot be used with"],
        2,
    );
}

#[rustfmt::skip]
#[test]
fn formula_from_stdin() {
    check_cli_stdin(&["diff", "-f", "-"], Some("x^3 # cube\n"), "df/dx = 3*x^2\n", &[], 0);
    check_cli_stdin(&["eval", "-f", "-", "--at", "x=2", "--grad"], Some("let a = x\na^3\n"), "f = 8\ndf/dx = 12\n", &[], 0);
    check_cli_stdin(&["diff", "-f", "-"], Some("x +\n  2y\n"), "", &[" --> <stdin>:2:3\n", "2 |   2y\n", "  |   ^^ write 2*y\n"], 2);
    check_cli_stdin(&["diff", "-f", "-"], Some(""), "", &["error: empty formula\n"], 2);
}

// ---------------------------------------------------------------- errors

#[test]
fn syntax_errors_are_rendered_with_a_caret() {
    check_failure(
        &["diff", "2 * sinn(x)"],
        "error: unknown function 'sinn'\n --> <arg>:1:5\n  |\n1 | 2 * sinn(x)\n  |     ^^^^ did you mean 'sin'?\n",
        2,
    );
    check_failure(
        &["eval", "2x + 1", "--at", "x=1"],
        "error: implicit multiplication is not supported\n --> <arg>:1:1\n  |\n1 | 2x + 1\n  | ^^ write 2*x\n",
        2,
    );
    check_failure(
        &["diff", "min(x)"],
        "error: 'min' takes 2 arguments, but 1 was given\n --> <arg>:1:1\n  |\n1 | min(x)\n  | ^^^^^^\n",
        2,
    );
    check_failure(
        &["diff", "x²"],
        "error: unexpected character '²'\n --> <arg>:1:2\n  |\n1 | x²\n  |  ^ write ^2 for a square\n",
        2,
    );
    check_failure(
        &["diff", "let a = 1\nlet b = a +\n  * 2\nb"],
        "error: unexpected '*'\n --> <arg>:3:3\n  |\n3 |   * 2\n  |   ^ expected a number, a name or '('\n",
        2,
    );
    check_failure(
        &["diff", "1e999"],
        "error: the number 1e999 is too large for a double\n --> <arg>:1:1\n  |\n1 | 1e999\n  | ^^^^^ the largest double is about 1.8e308\n",
        2,
    );
    check_failure(
        &["diff", ""],
        "error: empty formula\n --> <arg>:1:1\n  |\n1 | \n  | ^ write an expression, such as x^2 + y^2\n",
        2,
    );
}

#[rustfmt::skip]
#[test]
fn bad_points() {
    let check = |at: &str, stderr: &str| check_failure(&["eval", "x^2*y", "--at", at], stderr, 2);
    check("x=1", "error: no value for 'y'\n  = hint: the formula's variables are 'x' and 'y'\n");
    check("", "error: no value for 'x' and 'y'\n  = hint: the formula's variables are 'x' and 'y'\n");
    check("x=1,y=2,z=3", "error: the formula has no variable 'z'\n  = hint: its variables are 'x' and 'y'\n");
    check("x=1,y=2,x=3", "error: 'x' is given twice\n");
    check("x=1,y=abc", "error: --at: 'abc' is not a number\n  = hint: write --at y=1.5\n");
    check("x=inf", "error: --at: 'inf' is not a finite number\n");
    check("x=1e999", "error: --at: '1e999' is not a finite number\n");
    check("x=1,y", "error: --at: 'y' is not name=value\n  = hint: write --at x=1,y=2\n");
    // Without --at, the hint shows how to give one.
    check_failure(&["eval", "x^2*y"], "error: no value for 'x' and 'y'\n  = hint: give the point with --at x=1\n", 2);
    check_failure(&["eval", "2", "--at", "x=1"], "error: the formula has no variable 'x'\n  = hint: its variables are none: it is a constant\n", 2);
}

#[test]
fn not_finite_results() {
    check_cli(
        &["eval", "ln(x)", "--at", "x=-1"],
        "f = NaN\n",
        &[
            "error: ln of a negative number\n --> <arg>:1:1\n  |\n1 | ln(x)\n  | ^^^^^ gives NaN here\n",
        ],
        1,
    );
    check_cli(
        &["eval", "y + ln(x)", "--at", "x=0,y=1"],
        "f = -inf\n",
        &["error: ln of zero\n --> <arg>:1:5\n"],
        1,
    );
    check_cli(
        &["eval", "sqrt(x)", "--at", "x=0", "--grad"],
        "f = 0\ndf/dx = inf\n",
        &["error: division by zero in the derivative of the operation\n --> <arg>:1:1\n"],
        1,
    );
    // JSON: non-finite numbers are null, never a bare NaN.
    let r = run(&["eval", "ln(x)", "--at", "x=-1", "--json"], None);
    assert_eq!(r.stdout, "{\"vars\":[\"x\"],\"value\":null}\n");
    assert!(r.stderr.contains("ln of a negative number"), "{}", r.stderr);
    assert_eq!(r.status, 1);
    let (v, status) = run_json(&[
        "eval",
        "ln(x)",
        "--at",
        "x=-1",
        "--grad",
        "--hessian",
        "--json",
    ]);
    assert_eq!(
        (v, status),
        (
            json!({"vars": ["x"], "value": null, "gradient": [-1.0], "hessian": [[-1.0]]}),
            1
        )
    );
    let (v, status) = run_json(&["eval", "sqrt(x)", "--at", "x=0", "--grad", "--json"]);
    assert_eq!(
        (v, status),
        (json!({"vars": ["x"], "value": 0.0, "gradient": [null]}), 1)
    );
}

#[test]
fn usage_errors() {
    check_cli(
        &["frob", "x"],
        "",
        &["error: unrecognized subcommand 'frob'"],
        2,
    );
    check_cli(
        &["diff", "x", "--frob"],
        "",
        &["error: unexpected argument '--frob' found"],
        2,
    );
    check_cli(
        &["eval", "x", "--at"],
        "",
        &["error: a value is required for '--at <POINT>'"],
        2,
    );
    check_cli(&["diff"], "", &["error: no formula given", "-f -"], 2);
    check_cli(
        &["diff", "x", "y"],
        "",
        &["error: unexpected argument 'y' found"],
        2,
    );
    check_cli(&[], "", &["Usage: slope <COMMAND>"], 2);
    let help = run(&["--help"], None);
    assert_eq!(help.status, 0);
    assert!(
        help.stdout.contains("diff") && help.stdout.contains("eval"),
        "{}",
        help.stdout
    );
    check_cli(&["--version"], "slope 0.1.0\n", &[], 0);
}
