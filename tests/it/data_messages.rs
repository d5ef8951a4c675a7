//! Messages that name the real cause: a parameter too large for an
//! index, a model name that differs from a column only by case or a typo,
//! a file written with ';' or tabs, and a file with a header but no rows.

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

/// A file written with ';' or tabs reads as one column per line: the
/// error says the separator is ','.
#[test]
fn another_separator_is_named() {
    for (name, text, cell, sep) in [
        ("semicolon", "t;y\n1;2\n", "'1;2'", "';'"),
        ("tab", "t\ty\n1\t2\n", "'1\t2'", "a tab"),
    ] {
        let data = csv(name, text);
        let r = command("fit", &["y ~ a*t", "--data", &data]);
        assert_eq!(r.status, 2, "{}", r.stderr);
        assert!(r.stderr.contains(&format!(":2:1: {cell} is not a number")));
        assert!(
            r.stderr.contains(&format!(
                "cells are separated by ',', and the header's 't{}y' holds {sep}",
                if name == "tab" { "\t" } else { ";" }
            )),
            "{}",
            r.stderr
        );
    }
    // Decimal commas with ';' between cells: too many cells, same hint.
    let data = csv("decimal-comma", "t;y\n1,5;2,5\n");
    let r = command("fit", &["y ~ a*t", "--data", &data]);
    assert_eq!(r.status, 2);
    assert!(
        r.stderr
            .contains(":2:2: 3 cells in a row, but the header names 1 columns")
            && r.stderr.contains("holds ';'"),
        "{}",
        r.stderr
    );
}

/// A header without rows is refused by name, for fit and for an indexed
/// formula's data alike.
#[test]
fn a_file_without_rows_is_named() {
    let data = csv("header-only", "# no rows yet\nt,y\n\n");
    let message = format!("error: {data}: no data rows: the file has only its header");
    let r = command("fit", &["y ~ a + b*t", "--data", &data]);
    assert_eq!(r.status, 2);
    assert!(r.stderr.starts_with(&message), "{}", r.stderr);
    let r = command(
        "eval",
        &["data y\nsum(i in 1..rows, y[i])", "--data", &data],
    );
    assert_eq!(r.status, 2);
    assert!(r.stderr.starts_with(&message), "{}", r.stderr);
}
