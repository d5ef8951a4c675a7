//! Running the `slope` binary, for every test that does: one run with the
//! promises every run keeps (no panic, no bare NaN in JSON), JSON output,
//! exact text output, and a run with a time limit for hostile input.

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use expect_test::Expect;
use serde_json::Value;

use crate::table::Table;

/// What one run of the binary printed, and its exit status.
pub struct Run {
    pub stdout: String,
    pub stderr: String,
    pub status: i32,
}

/// Starts `slope ARGS` with its output piped, and its input piped if
/// `piped_stdin` (otherwise empty).
pub fn spawn_slope<S: AsRef<std::ffi::OsStr>>(args: &[S], piped_stdin: bool) -> Child {
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
pub fn slope(args: &[&str], stdin: Option<&str>) -> Run {
    let mut child = spawn_slope(args, stdin.is_some());
    if let Some(text) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        // A run that refuses its input may exit before reading it.
        if let Err(e) = pipe.write_all(text.as_bytes()) {
            assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{args:?}: {e}");
        }
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

/// Runs `slope ARGS` with no input.
pub fn run(args: &[&str]) -> Run {
    slope(args, None)
}

/// Runs `slope COMMAND ARGS` with no input.
pub fn command(command: &str, args: &[&str]) -> Run {
    let mut all = vec![command];
    all.extend_from_slice(args);
    slope(&all, None)
}

/// Runs `slope ARGS`, which must exit with status 0.
pub fn ok(args: &[&str]) -> Run {
    let r = run(args);
    assert_eq!(r.status, 0, "{args:?}:\n{}{}", r.stdout, r.stderr);
    r
}

/// Runs `slope ARGS`: stdout is exactly one JSON object on one line.
pub fn json(args: &[&str]) -> (Value, Run) {
    let r = run(args);
    assert!(
        r.stdout.ends_with('\n') && r.stdout.lines().count() == 1,
        "{args:?}: stdout is not one line:\n{}\nstderr:\n{}",
        r.stdout,
        r.stderr
    );
    let value =
        serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {}", r.stdout));
    (value, r)
}

/// Runs `slope COMMAND ARGS --json`: one JSON object on one line.
pub fn command_json(command: &str, args: &[&str]) -> (Value, Run) {
    let mut all = vec![command];
    all.extend_from_slice(args);
    all.push("--json");
    json(&all)
}

/// A row of `t`: exact stdout and status; stderr holds each fragment
/// (and is empty if none).
#[track_caller]
pub fn check_cli(t: &Table, args: &[&str], stdout: Expect, stderr: &[&str], status: i32) {
    check_cli_stdin(t, args, None, stdout, stderr, status);
}

/// [`check_cli`] with `stdin` on the standard input.
#[track_caller]
pub fn check_cli_stdin(
    t: &Table,
    args: &[&str],
    stdin: Option<&str>,
    stdout: Expect,
    stderr: &[&str],
    status: i32,
) {
    t.row(format!("{args:?}"), || {
        let r = slope(args, stdin);
        if !r.stderr.is_empty() {
            eprintln!("stderr of {args:?}:\n{}", r.stderr);
        }
        stdout.assert_eq(&r.stdout);
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
    });
}

/// A row of `t`: exact stderr, empty stdout, and the status.
#[track_caller]
pub fn check_failure(t: &Table, args: &[&str], stderr: Expect, status: i32) {
    t.row(format!("{args:?}"), || {
        let r = run(args);
        assert_eq!(
            (r.stdout.as_str(), r.status),
            ("", status),
            "{args:?}: stderr\n{}",
            r.stderr
        );
        stderr.assert_eq(&r.stderr);
    });
}

/// What a run with a time limit printed, and how it ended.
pub struct Timed {
    /// `None` if it was killed after the time limit.
    pub status: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: String,
    pub elapsed: Duration,
}

/// Runs `slope ARGS` with the bytes of the file `stdin` on its input (if
/// given), killing it after `timeout`. The output may be anything: the
/// caller judges it.
pub fn run_with_timeout(args: &[String], stdin: Option<&Path>, timeout: Duration) -> Timed {
    let start = Instant::now();
    let mut child = spawn_slope(args, stdin.is_some());
    let feeder = stdin.map(|path| {
        let bytes = std::fs::read(path).expect("the fixture exists");
        let mut pipe = child.stdin.take().expect("stdin is piped");
        // The binary may stop reading early (a refused size): ignore EPIPE.
        std::thread::spawn(move || {
            let _ = pipe.write_all(&bytes);
        })
    });
    // Read the pipes on threads so that a full pipe cannot stall the child.
    let mut out = child.stdout.take().expect("stdout is piped");
    let mut err = child.stderr.take().expect("stderr is piped");
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = std::io::Read::read_to_end(&mut out, &mut buf);
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = std::io::Read::read_to_end(&mut err, &mut buf);
        buf
    });
    let status = loop {
        if let Some(s) = child.try_wait().expect("waiting works") {
            break Some(s.code().unwrap_or(-1));
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    if let Some(f) = feeder {
        let _ = f.join();
    }
    Timed {
        status,
        stdout: reader.join().unwrap_or_default(),
        stderr: String::from_utf8_lossy(&err_reader.join().unwrap_or_default()).into_owned(),
        elapsed: start.elapsed(),
    }
}
