//! Messages that name the real cause of a refusal: a parameter too large
//! for an index.

use crate::run::command;

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
