//! The command line: one file per subcommand. This is the only part of the
//! crate that writes to stdout and stderr or chooses an exit status
//! (0 success, 1 failure, 2 bad input).

use std::io::Write;

use std::borrow::Cow;
use std::ffi::OsString;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use slope::Formula;
use slope::parse::Limits;
use slope::{Detail, Error, ErrorKind, Limit, Result};

mod bench;
mod check;
mod diff;
mod eval;
mod fit;
mod grad_args;
mod input;
mod min;
mod plot;

pub use input::{At, Input, Source};
pub(crate) use input::{load, read_file};

#[derive(Parser, Debug)]
#[command(
    name = "slope",
    version,
    propagate_version = true,
    about = "Exact symbolic gradients of formulas, compiled to native code",
    after_help = "Formulas: '+ - * / ^', functions such as sin, exp, ln, sqrt, min, max, \
                  'let' definitions separated by newlines or ';'. See the README for the language."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands. Each one's flags are added to clap's command tree only
/// when that subcommand is parsed (`defer`): building every subcommand's
/// flags took a quarter of `slope min "x^2"`'s instructions at start-up,
/// for six subcommands that were not used. Help, completions and the
/// manual page build the whole tree as before.
#[derive(Subcommand, Debug)]
#[command(defer = true)]
pub enum Command {
    /// Print the exact partial derivatives of a formula
    Diff(diff::Args),
    /// Evaluate a formula, its gradient and Hessian at a point
    Eval(eval::Args),
    /// Minimise (or maximise) a formula
    Min(Box<min::Args>),
    /// Fit a model to data by least squares: slope fit "y ~ a*exp(-b*t) + c" --data F.csv
    Fit(Box<fit::Args>),
    /// Time the compiled gradient against the interpreter and finite differences
    Bench(bench::Args),
    /// Draw the function: a line, a filled contour map, or a slice through a point
    // clap's usage line after an error lists every flag given as if it
    // were required (`--output <FILE>`, which defaults to plot.svg).
    #[command(override_usage = "slope plot [OPTIONS] --bounds <BOX> [FORMULA]")]
    Plot(plot::Args),
    /// Check derivatives: exact against finite differences, hand-written against exact
    Check(check::Args),
    /// Print a shell completion script, e.g. `slope completions bash > ~/.local/share/bash-completion/completions/slope`
    Completions {
        /// The shell
        shell: clap_complete::Shell,
    },
    /// Print the manual page, or a subcommand's with its options, e.g. `slope man > ~/.local/share/man/man1/slope.1`, `slope man min > ~/.local/share/man/man1/slope-min.1`
    Man {
        /// The subcommand whose page to print (the page slope(1) names as slope-SUBCOMMAND(1))
        #[arg(value_parser = MAN_PAGES)]
        subcommand: Option<String>,
    },
}

/// The subcommands with a manual page of their own, `slope-NAME(1)`: all
/// but clap's `help`, which the pages leave out.
const MAN_PAGES: [&str; 9] = [
    "diff",
    "eval",
    "min",
    "fit",
    "bench",
    "plot",
    "check",
    "completions",
    "man",
];

/// The manual page of `slope`, or of one subcommand: `slope-min(1)`, with
/// its options, as the `SUBCOMMANDS` section of `slope(1)` names it. The
/// whole tree is built first, so that the deferred subcommands have their
/// flags, and their display names (`slope-min`) and usage (`slope min`).
fn man_page(subcommand: Option<&str>, out: &mut dyn Write) -> std::io::Result<()> {
    // clap's `help` subcommand has no page of its own to name.
    let mut cli = Cli::command().disable_help_subcommand(true);
    cli.build();
    let page = match subcommand.and_then(|name| cli.find_subcommand(name)) {
        Some(sub) => sub.clone(),
        None => cli,
    };
    // The package, not the subcommand, is the page's source.
    let source = format!("slope {}", env!("CARGO_PKG_VERSION"));
    clap_mangen::Man::new(page).source(source).render(out)?;
    out.flush()
}

/// Parses the command line, or exits as clap does (help, version, or a
/// usage error with status 2; as `{"error": …}` on stdout under `--json`).
///
/// The formula may start with `-` (`-x^2`), so clap reads any hyphenated
/// word in its place as the formula; one starting with `--` is a flag
/// instead, misplaced or misspelt, and a second reading without hyphen
/// values lets clap say which (`--version`, `--help`, or "a similar
/// argument exists").
pub fn parse(argv: Vec<OsString>) -> Cli {
    let parsed = Cli::command()
        .try_get_matches_from(&argv)
        .and_then(|mut matches| {
            let flag_like = matches.subcommand().and_then(|(name, sub)| {
                sub.try_get_one::<String>("formula")
                    .ok()
                    .flatten()
                    .filter(|f| f.starts_with("--"))
                    .map(|_| name.to_string())
            });
            match flag_like {
                Some(name) => Err(strict_reading(&argv, &name)),
                None => Cli::from_arg_matches_mut(&mut matches),
            }
        })
        .map_err(|e| {
            // "unexpected argument 'x^2'": a misspelt flag before the
            // formula was taken for it; name the flag instead.
            let sub = argv.get(1).and_then(|s| s.to_str()).unwrap_or("");
            let takes_formula = e.kind() == clap::error::ErrorKind::UnknownArgument
                && with_flags_of(sub)
                    .find_subcommand(sub)
                    .is_some_and(|s| s.get_arguments().any(|a| a.get_id() == "formula"));
            if takes_formula {
                strict_reading(&argv, sub)
            } else {
                e
            }
        });
    match parsed {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind as K;
            let shows = matches!(
                e.kind(),
                K::DisplayHelp | K::DisplayVersion | K::DisplayHelpOnMissingArgumentOrSubcommand
            );
            if shows || !argv.iter().any(|a| a == "--json") {
                e.exit()
            }
            let text = e.render().to_string();
            let message = text
                .lines()
                .next()
                .unwrap_or("")
                .trim_start_matches("error: ")
                .to_string();
            let mut error = Error::new(ErrorKind::Usage, message);
            if let Some(tip) = text.lines().find_map(|l| l.trim().strip_prefix("tip: ")) {
                error = error.with_hint(tip);
            }
            println!("{}", error_json(&error, ""));
            std::process::exit(2)
        }
    }
}

/// Clap's error for the flags of `slope SUB …` read without hyphen values:
/// for the first word that starts with `--` and names no flag of `SUB`
/// (with its suggestion), or for the whole line (`--version`, `--help`).
fn strict_reading(argv: &[OsString], sub: &str) -> clap::Error {
    let strict = with_flags_of(sub).mut_subcommand(sub, |s| {
        s.mut_arg("formula", |a| a.allow_hyphen_values(false))
    });
    let known: Vec<String> = strict
        .find_subcommand(sub)
        .map(|s| {
            s.get_arguments()
                .filter_map(|a| a.get_long().map(str::to_string))
                .chain(["help".to_string(), "version".to_string()])
                .collect()
        })
        .unwrap_or_default();
    let unknown = argv
        .iter()
        .skip(2)
        .filter_map(|a| a.to_str())
        .take_while(|a| *a != "--")
        .find(|a| {
            a.strip_prefix("--").is_some_and(|name| {
                let name = name.split('=').next().unwrap_or(name);
                !known.iter().any(|k| k == name)
            })
        });
    let line: Vec<OsString> = match unknown {
        Some(flag) => vec![argv[0].clone(), sub.into(), flag.into()],
        None => argv.to_vec(),
    };
    match strict.try_get_matches_from(line) {
        Err(e) => e,
        // Not reached: the lenient reading failed or took a flag for the
        // formula; say so plainly if it is.
        Ok(_) => Cli::command().error(
            clap::error::ErrorKind::UnknownArgument,
            "a formula cannot start with '--'",
        ),
    }
}

/// The command tree with the flags of subcommand `name` added (they are
/// otherwise added only when it is parsed), for the error paths that
/// look at them. A name that is no subcommand, or one without flags,
/// leaves the tree as it is.
fn with_flags_of(name: &str) -> clap::Command {
    use clap::Args as _;
    let add: fn(clap::Command) -> clap::Command = match name {
        "diff" => diff::Args::augment_args,
        "eval" => eval::Args::augment_args,
        "min" => min::Args::augment_args,
        "fit" => fit::Args::augment_args,
        "bench" => bench::Args::augment_args,
        "plot" => plot::Args::augment_args,
        "check" => check::Args::augment_args,
        _ => return Cli::command(),
    };
    // The deferred addition is replaced by none, or clap would add the
    // flags a second time when it builds the subcommand.
    Cli::command().mut_subcommand(name, |s| add(s).defer(|s| s))
}

/// Data files larger than this are refused: 256 MiB holds about ten
/// million rows of three columns.
pub(crate) const MAX_DATA_BYTES: usize = 256 << 20;

/// A failed command: the message to print on stderr, the same as JSON
/// (for `--json`), and the exit status.
pub struct Failure {
    message: String,
    json: serde_json::Value,
    status: u8,
}

impl Failure {
    fn plain(e: Error) -> Failure {
        let e = in_cli_terms(e);
        Failure {
            message: e.render("", ""),
            json: error_json(&e, ""),
            status: e.exit_code() as u8,
        }
    }

    fn in_source(e: Error, source: &Source) -> Failure {
        let e = in_cli_terms(e);
        Failure {
            message: e.render(&source.text, &source.origin),
            json: error_json(&e, &source.text),
            status: e.exit_code() as u8,
        }
    }

    /// Nothing to say and nothing wrong: the reader of stdout went away
    /// (`slope diff F | head -1`), which is how pipes end.
    fn quiet() -> Failure {
        Failure {
            message: String::new(),
            json: serde_json::Value::Null,
            status: 0,
        }
    }
}

/// `{"error": {"kind", "message", "line", "column", "hint"}}`, the line and
/// column in `source` where the error has a place in it.
fn error_json(e: &Error, source: &str) -> serde_json::Value {
    let (line, column) = match e.span {
        Some(span) if !source.is_empty() => {
            let (l, c) = span.line_col(source);
            (serde_json::json!(l), serde_json::json!(c))
        }
        _ => (serde_json::Value::Null, serde_json::Value::Null),
    };
    // `NotFinite` → "not_finite".
    let mut kind = String::new();
    for (i, c) in format!("{:?}", e.kind).chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            kind.push('_');
        }
        kind.push(c.to_ascii_lowercase());
    }
    serde_json::json!({"error": {
        "kind": kind,
        "message": e.message,
        "line": line,
        "column": column,
        "hint": e.hint,
    }})
}

/// A library error as the command line says it: the flag that raises a
/// limit, the flag that set the variable order. (The library never names
/// a flag.)
fn in_cli_terms(mut e: Error) -> Error {
    match e.detail {
        Some(Detail::Limit { limit, .. }) if e.hint.is_none() => {
            let flag = match limit {
                Limit::Bytes => "--max-bytes",
                Limit::Depth => "--max-depth",
                Limit::Vars => "--max-vars",
                Limit::Nodes => "--max-nodes",
            };
            e.with_hint(format!("raise the limit with {flag}"))
        }
        Some(Detail::VarOrder) => {
            e.message = e.message.replace("the variable order", "--vars");
            e
        }
        Some(Detail::MissingData) if e.hint.is_none() => {
            e.with_hint("give the data with --data FILE.csv, whose header names the columns")
        }
        _ => e,
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Failure {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            return Failure::quiet();
        }
        Failure::plain(Error::new(
            ErrorKind::Io,
            format!("cannot write output: {e}"),
        ))
    }
}

/// Runs a parsed command line and returns the exit status.
pub fn run(cli: Cli, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let json = cli.command.json();
    let result = match cli.command {
        Command::Diff(args) => diff::run(&args, out),
        Command::Eval(args) => eval::run(&args, out, err),
        Command::Min(args) => min::run(&args, out, err),
        Command::Fit(args) => fit::run(&args, out, err),
        Command::Bench(args) => bench::run(&args, out, err),
        Command::Plot(args) => plot::run(&args, out),
        Command::Check(args) => check::run(&args, out, err),
        Command::Completions { shell } => {
            completions(shell, out).map(|()| 0).map_err(Failure::from)
        }
        Command::Man { subcommand } => man_page(subcommand.as_deref(), out)
            .map(|()| 0)
            .map_err(Failure::from),
    };
    match result {
        Ok(status) => status,
        Err(failure) => {
            // Nothing more can be done if the stream itself is gone.
            if json && !failure.json.is_null() {
                let _ = writeln!(out, "{}", failure.json);
            } else {
                let _ = err.write_all(failure.message.as_bytes());
            }
            failure.status
        }
    }
}

/// The completion script for `shell`. clap_complete panics when its
/// writer fails, so the script is made in memory and written here, where
/// a full disk is the usual "cannot write output" (exit status 1).
fn completions(shell: clap_complete::Shell, out: &mut dyn Write) -> std::io::Result<()> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "slope", &mut script);
    out.write_all(&script)?;
    out.flush()
}

impl Command {
    /// Whether the command was asked for one JSON object (`--json`).
    fn json(&self) -> bool {
        match self {
            Command::Diff(args) => args.json,
            Command::Eval(args) => args.json,
            Command::Min(args) => args.json,
            Command::Fit(args) => args.json,
            Command::Bench(args) => args.json,
            Command::Plot(_) | Command::Completions { .. } | Command::Man { .. } => false,
            Command::Check(args) => args.json,
        }
    }
}

/// The text of a point or box option: `text` itself, or for `@FILE` the
/// file's text, one item a line read as one item after a comma (for more
/// variables than a command line holds).
fn option_text<'t>(flag: &str, text: &'t str, example: &str) -> Result<Cow<'t, str>> {
    let Some(path) = text.strip_prefix('@') else {
        return Ok(Cow::Borrowed(text));
    };
    let read = read_file(path.as_ref(), Limits::default().max_bytes).map_err(|e| {
        Error {
            message: format!("{flag}: {}", e.message),
            ..e
        }
        .with_hint(format!("write {flag} @FILE with FILE holding {example}"))
    })?;
    Ok(Cow::Owned(read.replace('\n', ",")))
}

/// Parses `x=1,y=2,x[3]=0.5` (as given to `--at`, or `@FILE`) into pairs.
fn parse_assignments(flag: &str, text: &str) -> Result<Vec<(String, f64)>> {
    let text = option_text(flag, text, "x=1,y=2")?;
    let mut out = Vec::new();
    for part in split_top(&text).map(str::trim).filter(|p| !p.is_empty()) {
        let Some((name, value)) = part.split_once('=') else {
            return Err(Error::new(
                ErrorKind::Usage,
                format!("{flag}: '{part}' is not name=value"),
            )
            .with_hint(format!("write {flag} x=1,y=2")));
        };
        let value = value.trim();
        let number: f64 = value.parse().map_err(|_| {
            Error::new(
                ErrorKind::Usage,
                format!("{flag}: '{value}' is not a number"),
            )
            .with_hint(format!("write {flag} {}=1.5", name.trim()))
        })?;
        if !number.is_finite() {
            return Err(Error::new(
                ErrorKind::Usage,
                format!("{flag}: '{value}' is not a finite number"),
            ));
        }
        out.push((name.trim().to_string(), number));
    }
    Ok(out)
}

/// The error for a command that does not take arrays of variables yet.
fn not_for_arrays(command: &str) -> Error {
    Error::new(
        ErrorKind::Usage,
        format!("{command} does not take arrays of variables yet"),
    )
    .with_hint("slope eval --grad gives their partial derivatives' values")
}

/// `text` split at the commas outside brackets: `x[1,2]=0.5,y=1` is two
/// assignments.
fn split_top(text: &str) -> impl Iterator<Item = &str> {
    let mut depth = 0i32;
    text.split(move |c: char| {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            _ => {}
        }
        c == ',' && depth <= 0
    })
}

/// A value for text output: integers without a fraction, others in the
/// shortest form that reads back exactly, `NaN` and `inf` as such. This is
/// the printer's number format, except that pi and e stay digits here.
fn format_value(v: f64) -> String {
    use std::f64::consts::{E, PI};
    if v.abs() == PI || v.abs() == E {
        format!("{v:?}")
    } else {
        slope::print::format_number(v)
    }
}

/// `text` padded with spaces to `width` characters, on the right (`left`
/// aligned) or on the left. `format!`'s `{:w$}` panics for widths past
/// 65,535, which a long variable name reaches.
fn pad(text: &str, width: usize, left: bool) -> String {
    let fill = " ".repeat(width.saturating_sub(text.chars().count()));
    if left {
        format!("{text}{fill}")
    } else {
        format!("{fill}{text}")
    }
}

/// `n` and `noun`, the noun plural unless `n` is 1: "1 iteration",
/// "0 iterations", "2 Hessians".
fn counted(n: usize, noun: &str) -> String {
    match n {
        1 => format!("1 {noun}"),
        _ => format!("{n} {noun}s"),
    }
}

/// A JSON number, or null where it is not finite.
fn json_number(v: f64) -> serde_json::Value {
    serde_json::Number::from_f64(v).map_or(serde_json::Value::Null, serde_json::Value::Number)
}

/// Resolves `--wrt` names to variable indices (all variables if none given).
fn wrt_indices(formula: &Formula, wrt: &Option<Vec<String>>) -> Result<Vec<usize>> {
    match wrt {
        None => Ok((0..formula.n_vars()).collect()),
        Some(names) => names
            .iter()
            .map(|n| {
                formula.var_index(n).ok_or_else(|| {
                    Error::new(
                        ErrorKind::Usage,
                        format!("--wrt: the formula has no variable '{n}'"),
                    )
                    .with_hint(format!(
                        "its variables are {}",
                        slope::quoted_list(formula.vars())
                    ))
                })
            })
            .collect(),
    }
}

/// Parses `x=-1:1,y=0:2` into bounds for every variable, in order: a
/// finite range for each, as drawing points and pictures need.
fn parse_bounds(f: &Formula, text: &str) -> Result<Vec<(f64, f64)>> {
    parse_box(f, text, BoxKind::Spanned)
}

/// What a `--bounds` box is for, which decides the ranges it takes.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
enum BoxKind {
    /// Constraints on a run (beside `--start`, or a fit's): an end may be
    /// infinite, a range one point, and a variable left out is free.
    Open,
    /// Where random starts are drawn from: finite ranges for every
    /// variable, one point allowed (`x=1:1` draws 1, the variable fixed as
    /// with `--start`).
    Drawn,
    /// Points to check, a picture's axes: finite ranges of positive width.
    Spanned,
}

/// Parses `x=-1:1,y=0:2` into bounds for every variable, in order. An
/// array's name bounds each of its elements, `x[3]=0:1` one element, which
/// overrides the array's box in either order; a name given twice is an
/// error ([`slope::Entries`]). `kind` says which ranges it takes
/// ([`BoxKind`]): as constraints on a run an end may be infinite
/// (`x=0:inf`), a range may be one point (`x=2:2` holds x fixed), and a
/// variable left out is free.
fn parse_box(f: &Formula, text: &str, kind: BoxKind) -> Result<Vec<(f64, f64)>> {
    let names = f.elements();
    let name = |k: usize| f.var_names().name(k).into_owned();
    parse_box_over((f.n_vars(), &name), &|name| names.resolve(name), text, kind)
}

/// [`parse_box`] over `n` variables named by `name` (a formula's
/// variables, a model's parameters), `resolve` giving the positions a
/// written name stands for.
fn parse_box_over(
    (n, name): (usize, &dyn Fn(usize) -> String),
    resolve: &dyn Fn(&str) -> Result<std::ops::Range<usize>>,
    text: &str,
    kind: BoxKind,
) -> Result<Vec<(f64, f64)>> {
    let open = kind == BoxKind::Open;
    let text = option_text("--bounds", text, "x=-1:1,y=0:2")?;
    let mut bounds: Vec<Option<(f64, f64)>> = vec![None; n];
    let mut entries = slope::Entries::new(n)?;
    for part in split_top(&text).map(str::trim).filter(|p| !p.is_empty()) {
        let parsed = part.split_once('=').and_then(|(name, range)| {
            let (lo, hi) = range.split_once(':')?;
            Some((
                name.trim(),
                lo.trim().parse::<f64>().ok()?,
                hi.trim().parse::<f64>().ok()?,
            ))
        });
        let Some((name, lo, hi)) = parsed else {
            return Err(usage(&format!("--bounds: '{part}' is not name=low:high"))
                .with_hint("write --bounds x=-1:1,y=0:2"));
        };
        let positions = resolve(name).map_err(|e| Error {
            message: format!("--bounds: {}", e.message),
            ..e
        })?;
        if !open && lo <= hi && !(lo.is_finite() && hi.is_finite()) {
            return Err(usage(&format!(
                "--bounds: {name}={}:{} has an infinite end, and points are drawn from a finite box",
                format_value(lo),
                format_value(hi)
            ))
            .with_hint("give finite ends (min takes infinite ones beside --start)"));
        }
        if !open && (hi - lo).is_infinite() {
            return Err(usage(&format!(
                "--bounds: {name}={}:{} is wider than a double can hold",
                format_value(lo),
                format_value(hi)
            ))
            .with_hint("give a box whose width (high - low) is at most 1.7e308"));
        }
        let interval = match kind {
            BoxKind::Open => lo <= hi && lo < f64::INFINITY && hi > f64::NEG_INFINITY,
            BoxKind::Drawn => lo.is_finite() && hi.is_finite() && lo <= hi,
            BoxKind::Spanned => lo.is_finite() && hi.is_finite() && lo < hi,
        };
        if !interval {
            return Err(usage(&format!(
                "--bounds: {name}={}:{} is not an interval: the low end must be below the high end",
                format_value(lo),
                format_value(hi)
            )));
        }
        entries
            .set(name, positions, |k| bounds[k] = Some((lo, hi)))
            .map_err(|e| Error {
                message: format!("--bounds: {}", e.message),
                ..e
            })?;
    }
    if open {
        let free = (f64::NEG_INFINITY, f64::INFINITY);
        return Ok(bounds.into_iter().map(|b| b.unwrap_or(free)).collect());
    }
    let missing: Vec<usize> = (0..n).filter(|&k| bounds[k].is_none()).collect();
    if !missing.is_empty() {
        return Err(usage(&format!(
            "--bounds gives no range for {}",
            slope::quoted_list_capped(missing.len(), |k| name(missing[k]))
        ))
        .with_hint(
            "give every variable a range; an array's name gives all its elements one: x=-1:1",
        ));
    }
    Ok(bounds.into_iter().flatten().collect())
}

/// A seed from the clock, for runs that did not give one (it is printed).
fn fresh_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
        % 1_000_000
}

/// Constraint `i` of `f` as written, without `subject to`, on one line.
fn constraint_text(f: &Formula, i: usize) -> String {
    let span = f.constraints()[i].span;
    let text = f.source().get(span.range()).unwrap_or_default();
    let text = text.strip_prefix("subject").unwrap_or(text).trim_start();
    let text = text.strip_prefix("to").unwrap_or(text);
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A constraint row as written, without `subject to` and the family's
/// indices `(i in 1..n)`, followed by the row's: `x[i] <= x[i+1] - 1 (i=3)`.
fn constraint_row_text(f: &Formula, row: &slope::ConstraintRow) -> String {
    let text = constraint_text(f, row.statement);
    if !f.constraints()[row.statement].is_family() {
        return text;
    }
    // The family's parentheses are the first ones closed.
    let mut depth = 0;
    let end = text.char_indices().find_map(|(k, ch)| {
        match ch {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ => return None,
        }
        (depth == 0).then_some(k)
    });
    let body = end.map_or(text.as_str(), |end| text[end + 1..].trim_start());
    format!("{body} {}", f.constraint_row_label(row))
}

fn usage(message: &str) -> Error {
    Error::new(ErrorKind::Usage, message)
}

#[cfg(test)]
mod tests {
    use super::format_value;

    #[test]
    fn format_value_prints_digits_where_the_printer_prints_names() {
        assert_eq!(format_value(std::f64::consts::PI), "3.141592653589793");
        assert_eq!(format_value(-std::f64::consts::E), "-2.718281828459045");
        assert_eq!(slope::print::format_number(std::f64::consts::PI), "pi");
        assert_eq!(format_value(f64::NAN), "NaN");
        assert_eq!(format_value(f64::INFINITY), "inf");
        assert_eq!(format_value(f64::NEG_INFINITY), "-inf");
        assert_eq!(format_value(-3.0), "-3");
        assert_eq!(format_value(0.1), "0.1");
        assert_eq!(format_value(1e20), "1e20");
    }

    /// Each subcommand slope(1) names has its page, and no other does.
    #[test]
    fn the_manual_pages_are_the_subcommands() {
        use clap::CommandFactory;
        let cli = super::Cli::command().disable_help_subcommand(true);
        let names: Vec<&str> = cli.get_subcommands().map(|s| s.get_name()).collect();
        assert_eq!(names, super::MAN_PAGES);
    }

    /// Clap checks a command's definition when it builds it, and a
    /// deferred subcommand is built only when parsed: this builds and
    /// checks them all.
    #[test]
    fn every_subcommand_is_well_defined() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }

    /// A subcommand's flags are added after its `about` (they are
    /// deferred), so a doc comment on a flattened struct would replace
    /// it; and the error paths add the flags of each subcommand that
    /// takes a formula by its name.
    #[test]
    fn deferred_flags_keep_the_about_and_are_found_by_name() {
        use clap::CommandFactory;
        let lazy = super::Cli::command();
        let mut built = super::Cli::command();
        built.build();
        for sub in lazy.get_subcommands() {
            let name = sub.get_name();
            let after = built.find_subcommand(name).and_then(|s| s.get_about());
            assert_eq!(
                sub.get_about().map(ToString::to_string),
                after.map(ToString::to_string),
                "{name}"
            );
            let ids = |c: &clap::Command| -> Vec<String> {
                c.find_subcommand(name)
                    .map(|s| s.get_arguments().map(|a| a.get_id().to_string()).collect())
                    .unwrap_or_default()
            };
            let mut by_name: Vec<String> = ids(&super::with_flags_of(name));
            let mut all: Vec<String> = ids(&built);
            // Only the subcommands that take a formula reach the error
            // paths that add flags by name.
            if !all.iter().any(|id| id == "formula") {
                continue;
            }
            all.retain(|id| id != "help" && id != "version");
            by_name.sort();
            all.sort();
            assert_eq!(by_name, all, "{name}");
        }
    }
}
