//! Command-line conventions: mistakes fail loudly, JSON has one
//! vocabulary, streams stay apart, exit statuses agree.

use serde_json::Value;

use crate::run::{Run, slope};

fn json(run: &Run) -> Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

// ------------------------------------------------------- mistakes fail loudly

#[test]
fn a_flag_before_the_formula_is_a_flag_not_the_formula() {
    for sub in ["diff", "eval", "min", "bench", "plot", "check"] {
        let r = slope(&[sub, "--version"], None);
        assert_eq!(r.status, 0, "{sub} --version: {}", r.stderr);
        assert!(
            r.stdout.starts_with(&format!("slope-{sub} ")),
            "{}",
            r.stdout
        );
        let r = slope(&[sub, "--help"], None);
        assert_eq!(r.status, 0, "{sub} --help: {}", r.stderr);
        assert!(r.stdout.contains("Usage: slope"), "{}", r.stdout);
    }
    let r = slope(&["diff", "--hessain", "x^2*y"], None);
    assert_eq!(r.status, 2);
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    assert!(
        r.stderr.contains("unexpected argument '--hessain'"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("'--hessian'"), "{}", r.stderr);
    // A formula may still start with a single minus.
    let r = slope(&["diff", "-x^2"], None);
    assert_eq!((r.stdout.as_str(), r.status), ("df/dx = -2*x\n", 0));
}

#[test]
fn at_on_min_points_to_start() {
    let r = slope(&["min", "x^2", "--at", "x=1"], None);
    assert_eq!(r.status, 2);
    assert!(
        r.stderr
            .contains("error: min starts from --start, not --at"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("hint: write --start x=1"), "{}", r.stderr);
}

#[test]
fn a_formula_on_stdin_needs_dash_f_dash_and_the_error_says_so() {
    // Piped (empty: slope may exit before a writer is done).
    let r = slope(&["diff"], Some(""));
    assert_eq!(r.status, 2);
    assert!(r.stderr.contains("no formula given"), "{}", r.stderr);
    assert!(r.stderr.contains("-f -"), "{}", r.stderr);
    let r = slope(&["diff", "-f", "-"], Some("x^2"));
    assert_eq!((r.stdout.as_str(), r.status), ("df/dx = 2*x\n", 0));
}

#[test]
fn a_closed_pipe_ends_quietly_with_status_0() {
    use std::io::Read;
    // More output than a pipe buffers (64 KiB), so the writer meets the
    // closed pipe.
    let formula: Vec<String> = (0..8000).map(|i| format!("x{i}^2")).collect();
    let formula = formula.join(" + ");
    let mut child = crate::run::spawn_slope(
        &[
            "diff",
            "--max-vars",
            "10000",
            "--max-bytes",
            "1000000",
            &formula,
        ],
        false,
    );
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 4];
    stdout.read_exact(&mut first).unwrap();
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(stderr, "");
}

/// A full disk (`/dev/full`) is "cannot write output", exit status 1, for
/// every command, the generated ones too: `completions` used to panic
/// (status 101) inside clap_complete, which unwraps its write.
#[cfg(target_os = "linux")]
#[test]
fn a_full_disk_is_cannot_write_output_with_status_1() {
    use std::process::{Command, Stdio};
    let cases: &[&[&str]] = &[
        &["completions", "bash"],
        &["completions", "zsh"],
        &["completions", "fish"],
        &["man"],
        &["man", "min"],
        &["diff", "x^2"],
    ];
    for args in cases {
        let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
            return;
        };
        let out = Command::new(env!("CARGO_BIN_EXE_slope"))
            .args(*args)
            .stdin(Stdio::null())
            .stdout(full)
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.starts_with("error: cannot write output: "),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn options_without_effect_are_refused() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["x^2", "--start", "x=1", "--momentum", "0.5"],
            "error: --momentum applies to momentum and nesterov, not lbfgs",
        ),
        (
            &["x^2", "--start", "x=1", "--method", "gd", "--memory", "5"],
            "error: --memory applies to lbfgs, not gd",
        ),
        (
            &["x^2", "--start", "x=1", "--method", "adam", "--rho", "0.5"],
            "error: --rho applies to rmsprop, not adam",
        ),
        (
            &[
                "x^2",
                "--start",
                "x=1",
                "--compare",
                "gd,lbfgs",
                "--beta1",
                "0.5",
            ],
            "error: --beta1 applies to adam, not gd or lbfgs",
        ),
        (
            &["x^2", "--start", "x=1", "--seed", "3"],
            "error: --seed draws a random start, and --start gives one",
        ),
    ];
    for (args, first_line) in cases {
        let mut full = vec!["min"];
        full.extend_from_slice(args);
        let r = slope(&full, None);
        assert_eq!(r.status, 2, "{full:?}: {}", r.stderr);
        assert_eq!(r.stderr.lines().next(), Some(*first_line), "{full:?}");
    }
    // Where a compared method reads it, it is used.
    let r = slope(
        &[
            "min",
            "x^2",
            "--start",
            "x=1",
            "--compare",
            "gd,momentum",
            "--momentum",
            "0.5",
        ],
        None,
    );
    assert_eq!(r.status, 0, "{}", r.stderr);
}

// ------------------------------------------------------------ one vocabulary

#[test]
fn errors_under_json_are_one_object_on_stdout() {
    let r = slope(&["diff", "x^", "--json"], None);
    assert_eq!(r.status, 2);
    assert_eq!(r.stderr, "");
    let e = &json(&r)["error"];
    assert_eq!(e["kind"], "syntax");
    assert_eq!(e["message"], "unexpected end of the formula");
    assert_eq!(
        (e["line"].as_u64(), e["column"].as_u64()),
        (Some(1), Some(3))
    );
    assert!(e["hint"].is_string(), "{e}");
    // A usage error has no place in the formula.
    let r = slope(&["eval", "x^2", "--json"], None);
    assert_eq!(r.status, 2);
    let e = &json(&r)["error"];
    assert_eq!(e["kind"], "usage");
    assert!(e["line"].is_null() && e["column"].is_null(), "{e}");
    // So is clap's, with its suggestion as the hint.
    let r = slope(&["diff", "--json", "--hessain", "x"], None);
    assert_eq!(r.status, 2);
    let e = &json(&r)["error"];
    assert_eq!(e["message"], "unexpected argument '--hessain' found");
    assert_eq!(e["hint"], "a similar argument exists: '--hessian'");
}

/// The fields every run carries, wherever it is reported.
const RUN_KEYS: [&str; 13] = [
    "x",
    "f",
    "gradient",
    "iterations",
    "evaluations",
    "gradient_evaluations",
    "hessian_evaluations",
    "converged",
    "reason",
    "message",
    "method",
    "seconds",
    "lr",
];

fn assert_run_keys(run: &Value) {
    for key in RUN_KEYS {
        assert!(run.get(key).is_some(), "no {key:?} in {run}");
    }
}

#[test]
fn single_compare_and_restarts_runs_share_one_vocabulary() {
    let bowl = "(x - 1)^2 + 2*(y + 1)^2";
    let r = slope(&["min", bowl, "--start", "x=0,y=0", "--json"], None);
    let single = json(&r);
    assert_run_keys(&single);
    assert_eq!(single["vars"], serde_json::json!(["x", "y"]));
    assert_eq!(single["method"], "lbfgs");
    assert_eq!(single["gradient"].as_array().map(Vec::len), Some(2));

    let r = slope(
        &[
            "min",
            bowl,
            "--start",
            "x=0,y=0",
            "--compare",
            "gd,newton",
            "--json",
        ],
        None,
    );
    let compare = json(&r);
    for run in compare["runs"].as_array().unwrap() {
        assert_run_keys(run);
        assert_eq!(run["status"], 0);
    }
    assert!(compare["runs"][1]["hessian_evaluations"].as_u64() > Some(0));

    let r = slope(
        &[
            "min",
            bowl,
            "--bounds",
            "x=-2:2,y=-2:2",
            "--restarts",
            "4",
            "--seed",
            "1",
            "--json",
        ],
        None,
    );
    let restarts = json(&r);
    assert_run_keys(&restarts);
    // The best run's own count, and the total beside it, named as such.
    let total = restarts["total_evaluations"].as_u64().unwrap();
    assert!(
        restarts["evaluations"].as_u64().unwrap() < total,
        "{restarts}"
    );
    assert!(restarts["total_seconds"].is_number());
}

// ------------------------------------------------------- exit statuses agree

#[test]
fn a_comparison_with_a_failed_run_exits_1() {
    let args = [
        "min",
        "x^4",
        "--start",
        "x=3",
        "--compare",
        "gd,lbfgs",
        "--lr",
        "1",
    ];
    let r = slope(&args, None);
    assert_eq!(r.status, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("note: gd stopped by diverged"),
        "{}",
        r.stderr
    );
    let mut with_json = args.to_vec();
    with_json.push("--json");
    let r = slope(&with_json, None);
    assert_eq!(r.status, 1);
    let runs = json(&r)["runs"].clone();
    assert_eq!(
        (runs[0]["status"].clone(), runs[1]["status"].clone()),
        (1.into(), 0.into())
    );
}

#[test]
fn a_check_that_checked_nothing_exits_1() {
    let r = slope(&["check", "sqrt(x)", "--at", "x=-1"], None);
    assert_eq!(r.status, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("no point could be checked"),
        "{}",
        r.stderr
    );
}

#[test]
fn diff_output_reads_back_as_a_grad_file() {
    let dir = std::env::temp_dir().join(format!("slope-conventions-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("d.txt");
    let d = slope(&["diff", "x^2*y"], None);
    std::fs::write(&file, &d.stdout).unwrap();
    let file = file.to_str().unwrap();
    let r = slope(
        &["check", "x^2*y", "--grad-file", file, "--at", "x=1,y=2"],
        None,
    );
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(r.stdout.contains("df/dx: proved equal"), "{}", r.stdout);
    let d = slope(&["diff", "--hessian", "x^2*y"], None);
    std::fs::write(dir.join("d.txt"), &d.stdout).unwrap();
    let r = slope(
        &["check", "x^2*y", "--grad-file", file, "--at", "x=1,y=2"],
        None,
    );
    assert_eq!(r.status, 2);
    assert!(
        r.stderr.contains("'d2f/dx2' is a second derivative"),
        "{}",
        r.stderr
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---------------------------------------------------------------- conventions

#[test]
fn completions_and_a_manual_page() {
    let r = slope(&["completions", "bash"], None);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(r.stdout.contains("_slope()"), "{}", r.stdout);
    assert!(r.stdout.contains("--plot-convergence"));
    let r = slope(&["completions", "fish"], None);
    assert!(r.stdout.contains("complete -c slope"), "{}", r.stdout);
    let r = slope(&["man"], None);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(r.stdout.contains(".TH slope 1"), "{}", r.stdout);
}

/// slope(1) names a page slope-NAME(1) for each subcommand: each can be
/// printed, by `slope man NAME`, and holds the subcommand's options (it
/// once named pages that could not be produced, and none listed options).
#[test]
fn every_page_the_manual_names_can_be_printed() {
    let r = slope(&["man"], None);
    let named: Vec<&str> = (r.stdout.lines())
        .filter_map(|l| l.strip_prefix("slope\\-")?.strip_suffix("(1)"))
        .collect();
    assert_eq!(
        named,
        [
            "diff",
            "eval",
            "min",
            "fit",
            "bench",
            "plot",
            "check",
            "completions",
            "man"
        ],
        "{}",
        r.stdout
    );
    for name in named {
        let page = slope(&["man", name], None);
        assert_eq!(page.status, 0, "{name}: {}", page.stderr);
        assert!(
            page.stdout
                .contains(&format!(".TH slope-{name} 1  \"slope ")),
            "{name}: {}",
            page.stdout
        );
        assert!(
            page.stdout.contains(&format!("\\fBslope {name}\\fR")),
            "{name}: {}",
            page.stdout
        );
        // Every long flag `--help` lists is described on the page (its
        // aliases, `[alias: --plot]`, are not).
        let help = slope(&[name, "--help"], None).stdout;
        let words: Vec<&str> = help.split_whitespace().collect();
        let flags = (words.iter().enumerate())
            .filter(|&(k, _)| k == 0 || words[k - 1] != "[alias:")
            .map(|(_, w)| *w)
            .filter(|w| w.starts_with("--") && w.len() > 2)
            .map(|w| w.trim_end_matches(|c: char| !c.is_ascii_alphanumeric()))
            .filter(|w| !["--help", "--version"].contains(w));
        for flag in flags {
            let roff = format!("\\fB{}\\fR", flag.replace('-', "\\-"));
            assert!(
                page.stdout.contains(&roff),
                "{name}: {flag} not on its page"
            );
        }
    }
    let r = slope(&["man", "help"], None);
    assert_eq!(r.status, 2, "{}", r.stdout);
}

#[test]
fn limit_flags_come_last_under_their_own_heading() {
    let r = slope(&["min", "--help"], None);
    let limits = r.stdout.find("\nLimits:\n").expect("a Limits heading");
    assert!(r.stdout.find("--max-nodes").unwrap() > limits);
    assert!(r.stdout.find("--method").unwrap() < limits);
    assert!(r.stdout.contains("[default: 1e-8]"), "{}", r.stdout);
}

#[test]
fn plot_takes_the_picture_flags_of_min() {
    let dir = std::env::temp_dir().join(format!("slope-plot-flags-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("p.svg");
    let r = slope(
        &[
            "plot",
            "x^2 + y",
            "--bounds",
            "x=-1:1,y=0:1",
            "--plot",
            file.to_str().unwrap(),
            "--plot-size",
            "400x300",
            "--plot-axes",
            "y,x",
        ],
        None,
    );
    assert_eq!(r.status, 0, "{}", r.stderr);
    let svg = std::fs::read_to_string(&file).unwrap();
    assert!(svg.contains("width=\"400\"") && svg.contains("height=\"300\""));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_function_without_parentheses_or_with_a_module_gets_a_call_as_the_hint() {
    let r = slope(&["diff", "sin x"], None);
    assert_eq!(r.status, 2);
    assert!(r.stderr.contains("write sin(x)"), "{}", r.stderr);
    let r = slope(&["diff", "np.exp(x)"], None);
    assert_eq!(r.status, 2);
    assert!(
        r.stderr
            .contains("write exp(...): slope's functions need no module prefix"),
        "{}",
        r.stderr
    );
}

#[test]
fn json_output_is_bounded_as_a_whole() {
    // Each of the 45,150 Hessian entries prints as a 3 KB exp(...): JSON is
    // held until it is whole, so its total is refused past 64 MiB instead
    // of filling memory (text streams out, and is not bounded).
    let terms: Vec<String> = (0..300)
        .map(|i| format!("{}*x{i}", i as f64 + 1.5))
        .collect();
    let formula = format!("exp({})", terms.join(" + "));
    let r = slope(&["diff", "-f", "-", "--hessian", "--json"], Some(&formula));
    assert_eq!(r.status, 2, "{}", r.stderr);
    let v = json(&r);
    assert_eq!(v["error"]["kind"], "limit");
    assert_eq!(v["error"]["message"], "the output would be over 64 MiB");
}

// ------------------------------------------------------------------ linking

/// Whether the ELF executable at `path` asks for a dynamic linker
/// (`PT_INTERP`) or has a dynamic section (`PT_DYNAMIC`): a static
/// executable has neither.
#[cfg(target_os = "linux")]
fn elf_is_dynamic(path: &str) -> bool {
    use std::io::Read;
    const PT_DYNAMIC: u32 = 2;
    const PT_INTERP: u32 = 3;
    let mut head = Vec::new();
    std::fs::File::open(path)
        .unwrap()
        .take(1 << 16)
        .read_to_end(&mut head)
        .unwrap();
    assert_eq!(&head[..5], b"\x7fELF\x02", "{path}: not a 64-bit ELF file");
    let u16_at = |at: usize| usize::from(u16::from_le_bytes([head[at], head[at + 1]]));
    let phoff = usize::try_from(u64::from_le_bytes(head[0x20..0x28].try_into().unwrap())).unwrap();
    let (phentsize, phnum) = (u16_at(0x36), u16_at(0x38));
    assert!(
        phoff + phentsize * phnum <= head.len(),
        "{path}: program headers past 64 KB"
    );
    (0..phnum).any(|i| {
        let at = phoff + i * phentsize;
        let p_type = u32::from_le_bytes(head[at..at + 4].try_into().unwrap());
        p_type == PT_DYNAMIC || p_type == PT_INTERP
    })
}

/// `build.rs` links the executable statically where it can and says so in
/// `SLOPE_LINKED`; a static link that took a shared library after all
/// (the failure its shims prevent) would show as a dynamic section here.
#[cfg(target_os = "linux")]
#[test]
fn the_executable_is_linked_as_the_build_said() {
    let path = env!("CARGO_BIN_EXE_slope");
    let dynamic = elf_is_dynamic(path);
    match env!("SLOPE_LINKED") {
        "static" => assert!(!dynamic, "{path}: static link asked for, dynamic made"),
        "dynamic" => assert!(dynamic, "{path}: dynamic link asked for, static made"),
        other => panic!("SLOPE_LINKED={other}"),
    }
    let r = slope(&["min", "x^2", "--start", "x=1"], None);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(r.stdout.contains("minimum     f = 0"), "{}", r.stdout);
}
