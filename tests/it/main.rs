//! One integration-test binary (each file under tests/ would link the crate
//! and Cranelift again).

mod bad_input;
mod check;
mod cli;
mod cli_conventions;
mod language;
mod limits;
mod min;
mod native;
mod plot;
mod properties;
#[path = "../shared/range.rs"]
mod range;

use std::io::Write;
use std::process::{Child, Command, Stdio};

/// What one run of the binary printed, and its exit status.
struct Run {
    stdout: String,
    stderr: String,
    status: i32,
}

/// Starts `slope ARGS` with its output piped, and its input piped if
/// `piped_stdin` (otherwise empty).
fn spawn_slope<S: AsRef<std::ffi::OsStr>>(args: &[S], piped_stdin: bool) -> Child {
    Command::new(env!("CARGO_BIN_EXE_slope"))
        .args(args)
        .stdin(if piped_stdin {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the slope binary runs")
}

/// Runs `slope ARGS`, with `stdin` if given. No run may panic or print a
/// backtrace, and JSON output never holds a bare NaN.
fn slope(args: &[&str], stdin: Option<&str>) -> Run {
    let mut child = spawn_slope(args, stdin.is_some());
    if let Some(text) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        pipe.write_all(text.as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let run = Run {
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
        status: out.status.code().expect("slope exits, it is not killed"),
    };
    for bad in ["panicked", "RUST_BACKTRACE", "stack backtrace"] {
        assert!(
            !run.stderr.contains(bad),
            "{args:?}: {bad:?} in\n{}",
            run.stderr
        );
    }
    // Text output may say `f = NaN`; JSON must say null.
    if args.contains(&"--json") {
        for bare in [":NaN", "NaN,", "NaN]", "NaN}"] {
            assert!(
                !run.stdout.contains(bare),
                "{args:?}: {bare:?} in\n{}",
                run.stdout
            );
        }
    }
    run
}
