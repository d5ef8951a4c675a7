//! Arrays on the command line: `--at`, `--start` and `--bounds` name every
//! element of an array (`x=-2:2`), one element (`x[3]=0:1`, `p[2,1]=0`)
//! or read the same text from a file (`@FILE`); an element's item
//! overrides its array's in either order, a name given twice is refused,
//! and a wrong name, index or rank is a clear error.

use expect_test::expect;
use serde_json::Value;

use crate::run::{check_failure, json};
use crate::table::Table;

const ROSEN: &str =
    "param n = 1000\nvar x[1..n]\nsum(i in 1..n-1, 100*(x[i+1] - x[i]^2)^2 + (1 - x[i])^2)";

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

/// A scratch file holding `text`, unique to this process and `name`.
fn scratch(name: &str, text: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("slope-elements-{}-{name}", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn bounds_on_an_array_draw_restarts_and_hold_every_element() {
    let (v, r) = json(&[
        "min",
        ROSEN,
        "--set",
        "n=4",
        "--bounds",
        "x=-2:2",
        "--restarts",
        "4",
        "--seed",
        "1",
        "--json",
    ]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    for xi in floats(&v["x"]) {
        assert!((xi - 1.0).abs() < 1e-6, "{}", v["x"]);
    }
    // One element's box, given after the array's, overrides it: the
    // minimum with x[2] <= 0.5 lies on that bound, the others inside.
    let (v, r) = json(&[
        "min",
        ROSEN,
        "--set",
        "n=4",
        "--bounds",
        "x=-2:2,x[2]=0:0.5",
        "--seed",
        "1",
        "--json",
    ]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let x = floats(&v["x"]);
    assert_eq!(x[1], 0.5, "{}", v["x"]);
    assert!(x.iter().all(|xi| (-2.0..=2.0).contains(xi)), "{x:?}");
    // Given before the array's, the element's box still holds: a later
    // item once won, and this bound was dropped without a word.
    let (w, r) = json(&[
        "min",
        ROSEN,
        "--set",
        "n=4",
        "--bounds",
        "x[2]=0:0.5,x=-2:2",
        "--seed",
        "1",
        "--json",
    ]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(w["x"], v["x"]);
    assert_eq!(w["active_bounds"], v["active_bounds"]);
    assert_eq!(w["active_bounds"]["x[2]"], "upper", "{w}");
}

/// The probe's case: each x[i] wants i, and x[2] <= 1 holds whichever
/// order the two items come in.
#[test]
fn an_element_overrides_its_array_in_either_order() {
    let formula = "var x[1..3]\nsum(i in 1..3, (x[i] - i)^2)";
    for bounds in ["x[2]=0:1,x=0:2", "x=0:2,x[2]=0:1"] {
        let (v, r) = json(&[
            "min", formula, "--start", "x=0", "--bounds", bounds, "--json",
        ]);
        assert_eq!(r.status, 0, "{bounds}: {}", r.stderr);
        assert_eq!(floats(&v["x"]), [1.0, 1.0, 2.0], "{bounds}: {v}");
        assert_eq!(v["f"].as_f64(), Some(2.0), "{bounds}: {v}");
    }
    for at in ["x[2]=5,x=0", "x=0,x[2]=5"] {
        let (v, r) = json(&["eval", formula, "--at", at, "--json"]);
        assert_eq!(r.status, 0, "{at}: {}", r.stderr);
        assert_eq!(v["value"].as_f64(), Some(1.0 + 9.0 + 9.0), "{at}: {v}");
    }
}

#[test]
fn elements_of_a_matrix_are_named_by_both_indices() {
    let text = "var p[1..2, 1..3]\nsum(i in 1..2, j in 1..3, (p[i, j] - 10*i - j)^2)";
    let (v, r) = json(&[
        "eval",
        text,
        "--at",
        "p=0,p[2,1]=21,p[ 1 , 3 ]=13",
        "--json",
    ]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    // Every element is off by its target except p[2,1] and p[1,3].
    let expected: f64 = [11.0f64, 12.0, 22.0, 23.0].iter().map(|t| t * t).sum();
    assert_eq!(v["value"].as_f64(), Some(expected));
    let (v, _) = json(&[
        "min",
        text,
        "--bounds",
        "p=-50:50,p[1,2]=0:5",
        "--seed",
        "3",
        "--json",
    ]);
    assert_eq!(floats(&v["x"])[1], 5.0, "{}", v["x"]);
}

#[test]
fn points_and_boxes_are_read_from_files() {
    let point = scratch("point", "x=-1.2\nx[4]=1\n");
    let at = format!("@{}", point.display());
    let (v, r) = json(&["eval", ROSEN, "--set", "n=4", "--at", &at, "--json"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let (w, _) = json(&[
        "eval",
        ROSEN,
        "--set",
        "n=4",
        "--at",
        "x=-1.2,x[4]=1",
        "--json",
    ]);
    assert_eq!(v["value"], w["value"]);

    let (v, r) = json(&["min", ROSEN, "--set", "n=4", "--start", &at, "--json"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(v["f"].as_f64().unwrap() < 1e-12, "{v}");

    let bounds = scratch("box", "x=-2:2\nx[3]=1.5:2\n");
    let (v, r) = json(&[
        "min",
        ROSEN,
        "--set",
        "n=4",
        "--bounds",
        &format!("@{}", bounds.display()),
        "--seed",
        "2",
        "--json",
    ]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(floats(&v["x"])[2], 1.5, "{}", v["x"]);
    for path in [point, bounds] {
        std::fs::remove_file(path).unwrap();
    }
}

#[test]
fn wrong_elements_are_clear_errors() {
    let t = Table::new();
    let matrix = "var p[1..13, 1..3]\nsum(i in 1..13, j in 1..3, p[i, j]^2) + y";
    let at = |point: &'static str| ["eval", ROSEN, "--set", "n=4", "--at", point];
    check_failure(
        &t,
        &at("x=0,x[5]=1"),
        expect![[r#"
            error: x[5] is outside x[1..4]
              = hint: an index must lie in the array's extent, with the parameters given by --set
        "#]],
        2,
    );
    check_failure(
        &t,
        &at("x=0,x[0]=1"),
        expect![[r#"
            error: x[0] is outside x[1..4]
              = hint: an index must lie in the array's extent, with the parameters given by --set
        "#]],
        2,
    );
    check_failure(
        &t,
        &at("x=0,x[1,1]=1"),
        expect![[r#"
            error: 'x' takes 1 index (x[1..4]), and 2 indices were given
              = hint: write x[1]
        "#]],
        2,
    );
    check_failure(
        &t,
        &["eval", matrix, "--at", "p=0,y=1,p[3]=1"],
        expect![[r#"
            error: 'p' takes 2 indices (p[1..13, 1..3]), and 1 index was given
              = hint: write p[1,1]
        "#]],
        2,
    );
    check_failure(
        &t,
        &["eval", matrix, "--at", "p=0,y[1]=1"],
        expect![[r#"
            error: 'y' is a scalar variable: 'y[1]' gives it an index
              = hint: write y=1
        "#]],
        2,
    );
    check_failure(
        &t,
        &at("x=0,n=3"),
        expect![[r#"
            error: 'n' is a parameter, not a variable
              = hint: set it with --set n=VALUE
        "#]],
        2,
    );
    check_failure(
        &t,
        &at("x=0,x[i]=3"),
        expect![[r#"
            error: 'x[i]' is not an element: write an array's name and integer indices
              = hint: write x[3] or p[2,1]
        "#]],
        2,
    );
    check_failure(
        &t,
        &at("x[1]=0,x[1]=1"),
        expect![[r#"
            error: 'x[1]' is given twice
        "#]],
        2,
    );
    check_failure(
        &t,
        &at("x=0,x=1"),
        expect![[r#"
            error: 'x' is given twice
        "#]],
        2,
    );
    let bounds = |text: &'static str| ["min", ROSEN, "--set", "n=4", "--bounds", text];
    check_failure(
        &t,
        &bounds("x=0:1,x=2:3"),
        expect![[r#"
            error: --bounds: 'x' is given twice
        "#]],
        2,
    );
    check_failure(
        &t,
        &bounds("x=0:1,x[3]=0:1,x[ 3 ]=2:3"),
        expect![[r#"
            error: --bounds: 'x[ 3 ]' is given twice
        "#]],
        2,
    );
    check_failure(
        &t,
        &[
            "min",
            "x^2 + y^2",
            "--start",
            "x=1,y=1",
            "--bounds",
            "y=0:1,x=0:1,y=2:3",
        ],
        expect![[r#"
            error: --bounds: 'y' is given twice
        "#]],
        2,
    );
    check_failure(
        &t,
        &at("x[1]=0"),
        expect![[r#"
            error: no value for 'x[2]', 'x[3]' and 'x[4]'
              = hint: the formula's variables are 'x (4 elements)'
        "#]],
        2,
    );
    check_failure(
        &t,
        &["min", ROSEN, "--set", "n=4", "--bounds", "x=-1:1,z=0:1"],
        expect![[r#"
            error: --bounds: the formula has no variable 'z'
              = hint: its variables are 'x (4 elements)'
        "#]],
        2,
    );
    check_failure(
        &t,
        &[
            "min", ROSEN, "--set", "n=4", "--bounds", "x[9]=0:1", "--seed", "1",
        ],
        expect![[r#"
            error: --bounds: x[9] is outside x[1..4]
              = hint: an index must lie in the array's extent, with the parameters given by --set
        "#]],
        2,
    );
    check_failure(
        &t,
        &[
            "min", ROSEN, "--set", "n=30", "--bounds", "x[1]=0:1", "--seed", "1",
        ],
        expect![[r#"
            error: --bounds gives no range for x[2], x[3], x[4], x[5], x[6], x[7], x[8], x[9], x[10], x[11] and 19 more
              = hint: give every variable a range; an array's name gives all its elements one: x=-1:1
        "#]],
        2,
    );
    check_failure(
        &t,
        &["eval", ROSEN, "--at", "@/nonexistent/slope-point"],
        expect![[r#"
            error: --at: cannot read '/nonexistent/slope-point': No such file or directory (os error 2)
              = hint: write --at @FILE with FILE holding x=1,y=2
        "#]],
        2,
    );
}

/// The bounds line lists twenty names, as the coordinates do, and how
/// many more; the JSON names every one. It once wrote every name: 29.9 MB
/// on one line at a million.
#[test]
fn the_bounds_line_lists_twenty_names() {
    let formula = "param n = 30\nvar x[1..n]\nsum(i in 1..n, (x[i] - 1)^2)";
    let args = ["min", formula, "--start", "x=0", "--bounds", "x=0:0.5"];
    let r = crate::run::ok(&args);
    let line = r.stdout.lines().find(|l| l.starts_with("bounds")).unwrap();
    let names: Vec<String> = (1..=20)
        .map(|i| format!("x[{i}] at its upper bound"))
        .collect();
    assert_eq!(
        line,
        format!(
            "bounds      {} and 10 more (--json gives every one)",
            names.join(", ")
        )
    );
    let mut with_json = args.to_vec();
    with_json.push("--json");
    let (v, _) = json(&with_json);
    assert_eq!(v["active_bounds"].as_object().unwrap().len(), 30, "{v}");
    // Twenty exactly are listed without a tail.
    let r = crate::run::ok(&[
        "min", formula, "--set", "n=20", "--start", "x=0", "--bounds", "x=0:0.5",
    ]);
    assert!(
        r.stdout.contains("x[20] at its upper bound\nstopped"),
        "{}",
        r.stdout
    );
}

/// At a million elements, names are made only where they are shown: the
/// run names its first coordinates, a point missing values names ten,
/// and an element past the end is refused, as at four.
#[test]
fn a_million_elements_are_named_where_shown() {
    let million = ["--set", "n=1000000"];
    let r = crate::run::ok(&[
        "min",
        ROSEN,
        million[0],
        million[1],
        "--start",
        "x=-1.2",
        "--max-iter",
        "1",
    ]);
    let at: Vec<&str> = (r.stdout.lines())
        .filter_map(|l| l.split_once(" = ").map(|(name, _)| name.trim()))
        .collect();
    assert_eq!(
        at[..3],
        ["last        f", "at          x[1]", "x[2]"],
        "{}",
        r.stdout
    );
    assert_eq!(at[at.len() - 1], "x[19]", "{}", r.stdout);
    assert!(
        r.stdout
            .contains("... and 999981 more (--json gives every one)")
    );
    let t = Table::new();
    check_failure(
        &t,
        &[
            "eval",
            ROSEN,
            million[0],
            million[1],
            "--at",
            "x=0,x[1000001]=1",
        ],
        expect![[r#"
            error: x[1000001] is outside x[1..1000000]
              = hint: an index must lie in the array's extent, with the parameters given by --set
        "#]],
        2,
    );
    check_failure(
        &t,
        &["min", ROSEN, million[0], million[1], "--start", "x[7]=0"],
        expect![[r#"
            error: --start: no value for x[1], x[2], x[3], x[4], x[5], x[6], x[8], x[9], x[10], x[11] and 999989 more
              = hint: the formula's variables are 'x (1000000 elements)'
        "#]],
        2,
    );
}

/// Every output that lists the variables names a matrix's elements by both
/// indices, last fastest, after the scalars.
#[test]
fn every_output_names_elements_alike() {
    let text = "var p[1..2, 0..1]\nsum(i in 1..2, j in 0..1, (p[i, j] - i - j)^2) + (y - 1)^2";
    let names = ["y", "p[1,0]", "p[1,1]", "p[2,0]", "p[2,1]"];
    let (v, r) = json(&["eval", text, "--at", "p=0,y=0,p[2,1]=3", "--grad", "--json"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(v["vars"], serde_json::json!(names));
    assert_eq!(floats(&v["gradient"]), [-2.0, -2.0, -4.0, -4.0, 0.0]);
    let r = crate::run::ok(&["eval", text, "--at", "p=0,y=0,p[2,1]=3", "--grad"]);
    let partials: Vec<&str> = (r.stdout.lines().skip(1))
        .map(|l| l.split_once(" = ").unwrap().0)
        .collect();
    assert_eq!(partials, names.map(|n| format!("df/d{n}")));
    let (v, r) = json(&["min", text, "--start", "p=0,y=0", "--json"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(v["vars"], serde_json::json!(names));
    let r = crate::run::ok(&[
        "min",
        text,
        "--start",
        "p=0,y=0",
        "--bounds",
        "p=-5:5,y=-5:0.5,p[2,1]=0:2",
    ]);
    assert!(r.stdout.contains("p[2,1] = 2"), "{}", r.stdout);
    let (v, r) = json(&[
        "min",
        text,
        "--start",
        "p=0,y=0",
        "--bounds",
        "p=-5:5,y=-5:0.5,p[2,1]=0:2",
        "--json",
    ]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(
        v["active_bounds"],
        serde_json::json!({"y": "upper", "p[2,1]": "upper"})
    );
}

/// A constrained run's report lists its point as an unconstrained one's
/// does: past twenty elements, nineteen and a count (it printed all 300).
#[test]
fn a_constrained_report_lists_twenty_lines_of_the_point() {
    let formula = "param n = 300
var x[1..n]
sum(i in 1..n, x[i]^2)
subject to (i in 1..n-1) x[i] <= x[i+1] - 1";
    let r = crate::run::run(&["min", formula, "--start", "x=0"]);
    let point = (r.stdout.lines())
        .skip(1)
        .take_while(|l| !l.starts_with("subject to"));
    let at = point.filter(|l| l.contains(" = ")).count();
    assert_eq!(at, 19, "{}", r.stdout);
    assert!(
        r.stdout
            .contains("... and 281 more (--json gives every one)"),
        "{}",
        r.stdout
    );
}
