//! What a run may start from: a point with every coordinate finite.
//!
//! A NaN start is no start. Left to run, it made a NaN f that no step
//! lowers, so the unconstrained run ended "diverged" without an error, and
//! the bounded one, which compares the start with its box (NaN is never
//! inside), said it lay outside the bounds, had been moved onto them, and
//! was outside the formula's domain: three false reasons for one bad
//! input. The command line refuses it when it reads `--start`; the
//! library refuses it here, where every entry that takes a start meets
//! (`minimize`, `minimize_with`, `multi_start` through `minimize`,
//! `minimize_constrained`, `minimize_sqp` and the chain of the two; a fit
//! checks its own start, whose coordinates are named parameters).

use crate::error::{Error, ErrorKind, Result};

/// An error unless every coordinate of `start` is finite: the first that
/// is not, named by `name(i)` (`variable 0`, or the caller's `'x'`).
pub(crate) fn check_start_finite(start: &[f64], name: impl Fn(usize) -> String) -> Result<()> {
    match start.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(i) => Err(Error::new(
            ErrorKind::Usage,
            format!("the start of {} is {}, not finite", name(i), start[i]),
        )
        .with_hint("start from a point whose every coordinate is a finite number")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formula::Formula;
    use crate::optim::{
        Auglag, Settings, Sqp, minimize, minimize_constrained, minimize_sqp,
        minimize_sqp_or_auglag, minimize_with, multi_start,
    };

    /// The error every entry must give for `start`: a usage error naming
    /// the coordinate.
    fn refused(result: Result<impl std::fmt::Debug>, want: &str) {
        let err = result.expect_err("a start that is not finite is an error");
        assert_eq!((err.kind, err.message.as_str()), (ErrorKind::Usage, want));
    }

    #[test]
    fn every_entry_refuses_a_start_that_is_not_finite() {
        // User probe: from (NaN, 0) minimize returned Ok, "diverged".
        let f = Formula::parse("x^2 + y^2").unwrap();
        let bounded = Settings {
            bounds: Some(vec![(-1.0, 1.0); 2]),
            ..Settings::default()
        };
        for (start, want) in [
            (
                [f64::NAN, 0.0],
                "the start of variable 0 is NaN, not finite",
            ),
            (
                [0.0, f64::INFINITY],
                "the start of variable 1 is inf, not finite",
            ),
            (
                [f64::NEG_INFINITY, 0.0],
                "the start of variable 0 is -inf, not finite",
            ),
        ] {
            for settings in [Settings::default(), bounded.clone()] {
                let mut objective = f.compile().unwrap();
                refused(minimize(&mut objective, &start, &settings), want);
                refused(
                    minimize_with(&mut objective, &start, &settings, |_| ()),
                    want,
                );
                let starts = [vec![1.0, 1.0], start.to_vec()];
                let compile = || f.compile().unwrap();
                refused(multi_start(compile, &starts, &settings), want);
            }
        }
        let g = Formula::parse("x^2 + y^2\nsubject to x + y >= 1").unwrap();
        let mut problem = g.compile_problem().unwrap();
        let (start, settings) = ([0.0, f64::NAN], Settings::default());
        let want = "the start of variable 1 is NaN, not finite";
        let (sqp, auglag) = (Sqp::default(), Auglag::default());
        refused(
            minimize_constrained(&mut problem, &start, &settings, &auglag),
            want,
        );
        refused(minimize_sqp(&mut problem, &start, &settings, &sqp), want);
        refused(
            minimize_sqp_or_auglag(&mut problem, &start, &settings, &sqp, &auglag),
            want,
        );
    }

    #[test]
    fn the_caller_names_the_coordinate() {
        let names = ["a", "b"];
        let err = check_start_finite(&[1.0, f64::NAN], |i| format!("'{}'", names[i])).unwrap_err();
        assert_eq!(err.message, "the start of 'b' is NaN, not finite");
        assert!(check_start_finite(&[1.0, -2.0], |i| format!("{i}")).is_ok());
    }
}
