//! `slope fit`'s report: the table (or one JSON object) on stdout,
//! warnings and notes on stderr, and the exit status.

use std::io::Write;

use serde_json::{Map, Value, json};

use super::super::{Failure, counted, format_value, json_number, pad};
use super::Context;
use slope::fit::Fit;
use slope::optim::Bound;

/// Writes the report of `fit` and returns the exit status: 0 converged, 1
/// not.
pub(super) fn report(
    context: &Context,
    fit: &Fit,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<u8, Failure> {
    let args = context.args;
    if !context.defaulted.is_empty() {
        writeln!(
            err,
            "note: no --start for {}: starting at 1",
            slope::quoted_list(&context.defaulted)
        )?;
    }
    for (param, column) in lookalikes(context.model.params(), context.data.names()) {
        writeln!(
            err,
            "note: '{param}' is fitted as a parameter: did you mean the column '{column}'?"
        )?;
    }
    let warnings = warnings(context, fit);
    if args.json {
        writeln!(out, "{}", Value::Object(to_json(context, fit, &warnings)))?;
    } else {
        table(out, context, fit)?;
    }
    for w in &warnings {
        writeln!(err, "warning: {w}")?;
    }
    if !fit.converged() {
        writeln!(
            err,
            "note: the fit did not converge ({}: {}); the estimates are where it stopped",
            fit.reason.name(),
            fit.explanation(RAISE)
        )?;
        return Ok(1);
    }
    Ok(0)
}

/// Each parameter named like a column, with that column: the same name
/// in another case (`T` for `t`), or a likely typo of it. Names are
/// case-sensitive and a parameter may be named so, so this is a note: a
/// model that meant the column fits a constant instead, and says so only
/// by a parameter the data do not identify.
fn lookalikes<'a>(params: &'a [String], columns: &'a [String]) -> Vec<(&'a str, &'a str)> {
    let lowered: Vec<String> = columns.iter().map(|c| c.to_lowercase()).collect();
    params
        .iter()
        .filter_map(|p| {
            let same = columns.iter().find(|c| c.eq_ignore_ascii_case(p));
            let near = || {
                let s = slope::builtins::suggest(p, lowered.iter().map(String::as_str))?;
                let i = lowered.iter().position(|c| c == s)?;
                Some(&columns[i])
            };
            Some((p.as_str(), same.or_else(near)?.as_str()))
        })
        .collect()
}

/// How the command line raises the fit's limit, for [`Fit::explanation`].
const RAISE: &str = "raise --max-evaluations";

/// Rank deficiency and parameters on a bound, one sentence each.
fn warnings(context: &Context, fit: &Fit) -> Vec<String> {
    let mut out = Vec::new();
    let fixed = fit.fixed_params();
    let p = fit.params.len() - fixed.len();
    if !fixed.is_empty() {
        out.push(format!(
            "{} fixed by {} bounds: not estimated (no standard error), and no degree of \
             freedom taken",
            slope::quoted_list(&fixed),
            match fixed.len() {
                1 => "its",
                _ => "their",
            }
        ));
    }
    if fit.rank < p {
        out.push(format!(
            "the Jacobian has rank {} of {p} at the solution: the data do not identify {} \
             (no standard error: they move together without changing the fit)",
            fit.rank,
            slope::quoted_list(&fit.unidentified())
        ));
    }
    if fit.dof == 0 && !context.args.absolute_sigma {
        out.push(format!(
            "no degree of freedom is left ({} residuals, rank {}): the residual variance is \
             not estimated, and the standard errors are infinite",
            fit.rows * fit.residuals_per_row,
            fit.rank
        ));
    }
    for (i, name) in fit.params.iter().enumerate() {
        let (lo, hi) = context.bounds[i];
        let end = match fit.at_bound[i] {
            Bound::Lower => format!("lower bound {}", format_value(lo)),
            Bound::Upper => format!("upper bound {}", format_value(hi)),
            Bound::Free => continue,
        };
        if lo == hi {
            continue;
        }
        out.push(format!(
            "'{name}' is on its {end}: its standard error and interval assume it is free"
        ));
    }
    out
}

/// A number to about six significant digits, for the table.
fn num(v: f64) -> String {
    if !v.is_finite() {
        return format_value(v);
    }
    if v == 0.0 {
        return "0".to_string();
    }
    let a = v.abs();
    if (1e-4..1e6).contains(&a) {
        let decimals = (5 - a.log10().floor() as i32).clamp(0, 9) as usize;
        let s = format!("{v:.decimals$}");
        if s.contains('.') {
            return s.trim_end_matches('0').trim_end_matches('.').to_string();
        }
        return s;
    }
    let s = format!("{v:.5e}");
    let (mantissa, exponent) = s.split_once('e').unwrap_or((&s, "0"));
    let mantissa = match mantissa.contains('.') {
        true => mantissa.trim_end_matches('0').trim_end_matches('.'),
        false => mantissa,
    };
    format!("{mantissa}e{exponent}")
}

fn table(out: &mut dyn Write, context: &Context, fit: &Fit) -> Result<(), Failure> {
    let squares = context.model.response().is_empty();
    let body = match (squares, context.source.origin.as_str()) {
        // A file's text is its name's to show.
        (true, "<arg>" | "<stdin>") | (false, _) => context
            .source
            .text
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
        (true, file) => format!("{file} (a sum of squares)"),
    };
    writeln!(out, "{:<19} {body}", "model")?;
    writeln!(
        out,
        "{:<19} {}: {} rows",
        "data",
        context.data.origin(),
        fit.rows
    )?;
    if squares {
        let k = fit.residuals_per_row;
        writeln!(
            out,
            "{:<19} {k} per row, {} in all",
            "residuals",
            k * fit.rows
        )?;
    }
    let loss = context.args.loss.loss();
    if loss != slope::fit::Loss::Linear {
        writeln!(
            out,
            "{:<19} {} (f-scale {})",
            "loss",
            loss.name(),
            format_value(context.args.f_scale)
        )?;
    }
    let verdict = match fit.converged() {
        true => "converged",
        false => "not converged",
    };
    writeln!(
        out,
        "{:<19} {} ({verdict}) after {}, {}, {}",
        "stopped",
        fit.reason.name(),
        counted(fit.iterations, "iteration"),
        counted(fit.evaluations, "evaluation"),
        seconds(context.seconds)
    )?;
    writeln!(out)?;
    // The parameter table.
    let header = [
        "parameter",
        "estimate",
        "std error",
        "t value",
        "95% interval",
    ];
    let rows: Vec<[String; 5]> = fit
        .params
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let (lo, hi) = fit.intervals[i];
            [
                name.clone(),
                num(fit.x[i]),
                match fit.fixed[i] {
                    true => "fixed".to_string(),
                    false => num(fit.stderr[i]),
                },
                num(fit.t_values[i]),
                format!("{} .. {}", num(lo), num(hi)),
            ]
        })
        .collect();
    let widths: Vec<usize> = (0..5)
        .map(|c| {
            rows.iter()
                .map(|r| r[c].chars().count())
                .chain([header[c].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: [&str; 5]| -> String {
        let mut s = pad(cells[0], widths[0], true);
        for c in 1..4 {
            s.push_str("  ");
            s.push_str(&pad(cells[c], widths[c], false));
        }
        s.push_str("  ");
        s.push_str(cells[4]);
        s.trim_end().to_string()
    };
    writeln!(out, "{}", line(header))?;
    for r in &rows {
        writeln!(out, "{}", line([&r[0], &r[1], &r[2], &r[3], &r[4]]))?;
    }
    writeln!(out)?;
    writeln!(out, "{:<19} {}", "residual sum of sq.", num(fit.rss))?;
    if loss != slope::fit::Loss::Linear {
        writeln!(out, "{:<19} {}", "loss sum ΣC²ρ", num(fit.f))?;
    }
    writeln!(
        out,
        "{:<19} {} on {} degrees of freedom",
        "residual std error",
        num(fit.residual_std_error),
        fit.dof
    )?;
    match fit.r2.is_nan() && squares {
        true => writeln!(
            out,
            "{:<19} none: a residual that is not w*(y[i] - model) has no response column",
            "R²"
        )?,
        false => writeln!(
            out,
            "{:<19} {}  (adjusted {})",
            "R²",
            num(fit.r2),
            num(fit.adjusted_r2)
        )?,
    }
    if context.args.corr {
        writeln!(out)?;
        writeln!(out, "correlation")?;
        let p = fit.params.len();
        let corr = fit.correlation();
        let w = fit
            .params
            .iter()
            .map(|n| n.chars().count())
            .max()
            .unwrap_or(1)
            .max(7);
        let mut head = pad("", w, true);
        for name in &fit.params {
            head.push_str("  ");
            head.push_str(&pad(name, w, false));
        }
        writeln!(out, "{}", head.trim_end())?;
        for i in 0..p {
            let mut row = pad(&fit.params[i], w, true);
            for j in 0..p {
                row.push_str("  ");
                let c = corr[i * p + j];
                let cell = match c.is_finite() {
                    true => format!("{c:.4}"),
                    false => format_value(c),
                };
                row.push_str(&pad(&cell, w, false));
            }
            writeln!(out, "{row}")?;
        }
    }
    if let Some(plot) = &context.args.plot {
        writeln!(out, "{:<19} {}", "picture", plot.display())?;
    }
    Ok(())
}

fn seconds(s: f64) -> String {
    if s < 1e-3 {
        format!("{:.0} µs", s * 1e6)
    } else if s < 1.0 {
        format!("{:.1} ms", s * 1e3)
    } else {
        format!("{s:.2} s")
    }
}

fn to_json(context: &Context, fit: &Fit, warnings: &[String]) -> Map<String, Value> {
    let numbers = |v: &[f64]| -> Value { v.iter().map(|&x| json_number(x)).collect() };
    let p = fit.params.len();
    let matrix = |m: &[f64]| -> Value {
        (0..p)
            .map(|i| numbers(&m[i * p..(i + 1) * p]))
            .collect::<Vec<Value>>()
            .into()
    };
    let mut obj = Map::new();
    obj.insert("vars".into(), json!(fit.params));
    obj.insert("x".into(), numbers(&fit.x));
    obj.insert("f".into(), json_number(fit.f));
    obj.insert("iterations".into(), json!(fit.iterations));
    obj.insert("evaluations".into(), json!(fit.evaluations));
    obj.insert("converged".into(), json!(fit.converged()));
    obj.insert("reason".into(), json!(fit.reason.name()));
    obj.insert("message".into(), json!(fit.explanation(RAISE)));
    obj.insert("method".into(), json!("lm"));
    obj.insert("seconds".into(), json_number(context.seconds));
    let params: Map<String, Value> = fit
        .params
        .iter()
        .zip(&fit.x)
        .map(|(n, &v)| (n.clone(), json_number(v)))
        .collect();
    obj.insert("params".into(), Value::Object(params));
    obj.insert("stderr".into(), numbers(&fit.stderr));
    // JSON has no NaN or infinity: both are null in `stderr`, and this
    // says which, per parameter.
    let unidentified = fit.unidentified();
    obj.insert(
        "stderr_status".into(),
        (0..fit.params.len())
            .map(|i| {
                let s = fit.stderr[i];
                json!(if fit.fixed[i] {
                    "fixed"
                } else if unidentified.contains(&fit.params[i].as_str()) {
                    "unidentified"
                } else if s.is_infinite() {
                    "infinite"
                } else {
                    "estimated"
                })
            })
            .collect(),
    );
    obj.insert("t_values".into(), numbers(&fit.t_values));
    obj.insert(
        "intervals".into(),
        fit.intervals
            .iter()
            .map(|&(a, b)| json!([json_number(a), json_number(b)]))
            .collect(),
    );
    obj.insert("covariance".into(), matrix(&fit.covariance));
    if context.args.corr {
        obj.insert("correlation".into(), matrix(&fit.correlation()));
    }
    obj.insert("rss".into(), json_number(fit.rss));
    obj.insert("dof".into(), json!(fit.dof));
    obj.insert("rows".into(), json!(fit.rows));
    obj.insert("residuals_per_row".into(), json!(fit.residuals_per_row));
    obj.insert(
        "residual_std_error".into(),
        json_number(fit.residual_std_error),
    );
    obj.insert("r2".into(), json_number(fit.r2));
    obj.insert("adjusted_r2".into(), json_number(fit.adjusted_r2));
    obj.insert("rank".into(), json!(fit.rank));
    obj.insert("loss".into(), json!(context.args.loss.loss().name()));
    obj.insert("warnings".into(), json!(warnings));
    obj
}
