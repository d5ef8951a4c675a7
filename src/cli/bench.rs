//! `slope bench`: how fast the compiled gradient is, against the interpreter
//! and finite differences, and how accurate finite differences are.

use std::io::{IsTerminal, Write};

use super::{At, Failure, Input};
use serde_json::{Value, json};
use slope::bench::{self, Report};

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Without --at, it times at a fixed point with every variable between 0.4 and 0.6. \
Past 1,000 variables, finite differences are taken for 100 variables spread evenly \
(first and last included): their time is scaled to all variables, their error reported."
)]
pub struct Args {
    #[command(flatten)]
    input: Input,
    #[command(flatten)]
    at: At,
    /// One JSON object: {"vars", "compile_ms", "ns_per_call", "grad_over_value", "fd_max_abs_error", "fd_vars"}
    #[arg(long)]
    pub(super) json: bool,
}

pub fn run(args: &Args, out: &mut dyn Write, err: &mut dyn Write) -> Result<u8, Failure> {
    let source = args.input.read().map_err(Failure::plain)?;
    let point = args.at.assignments().map_err(Failure::plain)?;
    // Progress on a terminal only: a log or a pipe gets the result alone.
    let show = std::io::stderr().is_terminal();
    let mut progress = |stage: &str| {
        if show {
            let _ = write!(err, "\r\x1b[2Kslope bench: {stage}...");
            let _ = err.flush();
        }
    };
    let options = args.input.options().map_err(Failure::plain)?;
    let result = bench::run(&source.text, &options, point.as_deref(), &mut progress);
    if show {
        let _ = write!(err, "\r\x1b[2K");
    }
    let report = result.map_err(|e| Failure::in_source(e, &source))?;
    if args.json {
        writeln!(out, "{}", to_json(&report))?;
    } else {
        write_table(out, &report)?;
    }
    Ok(0)
}

fn write_table(out: &mut dyn Write, r: &Report) -> std::io::Result<()> {
    let n = r.vars.len();
    let c = &r.compile_ms;
    let t = &r.ns_per_call;
    writeln!(out, "variables        {n}")?;
    writeln!(
        out,
        "compile          {:.3} ms  (parse {:.3}, differentiate {:.3}, codegen {:.3})",
        c.total, c.parse, c.diff, c.codegen
    )?;
    writeln!(out, "per call                      ns    × value")?;
    // Past FD_ALL_VARS the difference times are scaled from a sample.
    let sampled = match r.fd_vars < n {
        true => format!(", timed on {} of the {n} partials", r.fd_vars),
        false => String::new(),
    };
    let rows = [
        ("compiled value", t.value, String::new()),
        ("compiled value+gradient", t.value_grad, String::new()),
        (
            "interpreted value+gradient",
            t.interp_value_grad,
            String::new(),
        ),
        (
            "forward differences",
            t.fd_forward,
            format!("  ({} values{sampled})", n + 1),
        ),
        (
            "central differences",
            t.fd_central,
            format!("  ({} values{sampled})", 2 * n),
        ),
    ];
    // A constant has no partials to difference: no rows of 0 ns.
    let shown = if n == 0 { &rows[..3] } else { &rows[..] };
    for (name, ns, note) in shown {
        let (ns, note) = (*ns, note);
        writeln!(
            out,
            "  {name:<26} {:>10}  {:>7.1}{note}",
            format_ns(ns),
            ns / t.value
        )?;
    }
    if n == 0 {
        writeln!(
            out,
            "  finite differences         none: a constant has no partials"
        )?;
    }
    writeln!(out, "gradient / value {:.2}", r.grad_over_value)?;
    if n == 0 {
        return Ok(());
    }
    let over = match r.fd_vars < n {
        true => format!(" (over the {} partials differenced)", r.fd_vars),
        false => String::new(),
    };
    writeln!(
        out,
        "finite-difference max abs error: forward {:.1e}, central {:.1e}{over}",
        r.fd_max_abs_error[0], r.fd_max_abs_error[1]
    )
}

fn format_ns(ns: f64) -> String {
    if ns < 100.0 {
        format!("{ns:.2}")
    } else {
        format!("{ns:.0}")
    }
}

/// The JSON object of `slope bench --json`.
fn to_json(report: &Report) -> Value {
    let c = &report.compile_ms;
    let t = &report.ns_per_call;
    json!({
        "vars": report.vars.all(),
        "compile_ms": {"parse": c.parse, "diff": c.diff, "codegen": c.codegen, "total": c.total},
        "ns_per_call": {
            "value": t.value,
            "value_grad": t.value_grad,
            "interp_value_grad": t.interp_value_grad,
            "fd_forward": t.fd_forward,
            "fd_central": t.fd_central,
        },
        "grad_over_value": report.grad_over_value,
        "fd_max_abs_error": {"forward": report.fd_max_abs_error[0], "central": report.fd_max_abs_error[1]},
        "fd_vars": report.fd_vars,
    })
}
