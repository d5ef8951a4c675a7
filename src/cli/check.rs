//! `slope check`: the exact gradient (and Hessian) against finite
//! differences, and hand-written derivatives against the exact ones.

use std::io::Write;
use std::path::PathBuf;

use serde_json::{Map, Value, json};

use super::grad_args;
use super::{
    At, Failure, Input, Source, format_value, fresh_seed, json_number, load, pad, parse_bounds,
    read_file, usage,
};
use slope::check::{self, Comparison, PointCheck, Status, Verdict};
use slope::graph::NodeId;
use slope::{Error, ErrorKind};
use slope::{Formula, Written};

/// Points drawn when neither `--at` nor `--points` says.
const DEFAULT_POINTS: usize = 10;

/// The most points `--points` may ask for (each is a report).
const MAX_POINTS: usize = 100_000;

/// The most variables whose values a report lists at each point (and
/// whose names `--json` lists): past it, only the checked ones.
const MAX_LISTED: usize = 1000;

/// The most variables a text report writes out at each point.
const MAX_INLINE: usize = 10;

/// The box points are drawn from when no `--bounds` is given.
const DEFAULT_BOX: (f64, f64) = (-2.0, 2.0);

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Without --at or --bounds, points are drawn from -2:2 in every variable. \
                        Exit status: 0 if everything checked agrees, 1 if anything differs or could not be compared, \
                        2 for bad input."
)]
pub struct Args {
    #[command(flatten)]
    input: Input,
    #[command(flatten)]
    at: At,
    /// Draw the points from a box, e.g. --bounds x=-1:1,y=0:2
    #[arg(
        long,
        value_name = "BOX",
        allow_hyphen_values = true,
        conflicts_with = "at"
    )]
    bounds: Option<String>,
    /// How many random points to check the gradient at [default: 10]
    #[arg(long, value_name = "N", conflicts_with = "at")]
    points: Option<usize>,
    /// Seed for the random points (default: drawn, and reported)
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
    /// Check the Hessian against differences of the gradient, too
    #[arg(long)]
    hessian: bool,
    /// A derivative written by hand, e.g. --grad x="6*x + 2" (repeatable;
    /// several as --grad x="...",y="...")
    #[arg(long = "grad", value_name = "NAME=FORMULA", allow_hyphen_values = true)]
    grad: Vec<String>,
    /// Derivatives written by hand, one 'name = formula' a line ('#'
    /// comments and blank lines allowed)
    #[arg(long, value_name = "FILE")]
    grad_file: Option<PathBuf>,
    /// One JSON object: {"vars", "seed"?, "points", "checked", "skipped",
    /// "failed", "undecided", "hand", "ok"}
    #[arg(long)]
    pub(super) json: bool,
}

/// A hand-written derivative as given: its variable, its text, and where
/// the text came from (for error messages).
struct Given {
    var: usize,
    text: String,
    origin: String,
}

/// The outcome for one variable's hand derivative.
struct HandResult {
    var: usize,
    given: Option<String>,
    exact: String,
    verdict: Option<Verdict>,
}

pub fn run(args: &Args, out: &mut dyn Write, err: &mut dyn Write) -> Result<u8, Failure> {
    let (mut f, source) = load(&args.input)?;
    let arrays = f.has_arrays();
    if arrays && args.hessian {
        return Err(Failure::plain(super::not_for_arrays(
            "slope check --hessian",
        )));
    }
    if arrays && (!args.grad.is_empty() || args.grad_file.is_some()) {
        return Err(Failure::plain(
            super::not_for_arrays("slope check --grad").with_hint(
                "slope diff --expand --set n=5 prints every element's partial, to compare with yours",
            ),
        ));
    }
    if f.is_indexed() && !arrays {
        // Sums over fixed ranges, parameters or data, but scalar variables:
        // written out, the scalar formula is checked (the Hessian and hand
        // derivatives too), and its derivatives print with the values.
        f = f.unrolled().map_err(Failure::plain)?;
    }
    let m = f.constraints().len();
    if m > 0 {
        let (s, are) = if m == 1 { ("", "is") } else { ("s", "are") };
        writeln!(
            err,
            "note: check compares the objective's derivatives; its {m} constraint{s} {are} left out"
        )?;
    }
    let n = f.n_vars();
    if args.points == Some(0) {
        return Err(Failure::plain(
            usage("--points 0 checks nothing").with_hint("give at least 1, e.g. --points 10"),
        ));
    }
    if let Some(k) = args.points.filter(|&k| k > MAX_POINTS) {
        return Err(Failure::plain(
            usage(&format!("--points {k} is more than {MAX_POINTS}"))
                .with_hint("a few hundred random points find what millions would"),
        ));
    }
    let given = read_given(args, &f)?;

    // The points: the one given, or drawn from a box.
    let seed = args.seed.unwrap_or_else(fresh_seed);
    let (points, hand_box, random) = if args.at.is_given() {
        let x = args.at.point(&f).map_err(Failure::plain)?;
        let around = check::box_around(&x);
        (vec![x], around, false)
    } else {
        let bounds = match &args.bounds {
            Some(text) => parse_bounds(&f, text).map_err(Failure::plain)?,
            None => vec![DEFAULT_BOX; n],
        };
        let count = if n == 0 {
            1
        } else {
            args.points.unwrap_or(DEFAULT_POINTS)
        };
        let points = (0..count)
            .map(|k| check::sample(&bounds, seed, k))
            .collect();
        (points, bounds, n > 0)
    };

    // An indexed formula's gradient is compared along a bounded subset
    // of its variables (all of them up to check::ALL_UP_TO).
    let (checks, checked_vars) = if arrays {
        let vars = check::vars_to_check(n, seed);
        let checks = check::check_elements(&f, &points, &vars).map_err(Failure::plain)?;
        (checks, vars)
    } else {
        let checks = check::check_points(&mut f, &points, args.hessian).map_err(Failure::plain)?;
        (checks, (0..n).collect())
    };
    let subset = checked_vars.len() < n;

    // Hand derivatives, in a copy of the graph so the checked one stays as
    // it was compiled.
    let exact_nodes: Vec<NodeId> = f.gradient().to_vec();
    let mut hand_f = f.clone();
    let mut parsed: Vec<Option<(Written, String)>> = vec![None; n];
    for g in &given {
        let written = hand_f
            .parse_written(&g.text, &args.input.limits())
            .map_err(|e| {
                let source = Source {
                    text: g.text.clone(),
                    origin: g.origin.clone(),
                };
                Failure::in_source(e, &source)
            })?;
        parsed[g.var] = Some((written, g.text.trim().to_string()));
    }
    // A seed apart from the gradient points', so the two sets differ.
    let hand_seed = seed ^ 0x6a09_e667_f3bc_c909;
    let mut hand = Vec::new();
    let mut hand_random = false;
    if !given.is_empty() {
        for (i, &exact) in exact_nodes.iter().enumerate() {
            let exact_text = hand_f
                .to_slope(exact)
                .unwrap_or_else(|e| format!("({})", e.message));
            let (given_text, verdict) = match &parsed[i] {
                Some((written, text)) => {
                    let verdict = check::compare_derivative(
                        hand_f.graph(),
                        exact,
                        written,
                        &hand_box,
                        hand_seed,
                    );
                    hand_random |= verdict != Verdict::Proved;
                    (Some(text.clone()), Some(verdict))
                }
                None => (None, None),
            };
            hand.push(HandResult {
                var: i,
                given: given_text,
                exact: exact_text,
                verdict,
            });
        }
    }

    let checked = checks.iter().filter(|c| c.outcome.is_ok()).count();
    let failed = checks
        .iter()
        .filter(|c| c.outcome.as_ref().is_ok_and(|c| c.differs()))
        .count();
    // Neither agreeing nor differing: a tolerance too large to tell.
    let undecided = checks
        .iter()
        .filter(|c| c.outcome.as_ref().is_ok_and(|c| !c.ok() && !c.differs()))
        .count();
    let agreed = checked - failed - undecided;
    let skipped = checks.len() - checked;
    // A hand derivative that differs fails, and so does one that could not
    // be compared anywhere (never finite beside the exact one).
    let hand_failed = hand.iter().any(|h| {
        matches!(
            h.verdict,
            Some(Verdict::Differs { .. } | Verdict::Untested { .. })
        )
    });
    // A check that compared nothing at a point fails: it vouches for
    // nothing. A hand derivative compared at its own points counts; a
    // proof alone does not, as it holds only where both sides are
    // defined (`sqrt(x)` on x=-2:-1 has `1/(2*sqrt(x))` proved, and
    // neither is finite anywhere in the box: that exited 0).
    let hand_compared = hand
        .iter()
        .any(|h| matches!(h.verdict, Some(Verdict::Agrees { .. })));
    let hand_proved = hand
        .iter()
        .any(|h| matches!(h.verdict, Some(Verdict::Proved)));
    let nothing_checked = checked == 0 && !checks.is_empty() && !hand_compared;
    let ok = failed == 0 && undecided == 0 && !hand_failed && !nothing_checked;
    let show_seed = (random || hand_random || subset).then_some(seed);

    if args.json {
        let report = Report {
            f: &f,
            source: &source.text,
            checks: &checks,
            checked_vars: &checked_vars,
            hand: &hand,
        };
        let mut obj = Map::new();
        if n <= MAX_LISTED {
            obj.insert("vars".into(), json!(f.vars()));
        }
        obj.insert("n_vars".into(), json!(n));
        let names: Vec<&String> = checked_vars.iter().map(|&i| &f.vars()[i]).collect();
        obj.insert("checked_vars".into(), json!(names));
        if let Some(seed) = show_seed {
            obj.insert("seed".into(), json!(seed));
        }
        obj.insert("points".into(), report.points_json());
        obj.insert("checked".into(), json!(checked));
        obj.insert("skipped".into(), json!(skipped));
        obj.insert("failed".into(), json!(failed));
        obj.insert("undecided".into(), json!(undecided));
        obj.insert("hand".into(), report.hand_json());
        obj.insert("ok".into(), json!(ok));
        writeln!(out, "{}", Value::Object(obj))?;
    } else {
        let report = Report {
            f: &f,
            source: &source.text,
            checks: &checks,
            checked_vars: &checked_vars,
            hand: &hand,
        };
        report.write_points(out, args.hessian)?;
        let what = if args.hessian {
            "gradient and Hessian"
        } else {
            "gradient"
        };
        let plural = |k: usize| if k == 1 { "point" } else { "points" };
        write!(
            out,
            "{what}: {agreed} {} agree{} with finite differences",
            plural(agreed),
            if agreed == 1 { "s" } else { "" }
        )?;
        if failed > 0 {
            write!(out, ", {failed} {} differ", plural(failed))?;
        }
        if undecided > 0 {
            write!(out, ", {undecided} undecided")?;
        }
        if skipped > 0 {
            write!(out, ", {skipped} skipped")?;
        }
        writeln!(out)?;
        if subset {
            writeln!(
                out,
                "checked {} of {n} variables: the first 5, the last 5 and 10 drawn with the seed",
                checked_vars.len()
            )?;
        }
        if let Some(seed) = show_seed {
            writeln!(out, "seed: {seed}")?;
        }
        report.write_hand(out)?;
    }
    if nothing_checked {
        writeln!(
            err,
            "note: no point could be checked against finite differences: every one was skipped{}",
            match hand_proved {
                true => " (a proof holds where both sides are defined: it checks no point)",
                false => "",
            }
        )?;
    }
    if undecided > 0 {
        writeln!(
            err,
            "note: undecided: at every step tried, the estimate's error or the exact value's \
             rounding (its formula cancels there) is too large beside the values to tell"
        )?;
    }
    Ok(if ok { 0 } else { 1 })
}

/// The hand derivatives of `--grad` and `--grad-file`, by variable index;
/// a variable given twice or not in the formula is a usage error.
fn read_given(args: &Args, f: &Formula) -> Result<Vec<Given>, Failure> {
    let mut raw: Vec<(String, String, String)> = Vec::new();
    for text in &args.grad {
        let pairs = grad_args::split_assignments(text).map_err(Failure::plain)?;
        for (name, formula) in pairs {
            let origin = format!("--grad {name}");
            raw.push((name, formula, origin));
        }
    }
    if let Some(path) = &args.grad_file {
        let text = read_file(path, args.input.max_bytes).map_err(Failure::plain)?;
        let lines = grad_args::parse_grad_file(&text).map_err(|e| {
            Failure::plain(Error {
                message: format!("{}: {}", path.display(), e.message),
                ..e
            })
        })?;
        for (line, name, formula) in lines {
            let origin = format!("{} (line {line})", path.display());
            raw.push((name, formula, origin));
        }
    }
    let mut seen = vec![false; f.n_vars()];
    let mut out = Vec::new();
    for (name, text, origin) in raw {
        let Some(var) = f.var_index(&name) else {
            return Err(Failure::plain(
                Error::new(
                    ErrorKind::Usage,
                    format!("{origin}: the formula has no variable '{name}'"),
                )
                .with_hint(format!(
                    "its variables are {}",
                    slope::quoted_list(f.vars())
                )),
            ));
        };
        if std::mem::replace(&mut seen[var], true) {
            return Err(Failure::plain(usage(&format!(
                "the derivative with respect to '{name}' is given twice"
            ))));
        }
        out.push(Given { var, text, origin });
    }
    Ok(out)
}

/// What is printed, text or JSON.
struct Report<'a> {
    f: &'a Formula,
    source: &'a str,
    checks: &'a [PointCheck],
    /// The variables compared, one per entry of each point's gradient.
    checked_vars: &'a [usize],
    hand: &'a [HandResult],
}

impl Report<'_> {
    fn vars(&self) -> &[String] {
        self.f.vars()
    }

    /// `x = 1, y = 2`.
    fn point_text(&self, x: &[f64]) -> String {
        self.vars()
            .iter()
            .zip(x)
            .map(|(v, x)| format!("{v} = {}", format_value(*x)))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn write_points(&self, out: &mut dyn Write, hessian: bool) -> std::io::Result<()> {
        let many = self.checks.len() > 1;
        for (k, c) in self.checks.iter().enumerate() {
            let label = if many {
                format!("point {}: ", k + 1)
            } else {
                String::new()
            };
            let at = if self.vars().is_empty() {
                "no variables".to_string()
            } else if self.vars().len() > MAX_INLINE {
                format!("{} variables", self.vars().len())
            } else {
                self.point_text(&c.x)
            };
            match &c.outcome {
                Err(skip) => {
                    writeln!(
                        out,
                        "{label}{at}: skipped, {}",
                        skip.describe(self.source, self.vars())
                    )?;
                }
                Ok(_) if self.vars().is_empty() => {
                    writeln!(out, "{label}{at}: nothing to differentiate")?;
                }
                Ok(checked) => {
                    writeln!(out, "{label}{at} (f = {})", format_value(c.value))?;
                    // Past a few variables the point is not written out:
                    // each row gives its variable's value.
                    let inline = self.vars().len() <= MAX_INLINE;
                    let mut rows: Vec<(String, &Comparison)> = self
                        .checked_vars
                        .iter()
                        .zip(&checked.gradient)
                        .map(|(&i, cmp)| match inline {
                            true => (format!("df/d{}", self.vars()[i]), cmp),
                            false => (
                                format!("df/d{} at {}", self.vars()[i], format_value(c.x[i])),
                                cmp,
                            ),
                        })
                        .collect();
                    if hessian {
                        for (i, row) in checked.hessian.iter().enumerate() {
                            for (j, c) in row.iter().enumerate().skip(i) {
                                let (a, b) = (&self.vars()[i], &self.vars()[j]);
                                let name = if i == j {
                                    format!("d2f/d{a}2")
                                } else {
                                    format!("d2f/d{a}d{b}")
                                };
                                rows.push((name, c));
                            }
                        }
                    }
                    write_table(out, &rows)?;
                    for (name, c) in rows.iter().filter(|(_, c)| !c.usual_step) {
                        writeln!(
                            out,
                            "  {name}: estimated with a step of {:.1e}, shorter than the usual one, which decided nothing",
                            c.step
                        )?;
                    }
                }
            }
        }
        Ok(())
    }

    fn write_hand(&self, out: &mut dyn Write) -> std::io::Result<()> {
        for h in self.hand {
            let name = &self.vars()[h.var];
            let status = match &h.verdict {
                None => "unchecked (no derivative given)".to_string(),
                Some(Verdict::Proved) => "proved equal".to_string(),
                Some(Verdict::Agrees { points }) => {
                    format!("agrees at {points} points (not proved)")
                }
                Some(Verdict::Differs { x, yours, exact }) => format!(
                    "differs: at {} yours gives {}, exact {}",
                    self.compact_point(x),
                    format_value(*yours),
                    format_value(*exact)
                ),
                Some(Verdict::Untested { draws }) => format!(
                    "not proved, and none of {draws} points tried could decide \
                     (the exact derivative not finite, or rounding larger than the values)"
                ),
            };
            writeln!(out, "df/d{name}: {status}")?;
            if let Some(given) = &h.given {
                writeln!(out, "  yours  {given}")?;
            }
            writeln!(out, "  exact  {}", h.exact)?;
        }
        Ok(())
    }

    /// `x=0.5, y=1`: the point of a counterexample.
    fn compact_point(&self, x: &[f64]) -> String {
        self.vars()
            .iter()
            .zip(x)
            .map(|(v, x)| format!("{v}={}", format_value(*x)))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn points_json(&self) -> Value {
        let comparison = |c: &Comparison| {
            let mut row = json!({
                "exact": json_number(c.exact),
                "estimate": json_number(c.estimate),
                "central": json_number(c.central),
                "estimate_half_step": json_number(c.estimate_half_step),
                "abs_error": json_number(c.abs_error),
                "rel_error": json_number(c.rel_error),
                "tolerance": json_number(c.tolerance),
                "exact_rounding": json_number(c.exact_rounding),
                "step": json_number(c.step),
                "status": c.status.name(),
                "ok": c.ok,
            });
            if let Status::Undecided(why) = c.status {
                row["undecided"] = json!(why.name());
            }
            row
        };
        self.checks
            .iter()
            .map(|c| {
                let mut obj = Map::new();
                if c.x.len() <= MAX_LISTED {
                    obj.insert("x".into(), c.x.iter().map(|&v| json_number(v)).collect());
                }
                obj.insert("value".into(), json_number(c.value));
                match &c.outcome {
                    Err(skip) => {
                        obj.insert(
                            "skipped".into(),
                            json!(skip.describe(self.source, self.vars())),
                        );
                    }
                    Ok(checked) => {
                        let gradient: Vec<Value> = self
                            .checked_vars
                            .iter()
                            .zip(&checked.gradient)
                            .map(|(&i, cmp)| {
                                let mut row = Map::new();
                                row.insert("var".into(), json!(self.vars()[i]));
                                if self.f.has_arrays() {
                                    row.insert("at".into(), json_number(c.x[i]));
                                }
                                if let Value::Object(fields) = comparison(cmp) {
                                    row.extend(fields);
                                }
                                Value::Object(row)
                            })
                            .collect();
                        obj.insert("gradient".into(), Value::Array(gradient));
                        if !checked.hessian.is_empty() {
                            let rows: Vec<Value> = checked
                                .hessian
                                .iter()
                                .map(|row| row.iter().map(comparison).collect())
                                .collect();
                            obj.insert("hessian".into(), Value::Array(rows));
                        }
                        obj.insert("ok".into(), json!(checked.ok()));
                    }
                }
                Value::Object(obj)
            })
            .collect()
    }

    fn hand_json(&self) -> Value {
        self.hand
            .iter()
            .map(|h| {
                let mut obj = Map::new();
                obj.insert("var".into(), json!(self.vars()[h.var]));
                if let Some(given) = &h.given {
                    obj.insert("given".into(), json!(given));
                }
                obj.insert("exact".into(), json!(h.exact));
                let status = h.verdict.as_ref().map_or("unchecked", Verdict::status);
                obj.insert("status".into(), json!(status));
                match &h.verdict {
                    Some(Verdict::Agrees { points }) => {
                        obj.insert("points".into(), json!(points));
                    }
                    Some(Verdict::Differs { x, yours, exact }) => {
                        obj.insert(
                            "counterexample".into(),
                            json!({
                                "x": x.iter().map(|&v| json_number(v)).collect::<Vec<_>>(),
                                "yours": json_number(*yours),
                                "exact": json_number(*exact),
                            }),
                        );
                    }
                    Some(Verdict::Untested { draws }) => {
                        obj.insert("draws".into(), json!(draws));
                    }
                    _ => {}
                }
                Value::Object(obj)
            })
            .collect()
    }
}

/// Rows of comparisons under a header, columns aligned.
fn write_table(out: &mut dyn Write, rows: &[(String, &Comparison)]) -> std::io::Result<()> {
    let cells: Vec<[String; 7]> = rows
        .iter()
        .map(|(name, c)| {
            [
                name.clone(),
                format_value(c.exact),
                format_value(c.estimate),
                format!("{:.1e}", c.abs_error),
                format!("{:.1e}", c.rel_error),
                format!("{:.1e}", c.tolerance),
                match c.status {
                    Status::Agrees => "ok".to_string(),
                    Status::Differs => "DIFFERS".to_string(),
                    Status::Undecided(why) => format!("undecided ({})", why.name()),
                },
            ]
        })
        .collect();
    let header = [
        "", "exact", "estimate", "abs err", "rel err", "expected", "",
    ];
    let mut widths = header.map(str::len);
    for row in &cells {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let line = |cells: [&str; 7]| {
        let mut s = String::from(" ");
        for (k, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if k == 6 {
                s.push_str(&format!(" {cell}"));
            } else if k == 0 {
                s.push_str(&format!(" {}", pad(cell, w, true)));
            } else {
                s.push_str(&format!("  {}", pad(cell, w, false)));
            }
        }
        s.trim_end().to_string()
    };
    writeln!(out, "{}", line(header))?;
    for row in &cells {
        writeln!(out, "{}", line(row.each_ref().map(String::as_str)))?;
    }
    Ok(())
}
