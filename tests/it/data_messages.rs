//! Messages that name the real cause: a parameter too large for an
//! index, a model name that differs from a column only by case or a typo.

use std::path::PathBuf;

use crate::run::command;

/// A CSV file in the temporary directory, named for the test.
fn csv(name: &str, text: &str) -> String {
    let path: PathBuf = std::env::temp_dir().join(format!("slope-it-data-{name}.csv"));
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// An integer parameter above 2^53 is too large for an index, not "not an
/// integer"; the value is printed short, and a caret marks the definition.
#[test]
fn a_parameter_too_large_for_an_index_says_so() {
    let formula = "param n = 10^16\nsum(i in 1..n, x)";
    for (extra, value) in [
        (&[][..], "1e16"),
        (&["--set", "n=1e300"][..], "1e300"),
        (&["--set", "n=9007199254740994"][..], "9.007199254740994e15"),
    ] {
        let mut args = vec![formula, "--at", "x=1"];
        args.extend_from_slice(extra);
        let r = command("eval", &args);
        assert_eq!(r.status, 2, "{extra:?}: {}", r.stderr);
        assert!(
            r.stderr.starts_with(&format!(
                "error: the parameter 'n' is {value}, too large for an index or a range\n \
                 --> <arg>:1:7\n"
            )),
            "{extra:?}: {}",
            r.stderr
        );
        assert!(
            r.stderr
                .contains("an index is an integer of at most 2^53 = 9007199254740992 in size"),
            "{}",
            r.stderr
        );
    }
    // A fraction is not an integer.
    let r = command("eval", &[formula, "--at", "x=1", "--set", "n=2.5"]);
    assert_eq!(r.status, 2);
    assert!(
        r.stderr.starts_with(
            "error: the parameter 'n' is 2.5, but it is used in an index or a range, which need \
             integers\n --> <arg>:1:7\n"
        ),
        "{}",
        r.stderr
    );
}

/// A parameter named like a column in another case, or with a typo, is
/// fitted (names are case-sensitive), with a note naming the column.
#[test]
fn a_parameter_named_like_a_column_gets_a_note() {
    let data = csv("lookalike", "time,y\n0,1\n1,3.1\n2,4.9\n3,7.2\n");
    let r = command("fit", &["y ~ a + b*TIME", "--data", &data]);
    assert!(
        r.stderr
            .contains("note: 'TIME' is fitted as a parameter: did you mean the column 'time'?"),
        "{}",
        r.stderr
    );
    let r = command("fit", &["y ~ a + b*tme", "--data", &data]);
    assert!(
        r.stderr
            .contains("note: 'tme' is fitted as a parameter: did you mean the column 'time'?"),
        "{}",
        r.stderr
    );
    // The model that reads the column has no such note, and neither do
    // short names unlike any column.
    let r = command("fit", &["y ~ a + b*time", "--data", &data]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(!r.stderr.contains("did you mean"), "{}", r.stderr);
}
