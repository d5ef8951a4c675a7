//! The `slope` command: parse the command line, run it, exit 0, 1 or 2.
//!
//! On Unix the program supplies the C `main` itself (`no_main`) instead of
//! going through Rust's runtime start-up, which for the main thread asks
//! glibc for its stack bounds (`pthread_getattr_np` reads and `sscanf`s
//! `/proc/self/maps`: 107 k of `slope min "x^2"`'s 0.98 M instructions)
//! and installs a signal stack, so that a stack overflow prints "has
//! overflowed its stack" before aborting. The parser's pre-scan bounds the
//! nesting depth (src/parse.rs), so that message is not what stops deep
//! input; without the handler an overflow would end the process by
//! `SIGSEGV` instead. What the runtime's start-up does that the command
//! relies on, [`main`] does itself: it ignores `SIGPIPE` (a closed pipe is
//! then an `EPIPE` error, which `slope` ends quietly on), gives a closed
//! standard stream `/dev/null`, turns a panic into status 101, and flushes
//! standard output at the end.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]
// The test harness brings its own `main`.
#![cfg_attr(all(unix, not(test)), no_main)]

use std::ffi::OsString;
use std::io::Write;

mod cli;

/// Runs the command on `argv` (program name first) and returns the exit
/// status.
#[cfg_attr(test, allow(dead_code))]
fn run(argv: Vec<OsString>) -> u8 {
    let cli = cli::parse(argv);
    let mut out = std::io::stdout().lock();
    let status = cli::run(cli, &mut out, &mut std::io::stderr().lock());
    // Rust's runtime flushes standard output at exit; without it, this
    // does. A failure here is a closed pipe or a full disk after the
    // command's own output was written, which it has already dealt with.
    let _ = out.flush();
    status
}

#[cfg(not(unix))]
fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(run(std::env::args_os().collect()))
}

#[cfg(all(unix, not(test)))]
mod entry {
    use std::ffi::{CStr, OsStr, c_char, c_int};
    use std::os::unix::ffi::OsStrExt;

    use libc::{F_GETFD, SIG_IGN, SIGPIPE, fcntl, signal};

    /// The process's entry point, called by the C runtime with the
    /// command line.
    #[unsafe(no_mangle)]
    extern "C" fn main(argc: c_int, argv: *const *const c_char) -> c_int {
        // SAFETY: `signal` with a valid signal number and `SIG_IGN` only
        // changes this process's disposition of `SIGPIPE`; no other
        // thread exists yet.
        unsafe { signal(SIGPIPE, SIG_IGN) };
        for fd in 0..3 {
            // SAFETY: `F_GETFD` only reads the descriptor's flags.
            if unsafe { fcntl(fd, F_GETFD) } == -1 {
                // Takes the lowest free descriptor, which is `fd`, so a
                // file the command opens later cannot become its standard
                // stream. Kept open for the process's life.
                if let Ok(null) = std::fs::File::options()
                    .read(true)
                    .write(true)
                    .open("/dev/null")
                {
                    std::mem::forget(null);
                }
            }
        }
        let count = usize::try_from(argc).unwrap_or(0);
        let args = (0..count)
            .map(|i| {
                // SAFETY: the C runtime passes `argc` pointers to
                // NUL-terminated strings that live as long as the process.
                let arg = unsafe { CStr::from_ptr(*argv.add(i)) };
                OsStr::from_bytes(arg.to_bytes()).to_os_string()
            })
            .collect();
        // A panic must not unwind out of a C function (that aborts); Rust's
        // runtime reports it (the hook has printed it) as status 101.
        std::panic::catch_unwind(|| super::run(args)).map_or(101, c_int::from)
    }
}
