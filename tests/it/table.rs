//! Table tests that run every row: a failing row is recorded, the next row
//! runs, and the test fails once at the end with every failing row listed
//! (file and line of the row, its label, and what went wrong).

use std::cell::RefCell;
use std::fmt::Display;
use std::panic::{AssertUnwindSafe, Location, catch_unwind};

/// The rows of one table test. Dropping it fails the test if any row
/// failed.
#[derive(Default)]
pub struct Table {
    rows: RefCell<usize>,
    failures: RefCell<Vec<String>>,
}

impl Table {
    pub fn new() -> Table {
        Table::default()
    }

    /// Runs one row: a panic inside `check` (a failed `assert!`, an
    /// `Expect` that differs) is recorded under `label` and the caller's
    /// line, not propagated.
    #[track_caller]
    pub fn row(&self, label: impl Display, check: impl FnOnce()) {
        let at = Location::caller();
        *self.rows.borrow_mut() += 1;
        if let Err(panic) = catch_unwind(AssertUnwindSafe(check)) {
            let message = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or(
                    "(no message here: see what it printed above, such as a snapshot's diff)",
                );
            self.failures.borrow_mut().push(format!(
                "{}:{}: {label}\n{message}",
                at.file(),
                at.line()
            ));
        }
    }
}

impl Drop for Table {
    fn drop(&mut self) {
        let failures = self.failures.take();
        if failures.is_empty() {
            return;
        }
        let report = format!(
            "{} of {} rows failed:\n\n{}",
            failures.len(),
            self.rows.borrow(),
            failures.join("\n\n")
        );
        if std::thread::panicking() {
            // The test already fails; say what the rows found as well.
            eprintln!("{report}");
        } else {
            panic!("{report}");
        }
    }
}

#[test]
fn every_row_runs_and_the_failures_are_reported_together() {
    let ran = RefCell::new(Vec::new());
    let report = catch_unwind(AssertUnwindSafe(|| {
        let t = Table::new();
        for k in 0..4 {
            t.row(format!("row {k}"), || {
                ran.borrow_mut().push(k);
                assert!(k % 2 == 0, "odd row {k}");
            });
        }
    }))
    .expect_err("two rows failed");
    assert_eq!(*ran.borrow(), [0, 1, 2, 3]);
    let report = report.downcast_ref::<String>().unwrap();
    assert!(report.starts_with("2 of 4 rows failed:"), "{report}");
    assert!(report.contains("row 1\nodd row 1"), "{report}");
    assert!(report.contains("row 3\nodd row 3"), "{report}");
    assert!(report.contains("table.rs:"), "{report}");
    assert!(!report.contains("row 2"), "{report}");
}
