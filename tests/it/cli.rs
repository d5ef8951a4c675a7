//! The `slope` binary: outputs, JSON shapes, input sources, diagnostics and
//! exit statuses (0 success, 1 failure, 2 bad input).

use expect_test::{Expect, expect};
use serde_json::json;
use slope::{Formula, Options};

use crate::run::{Run, check_cli, check_cli_stdin, check_failure, json, slope};
use crate::table::Table;

// ---------------------------------------------------------------- helpers

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
    let t = &Table::new();
    check_cli(t, &["diff", "x^2"], expect![["df/dx = 2*x\n"]], &[], 0);
    check_cli(t, &["diff", "3*x^2 + 2*x + 1"], expect![["df/dx = 6*x + 2\n"]], &[], 0);
    check_cli(t, &["diff", "x^2*sin(y)"], expect![[r#"
            df/dx = 2*x*sin(y)
            df/dy = x^2*cos(y)
        "#]], &[], 0);
    check_cli(t, &["diff", "-exp(-x1^2 - x2^2)"], expect![[r#"
            df/dx1 = 2*x1*exp(-x1^2 - x2^2)
            df/dx2 = 2*x2*exp(-x1^2 - x2^2)
        "#]], &[], 0);
    // A constant has no partials: nothing to print, and no error.
    check_cli(t, &["diff", "2 + 3"], expect![[""]], &[], 0);
    // Formulas starting with '-' are formulas, not flags.
    check_cli(t, &["diff", "-x^2"], expect![["df/dx = -2*x\n"]], &[], 0);
    check_cli(t, &["diff", "-x^2", "--wrt", "x"], expect![["df/dx = -2*x\n"]], &[], 0);
    check_cli(t, &["diff", "--", "-x^2"], expect![["df/dx = -2*x\n"]], &[], 0);
}

#[rustfmt::skip]
#[test]
fn diff_wrt_and_vars() {
    let t = &Table::new();
    check_cli(t, &["diff", "x^2*sin(y)", "--wrt", "y"], expect![["df/dy = x^2*cos(y)\n"]], &[], 0);
    check_cli(t, &["diff", "x^2*sin(y)", "--wrt", "y,x"], expect![[r#"
            df/dy = x^2*cos(y)
            df/dx = 2*x*sin(y)
        "#]], &[], 0);
    check_cli(t, &["diff", "x^2*sin(y)", "--vars", "y,x"], expect![[r#"
            df/dy = x^2*cos(y)
            df/dx = 2*x*sin(y)
        "#]], &[], 0);
    // --vars may name variables the formula does not use.
    check_cli(t, &["diff", "x^2", "--vars", "x,z"], expect![[r#"
            df/dx = 2*x
            df/dz = 0
        "#]], &[], 0);
    check_cli(t, &["diff", "x^2*y", "--wrt", "z"], expect![[""]], &["error: --wrt: the formula has no variable 'z'\n", "hint: its variables are 'x' and 'y'"], 2);
    check_cli(t, &["diff", "x^2*y", "--vars", "y"], expect![[""]], &["error: --vars leaves out 'x'\n", "hint: the formula's variables are 'x' and 'y'"], 2);
    check_cli(t, &["diff", "x", "--vars", "x,sin"], expect![[""]], &["error: 'sin' in --vars is not a valid variable name"], 2);
}

#[test]
fn diff_hessian_and_latex() {
    let t = &Table::new();
    check_cli(
        t,
        &["diff", ROSENBROCK, "--hessian"],
        expect![[r#"
            df/dx = -400*x*(y - x^2) - 2*(1 - x)
            df/dy = 200*(y - x^2)
            d2f/dx2 = 800*x^2 - 400*(y - x^2) + 2
            d2f/dxdy = -400*x
            d2f/dy2 = 200
        "#]],
        &[],
        0,
    );
    check_cli(
        t,
        &["diff", "x^2*sin(y)", "--latex"],
        expect![[r#"
            \frac{\partial f}{\partial x} = 2 x \sin\left(y\right)
            \frac{\partial f}{\partial y} = x^{2} \cos\left(y\right)
        "#]],
        &[],
        0,
    );
    check_cli(
        t,
        &["diff", "x1*x2^2", "--latex", "--hessian", "--wrt", "x2"],
        expect![[r#"
            \frac{\partial f}{\partial x_{2}} = 2 x_{1} x_{2}
            \frac{\partial^{2} f}{\partial x_{2}^{2}} = 2 x_{1}
        "#]],
        &[],
        0,
    );
    check_cli(
        t,
        &["diff", "x*y", "--latex", "--hessian"],
        expect![[r#"
            \frac{\partial f}{\partial x} = y
            \frac{\partial f}{\partial y} = x
            \frac{\partial^{2} f}{\partial x^{2}} = 0
            \frac{\partial^{2} f}{\partial x \partial y} = 1
            \frac{\partial^{2} f}{\partial y^{2}} = 0
        "#]],
        &[],
        0,
    );
}

#[test]
fn diff_json() {
    let (v, Run { status, .. }) = json(&["diff", "x^2*y", "--json"]);
    assert_eq!(status, 0);
    assert_eq!(
        v,
        json!({"vars": ["x", "y"], "partials": {"x": "2*x*y", "y": "x^2"}})
    );
    // Key order follows the variables (a tool may rely on it).
    let r = slope(&["diff", "x^2*y", "--json"], None);
    assert_eq!(
        r.stdout,
        "{\"vars\":[\"x\",\"y\"],\"partials\":{\"x\":\"2*x*y\",\"y\":\"x^2\"}}\n"
    );

    let (v, _) = json(&["diff", "x^2*y", "--json", "--wrt", "y"]);
    assert_eq!(v, json!({"vars": ["x", "y"], "partials": {"y": "x^2"}}));
    let (v, _) = json(&["diff", "x^2*y", "--json", "--vars", "y,x"]);
    assert_eq!(v["vars"], json!(["y", "x"]));
    let (v, _) = json(&["diff", "2", "--json"]);
    assert_eq!(v, json!({"vars": [], "partials": {}}));
    let (v, _) = json(&["diff", ROSENBROCK, "--json", "--hessian"]);
    assert_eq!(
        v["hessian"],
        json!([["800*x^2 - 400*(y - x^2) + 2", "-400*x"], ["-400*x", "200"]])
    );
    let (v, _) = json(&["diff", "x^2*y", "--json", "--latex"]);
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
        let (v, Run { status, .. }) = json(&["diff", text, "--json"]);
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
    let t = &Table::new();
    check_cli(t, &["eval", "x^2*y", "--at", "x=3,y=2"], expect![["f = 18\n"]], &[], 0);
    check_cli(t, &["eval", "x^2*y", "--at", "x=3,y=2", "--grad"], expect![[r#"
            f = 18
            df/dx = 12
            df/dy = 9
        "#]], &[], 0);
    check_cli(t, &["eval", "x^2*y", "--at", "y=2,x=3", "--grad", "--vars", "y,x"], expect![[r#"
            f = 18
            df/dy = 9
            df/dx = 12
        "#]], &[], 0);
    check_cli(t, &["eval", "x/3", "--at", "x=1"], expect![["f = 0.3333333333333333\n"]], &[], 0);
    check_cli(t, &["eval", "2^3^2"], expect![["f = 512\n"]], &[], 0);
    check_cli(t, &["eval", "pi"], expect![["f = 3.141592653589793\n"]], &[], 0);
    check_cli(t, &["eval", "-x^2", "--at", "x=3"], expect![["f = -9\n"]], &[], 0);
    check_cli(t, &["eval", "x", "--at", "x=-2.5"], expect![["f = -2.5\n"]], &[], 0);
    check_cli(t, &["eval", "x", "--at", " x = 2 ,"], expect![["f = 2\n"]], &[], 0);
    check_cli(t, &["eval", "x*1e300", "--at", "x=2"], expect![["f = 2e300\n"]], &[], 0);
    check_cli(t, &["eval", "min(x, y)", "--at", "x=1,y=1", "--grad"], expect![[r#"
            f = 1
            df/dx = 0.5
            df/dy = 0.5
        "#]], &[], 0);
}

#[test]
fn eval_hessian_text() {
    let t = &Table::new();
    check_cli(
        t,
        &["eval", ROSENBROCK, "--at", "x=1,y=1", "--grad", "--hessian"],
        expect![[r#"
            f = 0
            df/dx = 0
            df/dy = 0
            hessian:
                    x     y
              x   802  -400
              y  -400   200
        "#]],
        &[],
        0,
    );
    check_cli(
        t,
        &["eval", "x^2*y + z", "--at", "x=1,y=2,z=3", "--hessian"],
        expect![[r#"
            f = 5
            hessian:
                 x  y  z
              x  4  2  0
              y  2  0  0
              z  0  0  0
        "#]],
        &[],
        0,
    );
}

#[test]
fn eval_json() {
    let (v, Run { status, .. }) = json(&["eval", "x^2*y", "--at", "x=3,y=2", "--grad", "--json"]);
    assert_eq!(status, 0);
    assert_eq!(
        v,
        json!({"vars": ["x", "y"], "value": 18.0, "gradient": [12.0, 9.0]})
    );
    let (v, _) = json(&["eval", "x^2*y", "--at", "x=3,y=2", "--json"]);
    assert_eq!(v, json!({"vars": ["x", "y"], "value": 18.0}));
    let (v, _) = json(&[
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
    let (v, _) = json(&[
        "eval",
        ROSENBROCK,
        "--at",
        "x=-1.2,y=1",
        "--hessian",
        "--json",
    ]);
    assert_eq!(v["hessian"][0][1], v["hessian"][1][0]);
    assert_eq!(v["hessian"][1], json!([480.0, 200.0]));
    let (v, _) = json(&["eval", "2", "--grad", "--hessian", "--json"]);
    assert_eq!(
        v,
        json!({"vars": [], "value": 2.0, "gradient": [], "hessian": []})
    );
}

// ---------------------------------------------------------------- input

#[test]
fn formula_from_a_file() {
    let t = &Table::new();
    let file = TempFile::new(
        "sphere.slope",
        "# the sphere\nlet r1 = x1 - 1.5\nlet r2 = x2 - 2.5\n\nr1^2 + r2^2 + (x3 - 0.5)^2\n",
    );
    // A one-word argument ending in .slope is a file to read, as with -f
    // (no formula reads that way).
    for args in [
        ["diff", "-f", file.path()].as_slice(),
        &["diff", file.path()],
    ] {
        check_cli(
            t,
            args,
            expect![[r#"
                df/dx1 = 2*(x1 - 1.5)
                df/dx2 = 2*(x2 - 2.5)
                df/dx3 = 2*(x3 - 0.5)
            "#]],
            &[],
            0,
        );
    }
    check_cli(
        t,
        &[
            "eval",
            "--file",
            file.path(),
            "--at",
            "x1=1.5,x2=2.5,x3=1.5",
        ],
        expect![["f = 1\n"]],
        &[],
        0,
    );
    // Errors name the file and the line.
    let bad = TempFile::new("bad.slope", "let a = x\n\nsinn(a)\n");
    let expected = format!(
        "error: unknown function 'sinn'\n --> {}:3:1\n  |\n3 | sinn(a)\n  | ^^^^ did you mean 'sin'?\n",
        bad.path()
    );
    let args = ["diff", "-f", bad.path()];
    t.row(format!("{args:?}"), || {
        let r = slope(&args, None);
        assert_eq!(
            (r.stdout.as_str(), r.stderr.as_str(), r.status),
            ("", expected.as_str(), 2)
        );
    });
    let missing = std::env::temp_dir().join(format!("slope-cli-{}-missing", std::process::id()));
    let missing = missing.to_str().unwrap();
    check_cli(
        t,
        &["diff", "-f", missing],
        expect![[""]],
        &[&format!("error: cannot read '{missing}'")],
        2,
    );
    // A missing NAME.slope argument is a clear error.
    let missing_slope = format!("{missing}.slope");
    check_cli(
        t,
        &["min", &missing_slope],
        expect![[""]],
        &[&format!("error: cannot read '{missing_slope}'")],
        2,
    );
    // A formula and a file at once is a usage error.
    check_cli(
        t,
        &["diff", "x", "-f", file.path()],
        expect![[""]],
        &["cannot be used with"],
        2,
    );
}

#[rustfmt::skip]
#[test]
fn formula_from_stdin() {
    let t = &Table::new();
    check_cli_stdin(t, &["diff", "-f", "-"], Some("x^3 # cube\n"), expect![["df/dx = 3*x^2\n"]], &[], 0);
    check_cli_stdin(t, &["eval", "-f", "-", "--at", "x=2", "--grad"], Some("let a = x\na^3\n"), expect![[r#"
            f = 8
            df/dx = 12
        "#]], &[], 0);
    check_cli_stdin(t, &["diff", "-f", "-"], Some("x +\n  2y\n"), expect![[""]], &[" --> <stdin>:2:3\n", "2 |   2y\n", "  |   ^^ write 2*y\n"], 2);
    check_cli_stdin(t, &["diff", "-f", "-"], Some(""), expect![[""]], &["error: empty formula\n"], 2);
}

// ---------------------------------------------------------------- errors

#[test]
fn syntax_errors_are_rendered_with_a_caret() {
    let t = &Table::new();
    check_failure(
        t,
        &["diff", "2 * sinn(x)"],
        expect![[r#"
            error: unknown function 'sinn'
             --> <arg>:1:5
              |
            1 | 2 * sinn(x)
              |     ^^^^ did you mean 'sin'?
        "#]],
        2,
    );
    check_failure(
        t,
        &["eval", "2x + 1", "--at", "x=1"],
        expect![[r#"
            error: implicit multiplication is not supported
             --> <arg>:1:1
              |
            1 | 2x + 1
              | ^^ write 2*x
        "#]],
        2,
    );
    check_failure(
        t,
        &["diff", "min(x)"],
        expect![[r#"
            error: 'min' takes 2 arguments, but 1 was given
             --> <arg>:1:1
              |
            1 | min(x)
              | ^^^^^^
        "#]],
        2,
    );
    check_failure(
        t,
        &["diff", "x²"],
        expect![[r#"
            error: unexpected character '²'
             --> <arg>:1:2
              |
            1 | x²
              |  ^ write ^2 for a square
        "#]],
        2,
    );
    check_failure(
        t,
        &["diff", "let a = 1\nlet b = a +\n  * 2\nb"],
        expect![[r#"
            error: unexpected '*'
             --> <arg>:3:3
              |
            3 |   * 2
              |   ^ expected a number, a name or '('
        "#]],
        2,
    );
    check_failure(
        t,
        &["diff", "1e999"],
        expect![[r#"
            error: the number 1e999 is too large for a double
             --> <arg>:1:1
              |
            1 | 1e999
              | ^^^^^ the largest double is about 1.8e308
        "#]],
        2,
    );
    check_failure(
        t,
        &["diff", ""],
        expect![[r#"
            error: empty formula
             --> <arg>:1:1
              |
            1 | 
              | ^ write an expression, such as x^2 + y^2
        "#]],
        2,
    );
}

#[rustfmt::skip]
#[test]
fn bad_points() {
    let t = &Table::new();
    let check = |at: &str, stderr: Expect| check_failure(t, &["eval", "x^2*y", "--at", at], stderr, 2);
    check("x=1", expect![[r#"
            error: no value for 'y'
              = hint: the formula's variables are 'x' and 'y'
        "#]]);
    check("", expect![[r#"
            error: no value for 'x' and 'y'
              = hint: the formula's variables are 'x' and 'y'
        "#]]);
    check("x=1,y=2,z=3", expect![[r#"
            error: the formula has no variable 'z'
              = hint: its variables are 'x' and 'y'
        "#]]);
    check("x=1,y=2,x=3", expect![["error: 'x' is given twice\n"]]);
    check("x=1,y=abc", expect![[r#"
            error: --at: 'abc' is not a number
              = hint: write --at y=1.5
        "#]]);
    check("x=inf", expect![["error: --at: 'inf' is not a finite number\n"]]);
    check("x=1e999", expect![["error: --at: '1e999' is not a finite number\n"]]);
    check("x=1,y", expect![[r#"
            error: --at: 'y' is not name=value
              = hint: write --at x=1,y=2
        "#]]);
    // Without --at, the hint shows how to give one.
    check_failure(t, &["eval", "x^2*y"], expect![[r#"
            error: no value for 'x' and 'y'
              = hint: give the point with --at x=1
        "#]], 2);
    check_failure(t, &["eval", "2", "--at", "x=1"], expect![[r#"
            error: the formula has no variable 'x'
              = hint: its variables are none: it is a constant
        "#]], 2);
}

#[test]
fn not_finite_results() {
    let t = &Table::new();
    check_cli(
        t,
        &["eval", "ln(x)", "--at", "x=-1"],
        expect![["f = NaN\n"]],
        &[
            "error: ln of a negative number\n --> <arg>:1:1\n  |\n1 | ln(x)\n  | ^^^^^ gives NaN here\n",
        ],
        1,
    );
    check_cli(
        t,
        &["eval", "y + ln(x)", "--at", "x=0,y=1"],
        expect![["f = -inf\n"]],
        &["error: ln of zero\n --> <arg>:1:5\n"],
        1,
    );
    check_cli(
        t,
        &["eval", "sqrt(x)", "--at", "x=0", "--grad"],
        expect![[r#"
            f = 0
            df/dx = inf
        "#]],
        &["error: division by zero in the derivative of the operation\n --> <arg>:1:1\n"],
        1,
    );
    // 0/0 is NaN, as f says; the note blamed the reciprocal, "division by
    // zero ... gives infinity here". A nonzero numerator still does.
    check_cli(
        t,
        &["eval", "x/y", "--at", "x=0,y=0"],
        expect![["f = NaN\n"]],
        &["error: zero divided by zero\n --> <arg>:1:1\n  |\n1 | x/y\n  | ^^^ gives NaN here\n"],
        1,
    );
    check_cli(
        t,
        &["eval", "min(x, 0/0)", "--at", "x=1"],
        expect![["f = NaN\n"]],
        &["error: zero divided by zero\n", "gives NaN here\n"],
        1,
    );
    check_cli(
        t,
        &["eval", "x/y", "--at", "x=1,y=0"],
        expect![["f = inf\n"]],
        &["error: division by zero\n", "gives infinity here\n"],
        1,
    );
    // JSON: non-finite numbers are null, never a bare NaN, and
    // "not_finite" says why, with an error's fields.
    let r = slope(&["eval", "ln(x)", "--at", "x=-1", "--json"], None);
    assert_eq!(
        r.stdout,
        "{\"vars\":[\"x\"],\"value\":null,\"not_finite\":{\"kind\":\"not_finite\",\
         \"message\":\"ln of a negative number\",\"line\":1,\"column\":1,\
         \"hint\":\"gives NaN here\"}}\n"
    );
    assert!(r.stderr.contains("ln of a negative number"), "{}", r.stderr);
    assert_eq!(r.status, 1);
    let (v, Run { status, .. }) = json(&[
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
            json!({"vars": ["x"], "value": null, "gradient": [-1.0], "hessian": [[-1.0]],
                "not_finite": {"kind": "not_finite", "message": "ln of a negative number",
                    "line": 1, "column": 1, "hint": "gives NaN here"}}),
            1
        )
    );
    let (v, Run { status, .. }) = json(&["eval", "sqrt(x)", "--at", "x=0", "--grad", "--json"]);
    assert_eq!(
        (v, status),
        (
            json!({"vars": ["x"], "value": 0.0, "gradient": [null],
                "not_finite": {"kind": "not_finite",
                    "message": "division by zero in the derivative of the operation",
                    "line": 1, "column": 1, "hint": "gives infinity here"}}),
            1
        )
    );
}

/// Inside a `sum`, the diagnosis names the first index where the body is
/// not finite (it used to find nothing: f = NaN, exit 0), by the name the
/// text gives it, or by position where one level has two names.
#[test]
fn not_finite_in_a_loop_names_the_index() {
    let cases: [(&str, &str, &str); 4] = [
        (
            "var x[1..3]\nsum(i in 1..3, ln(x[i]))",
            "x=1,x[2]=-1",
            "error: ln of a negative number\n --> <arg>:2:16\n  |\n2 | sum(i in 1..3, ln(x[i]))\n  |                ^^^^^^^^ gives NaN here when i = 2\n",
        ),
        (
            "var x[1..3]\nsum(i in 1..3, j in 1..i, x[j]/(x[i]-x[j]))",
            "x=1",
            "gives infinity here when i = 1, j = 1\n",
        ),
        (
            "var x[1..3]\nsum(i in 1..3, x[i]^2)",
            "x=1,x[3]=1e200",
            "error: a power overflowed\n",
        ),
        (
            "var x[1..3]\nsum(i in 1..3, ln(x[i])) + sum(j in 1..3, sqrt(x[j]-2))",
            "x=1",
            "gives NaN here at loop index 1\n",
        ),
    ];
    for (text, at, message) in cases {
        let r = slope(&["eval", text, "--at", at], None);
        assert_eq!(r.status, 1, "{text}: {}", r.stdout);
        assert!(r.stderr.contains(message), "{text}:\n{}", r.stderr);
    }
}

#[test]
fn usage_errors() {
    let t = &Table::new();
    check_cli(
        t,
        &["frob", "x"],
        expect![[""]],
        &["error: unrecognized subcommand 'frob'"],
        2,
    );
    check_cli(
        t,
        &["diff", "x", "--frob"],
        expect![[""]],
        &["error: unexpected argument '--frob' found"],
        2,
    );
    check_cli(
        t,
        &["eval", "x", "--at"],
        expect![[""]],
        &["error: a value is required for '--at <POINT>'"],
        2,
    );
    check_cli(
        t,
        &["diff"],
        expect![[""]],
        &["error: no formula given", "-f -"],
        2,
    );
    check_cli(
        t,
        &["diff", "x", "y"],
        expect![[""]],
        &["error: unexpected argument 'y' found"],
        2,
    );
    check_cli(t, &[], expect![[""]], &["Usage: slope <COMMAND>"], 2);
    let help = slope(&["--help"], None);
    assert_eq!(help.status, 0);
    assert!(
        help.stdout.contains("diff") && help.stdout.contains("eval"),
        "{}",
        help.stdout
    );
    check_cli(t, &["--version"], expect![["slope 0.1.0\n"]], &[], 0);
}
