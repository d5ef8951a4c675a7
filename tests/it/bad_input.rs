//! A corpus of bad (and borderline valid) input, run against the binary
//! across every subcommand: each case must end with its expected status
//! (2 for bad input, 0 where the input is valid after all), a one-line
//! reason on stderr, no panic, and within a time limit.
//!
//! The cases are lines of `bad_input.txt`; the hostile ones (huge or deep
//! formulas, binary garbage, invalid UTF-8) are files written by
//! [`Fixtures`], which the lines name as `$DIR/NAME`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::run::{Timed, run_with_timeout};

/// Long enough for a slow, shared machine; a hang is far longer.
const TIMEOUT: Duration = Duration::from_secs(60);

/// One line of the corpus.
#[derive(Debug)]
struct Case {
    line: usize,
    status: i32,
    args: Vec<String>,
    /// Read from this fixture on standard input.
    stdin: Option<String>,
    /// Expected on stderr: in the reason, or in the hint after it (where
    /// limit errors name the flag that raises them).
    reason: Option<String>,
}

/// Splits `text` into words: spaces separate them, and '...' or "..."
/// quote (no escapes: a formula never needs one).
fn words(text: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut word: Option<String> = None;
    let mut quote: Option<char> = None;
    for c in text.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.get_or_insert_with(String::new).push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                word.get_or_insert_with(String::new);
            }
            (None, ' ' | '\t') => out.extend(word.take()),
            (None, c) => word.get_or_insert_with(String::new).push(c),
        }
    }
    if quote.is_some() {
        return Err("unclosed quote".into());
    }
    out.extend(word);
    Ok(out)
}

/// Reads the corpus: `STATUS ARGS... [< FIXTURE] [=> REASON]`.
fn corpus(text: &str, dir: &Path) -> Vec<Case> {
    let dir = dir.to_str().expect("the fixture directory is UTF-8");
    let mut cases = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (command, reason) = match line.split_once(" => ") {
            Some((c, r)) => (c, Some(r.trim().to_string())),
            None => (line, None),
        };
        let mut args = words(command).unwrap_or_else(|e| panic!("line {}: {e}", i + 1));
        let status: i32 = args
            .remove(0)
            .parse()
            .unwrap_or_else(|_| panic!("line {}: no status", i + 1));
        let mut stdin = None;
        if let Some(k) = args.iter().position(|a| a == "<") {
            stdin = Some(args[k + 1].replace("$DIR", dir));
            args.truncate(k);
        }
        let args = args.into_iter().map(|a| a.replace("$DIR", dir)).collect();
        cases.push(Case {
            line: i + 1,
            status,
            args,
            stdin,
            reason,
        });
    }
    cases
}

/// What is wrong with the outcome of `case`, if anything.
fn judge(case: &Case, o: &Timed) -> Option<String> {
    let Some(status) = o.status else {
        return Some(format!("still running after {TIMEOUT:?}"));
    };
    for bad in ["panicked", "RUST_BACKTRACE", "stack overflow", "SIGSEGV"] {
        if o.stderr.contains(bad) {
            return Some(format!("{bad:?} on stderr:\n{}", o.stderr));
        }
    }
    if status != case.status {
        return Some(format!(
            "status {status}, expected {}; stderr:\n{}",
            case.status, o.stderr
        ));
    }
    if status == 0 {
        return None;
    }
    let first = o.stderr.lines().next().unwrap_or("");
    if !first.starts_with("error: ") || first.len() <= "error: ".len() + 3 {
        return Some(format!("no one-line reason first on stderr:\n{}", o.stderr));
    }
    if first.len() > 300 {
        return Some(format!(
            "a reason of {} bytes: {first:.200}...",
            first.len()
        ));
    }
    if let Some(reason) = &case.reason
        && !o.stderr.contains(reason.as_str())
    {
        return Some(format!("stderr lacks {reason:?}:\n{}", o.stderr));
    }
    if !o.stdout.is_empty() && status == 2 {
        return Some(format!(
            "bad input, yet stdout has {} bytes",
            o.stdout.len()
        ));
    }
    None
}

/// The hostile inputs, written once into a directory of their own.
struct Fixtures(PathBuf);

impl Fixtures {
    fn new() -> Fixtures {
        let dir = std::env::temp_dir().join(format!("slope-bad-input-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let write = |name: &str, bytes: &[u8]| {
            std::fs::write(dir.join(name), bytes).expect("the fixture is written");
        };
        write("invalid_utf8.txt", b"x + \xff\xfe y");
        write("latin1.txt", b"caf\xe9 + x");
        // Bytes from a fixed generator: control characters, NULs, high bytes.
        let garbage: Vec<u8> = (0u32..4096)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        write("garbage.bin", &garbage);
        write("nul.txt", b"x\0 + 1");
        write("empty.txt", b"");
        write("bom.txt", "\u{feff}x^2".as_bytes());
        write("crlf.txt", b"let a = x^2\r\na + 1\r\n");
        write("deep_parens.txt", nest("(", "x", ")", 20_000).as_bytes());
        write(
            "deep_minus.txt",
            format!("{}x", "-".repeat(20_000)).as_bytes(),
        );
        write("deep_calls.txt", nest("exp(", "x", ")", 20_000).as_bytes());
        write("deep_pow.txt", vec!["x"; 20_000].join("^").as_bytes());
        write("deep_ok.txt", nest("(", "x", ")", 9_000).as_bytes());
        write("unclosed_deep.txt", "(".repeat(50_000).as_bytes());
        // 16 MiB, the default byte limit, of calls nested 4 Mi deep: refused
        // at the depth limit as fast as a shallow formula (it took hours
        // when the pre-scan was quadratic in the depth).
        write("deep_16mb.txt", "sin(".repeat(1 << 22).as_bytes());
        write(
            "long_name.txt",
            format!("{} + 1", "v".repeat(1 << 20)).as_bytes(),
        );
        write(
            "long_name_point.txt",
            format!("{}=1", "v".repeat(1 << 20)).as_bytes(),
        );
        write("many_lets.txt", chain(10_000).as_bytes());
        write("sum_200.txt", sum_of_vars(200).as_bytes());
        write("sum_2000.txt", sum_of_vars(2_000).as_bytes());
        write("point_2000.txt", point(2_000).as_bytes());
        write("bad_point.txt", b"x=1,y=zz");
        write("empty_point.txt", b"");
        // Just over the default 16 MiB: a sum of many small terms.
        let mut big = String::with_capacity((16 << 20) + 64);
        while big.len() <= 16 << 20 {
            big.push_str("x*y + ");
        }
        big.push('1');
        write("over_16mb.txt", big.as_bytes());
        write(
            "long_line.txt",
            format!("{}x", "1 + ".repeat(250_000)).as_bytes(),
        );
        Fixtures(dir)
    }
}

impl Drop for Fixtures {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn nest(open: &str, inner: &str, close: &str, n: usize) -> String {
    format!("{}{inner}{}", open.repeat(n), close.repeat(n))
}

fn chain(n: usize) -> String {
    let mut text = String::from("let a1 = x + 1\n");
    for k in 2..=n {
        text.push_str(&format!("let a{k} = a{} + x\n", k - 1));
    }
    text.push_str(&format!("a{n}\n"));
    text
}

fn sum_of_vars(n: usize) -> String {
    (0..n)
        .map(|i| format!("v{i}^2"))
        .collect::<Vec<_>>()
        .join(" + ")
}

fn point(n: usize) -> String {
    (0..n)
        .map(|i| format!("v{i}={}", i % 7))
        .collect::<Vec<_>>()
        .join(",")
}

#[test]
fn the_corpus_of_bad_input() {
    let fixtures = Fixtures::new();
    let cases = corpus(include_str!("bad_input.txt"), &fixtures.0);
    assert!(cases.len() >= 60, "only {} cases", cases.len());
    assert!(cases.iter().filter(|c| c.status == 2).count() >= 50);
    // Two at a time: the cases are independent, the machine has two cores.
    let results: Vec<(usize, Option<String>, Duration)> = std::thread::scope(|s| {
        let (front, back) = cases.split_at(cases.len() / 2);
        let go = |part: &[Case]| {
            part.iter()
                .map(|c| {
                    let o = run_with_timeout(&c.args, c.stdin.as_deref().map(Path::new), TIMEOUT);
                    (c.line, judge(c, &o), o.elapsed)
                })
                .collect::<Vec<_>>()
        };
        let a = s.spawn(move || go(front));
        let mut out = go(back);
        out.extend(a.join().expect("the corpus thread finishes"));
        out
    });
    let failures: Vec<String> = results
        .iter()
        .filter_map(|(line, problem, _)| {
            problem.as_ref().map(|p| {
                let case = cases.iter().find(|c| c.line == *line).map(|c| &c.args);
                format!("bad_input.txt:{line} {case:?}: {p}")
            })
        })
        .collect();
    let slowest = results.iter().map(|r| r.2).max().unwrap_or_default();
    eprintln!("{} cases, the slowest took {slowest:?}", results.len());
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        results.len(),
        failures.join("\n")
    );
}

#[test]
fn words_split_like_a_shell_without_escapes() {
    assert_eq!(
        words("eval 'sin(x' --at \"x = 1\"").unwrap(),
        ["eval", "sin(x", "--at", "x = 1"]
    );
    assert_eq!(words("diff ''").unwrap(), ["diff", ""]);
    assert!(words("eval 'x").is_err());
}
