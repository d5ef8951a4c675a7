//! `slope diff`: the exact partial derivatives, printed.

use std::io::Write;

use serde_json::{Map, Value, json};

use super::{Failure, Input, constraint_text, load, usage, wrt_indices};
use slope::graph::NodeId;
use slope::{Error, ErrorKind, Formula};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    input: Input,
    /// Only these variables, e.g. --wrt x,y
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    wrt: Option<Vec<String>>,
    /// Also print the second derivatives
    #[arg(long)]
    hessian: bool,
    /// Print LaTeX instead of slope syntax
    #[arg(long)]
    latex: bool,
    /// Write out every sum at the parameters' values and print each
    /// element's partial, df/dx[1], ..., df/dx[n] (at most 1,000 variables)
    #[arg(long)]
    expand: bool,
    /// One JSON object: {"vars", "partials", "hessian"?, "latex"?, "constraints"?}
    #[arg(long)]
    pub(super) json: bool,
}

/// The most bytes of derivatives one `diff` prints.
const MAX_OUTPUT: usize = 64 << 20;

/// The most variables `--expand` prints partials for: past it the list is
/// too long to read, and the indexed closed forms say the same.
const MAX_EXPANDED: usize = 1000;

pub fn run(args: &Args, out: &mut dyn Write) -> Result<u8, Failure> {
    let (mut f, source) = load(&args.input)?;
    if args.expand {
        f = expanded(&f, &source)?;
    }
    if f.has_arrays() {
        if args.hessian {
            // Second partials of arrays have no indexed closed form yet:
            // written out they do, and their values at a point.
            return Err(Failure::plain(
                Error::new(
                    ErrorKind::Usage,
                    "slope diff --hessian does not print the second derivatives of arrays of \
                     variables as indexed forms yet",
                )
                .with_hint(
                    "add --expand to print each one written out (up to 1,000 variables), or \
                     use slope eval --hessian --at ... for their values at a point (sparse for \
                     many variables)",
                ),
            ));
        }
        if args.wrt.is_some() {
            return Err(Failure::plain(super::not_for_arrays("slope diff --wrt")));
        }
        return array_partials(&f, args, out, &source);
    }
    let fail = |e| Failure::in_source(e, &source);
    let wrt = wrt_indices(&f, &args.wrt).map_err(Failure::plain)?;
    let gradient: Vec<NodeId> = f.gradient().to_vec();
    let hessian: Vec<Vec<NodeId>> = if args.hessian {
        f.hessian().map_err(fail)?
    } else {
        Vec::new()
    };
    let names: Vec<&str> = wrt.iter().map(|&i| f.vars()[i].as_str()).collect();
    // Each expression is bounded by the printer. Text streams out as it is
    // printed; JSON is held until it is whole, so its total is bounded too,
    // and many large entries cannot add up to gigabytes.
    let printed = std::cell::Cell::new(0usize);
    let budget = |text: String| -> slope::Result<String> {
        printed.set(printed.get() + text.len());
        if printed.get() > MAX_OUTPUT {
            return Err(Error::new(
                ErrorKind::Limit,
                format!("the output would be over {} MiB", MAX_OUTPUT >> 20),
            )
            .with_hint("print fewer derivatives with --wrt, or evaluate them with slope eval"));
        }
        Ok(text)
    };
    let slope = |f: &Formula, id| f.to_slope(id).and_then(budget);
    let latex = |f: &Formula, id| f.to_latex(id).and_then(budget);
    let (slope, latex): (Printer, Printer) = (&slope, &latex);

    if args.json {
        let mut obj = Map::new();
        obj.insert("vars".into(), json!(f.vars()));
        let mut partials = Map::new();
        for (&i, name) in wrt.iter().zip(&names) {
            partials.insert(
                name.to_string(),
                json!(slope(&f, gradient[i]).map_err(fail)?),
            );
        }
        obj.insert("partials".into(), Value::Object(partials));
        if args.hessian {
            obj.insert(
                "hessian".into(),
                hessian_json(&f, &hessian, &wrt, slope).map_err(fail)?,
            );
        }
        if args.latex {
            let mut tex = Map::new();
            for (&i, name) in wrt.iter().zip(&names) {
                tex.insert(
                    name.to_string(),
                    json!(latex(&f, gradient[i]).map_err(fail)?),
                );
            }
            obj.insert("latex".into(), Value::Object(tex));
            if args.hessian {
                obj.insert(
                    "hessian_latex".into(),
                    hessian_json(&f, &hessian, &wrt, latex).map_err(fail)?,
                );
            }
        }
        if !f.constraints().is_empty() {
            let mut list = Vec::new();
            for (k, c) in f.constraints().iter().enumerate() {
                let mut partials = Map::new();
                for (&i, name) in wrt.iter().zip(&names) {
                    let text = slope(&f, c.gradient[i]).map_err(fail)?;
                    partials.insert(name.to_string(), json!(text));
                }
                list.push(json!({
                    "text": constraint_text(&f, k),
                    "g": slope(&f, c.value).map_err(fail)?,
                    "relation": c.kind.relation(),
                    "partials": partials,
                }));
            }
            obj.insert("constraints".into(), Value::Array(list));
        }
        writeln!(out, "{}", Value::Object(obj))?;
        return Ok(0);
    }

    let print = |f: &Formula, id| match args.latex {
        true => f.to_latex(id),
        false => f.to_slope(id),
    };
    for (&i, name) in wrt.iter().zip(&names) {
        let text = print(&f, gradient[i]).map_err(fail)?;
        if args.latex {
            let v = slope::print::to_latex(f.graph(), f.var_node(i), f.vars()).map_err(fail)?;
            writeln!(out, "\\frac{{\\partial f}}{{\\partial {v}}} = {text}")?;
        } else {
            writeln!(out, "df/d{name} = {text}")?;
        }
    }
    // Each constraint in standard form, then its partial derivatives.
    for (k, c) in f.constraints().iter().enumerate() {
        let g = print(&f, c.value).map_err(fail)?;
        let relation = c.kind.relation();
        let written = constraint_text(&f, k);
        let comment = if args.latex { "%" } else { "#" };
        writeln!(
            out,
            "{comment} subject to {written}: g{} = {g} {relation} 0",
            k + 1
        )?;
        for (&i, name) in wrt.iter().zip(&names) {
            let text = print(&f, c.gradient[i]).map_err(fail)?;
            if args.latex {
                let v = slope::print::to_latex(f.graph(), f.var_node(i), f.vars()).map_err(fail)?;
                writeln!(
                    out,
                    "\\frac{{\\partial g_{{{}}}}}{{\\partial {v}}} = {text}",
                    k + 1
                )?;
            } else {
                writeln!(out, "dg{}/d{name} = {text}", k + 1)?;
            }
        }
    }
    if args.hessian {
        for (a, &i) in wrt.iter().enumerate() {
            for &j in &wrt[a..] {
                let text = print(&f, hessian[i][j]).map_err(fail)?;
                let (vi, vj) = (&f.vars()[i], &f.vars()[j]);
                if args.latex {
                    let ti =
                        slope::print::to_latex(f.graph(), f.var_node(i), f.vars()).map_err(fail)?;
                    let tj =
                        slope::print::to_latex(f.graph(), f.var_node(j), f.vars()).map_err(fail)?;
                    let den = if i == j {
                        format!("\\partial {ti}^{{2}}")
                    } else {
                        format!("\\partial {ti} \\partial {tj}")
                    };
                    writeln!(out, "\\frac{{\\partial^{{2}} f}}{{{den}}} = {text}")?;
                } else if i == j {
                    writeln!(out, "d2f/d{vi}2 = {text}")?;
                } else {
                    writeln!(out, "d2f/d{vi}d{vj} = {text}")?;
                }
            }
        }
    }
    Ok(0)
}

/// `f` with every sum and product written out, for `--expand`: a scalar
/// formula over the elements, refused past [`MAX_EXPANDED`] variables.
fn expanded(f: &Formula, source: &super::Source) -> Result<Formula, Failure> {
    if !f.is_indexed() {
        return Err(Failure::plain(
            usage("--expand writes out sums and products, and this formula has none")
                .with_hint("its partials are printed in full without --expand"),
        ));
    }
    let n = f.n_vars();
    if n > MAX_EXPANDED {
        return Err(Failure::plain(
            usage(&format!(
                "--expand prints one partial per variable: this formula has {n}, over {MAX_EXPANDED}"
            ))
            .with_hint(
                "give a smaller size with --set (e.g. --set n=5), or read the indexed closed forms without --expand",
            ),
        ));
    }
    f.unrolled().map_err(|e| Failure::in_source(e, source))
}

/// The partials of a formula with arrays of variables: each scalar's, then
/// each array's as indexed closed forms, one term per line with its range.
fn array_partials(
    f: &Formula,
    args: &Args,
    out: &mut dyn Write,
    source: &super::Source,
) -> Result<u8, Failure> {
    let fail = |e| Failure::in_source(e, source);
    let print = |id| {
        match args.latex {
            true => f.to_latex(id),
            false => f.to_slope(id),
        }
        .map_err(fail)
    };
    let n_scalars = f.gradient().len();
    let arrays = f.array_partials(args.latex).map_err(fail)?;
    let mut constraints = Vec::with_capacity(f.constraints().len());
    for k in 0..f.constraints().len() {
        constraints.push(f.constraint_array_partials(k, args.latex).map_err(fail)?);
    }
    if args.json {
        let scalar_partials = |gradient: &[NodeId]| -> Result<Map<String, Value>, Failure> {
            let mut partials = Map::new();
            for (name, &d) in f.vars()[..n_scalars].iter().zip(gradient) {
                partials.insert(name.clone(), json!(print(d)?));
            }
            Ok(partials)
        };
        let mut obj = json!({
            "vars": &f.vars()[..n_scalars],
            "arrays": arrays.iter().map(|a| &a.0).collect::<Vec<_>>(),
            "partials": scalar_partials(f.gradient())?,
            "array_partials": terms_json(&arrays),
        });
        if !constraints.is_empty() {
            let mut list = Vec::new();
            for (k, (c, arrays)) in f.constraints().iter().zip(&constraints).enumerate() {
                list.push(json!({
                    "text": constraint_text(f, k),
                    "g": print(c.value)?,
                    "relation": c.kind.relation(),
                    "partials": scalar_partials(&c.gradient)?,
                    "array_partials": terms_json(arrays),
                }));
            }
            obj["constraints"] = Value::Array(list);
        }
        writeln!(out, "{obj}")?;
        return Ok(0);
    }
    for (name, &d) in f.vars()[..n_scalars].iter().zip(f.gradient()) {
        writeln!(out, "df/d{name} = {}", print(d)?)?;
    }
    write_terms(out, "df", f, &arrays, args.latex)?;
    // Each constraint in standard form, then its partial derivatives.
    for (k, (c, arrays)) in f.constraints().iter().zip(&constraints).enumerate() {
        let comment = if args.latex { "%" } else { "#" };
        writeln!(
            out,
            "{comment} subject to {}: g{} = {} {} 0",
            constraint_text(f, k),
            k + 1,
            print(c.value)?,
            c.kind.relation()
        )?;
        let dg = format!("dg{}", k + 1);
        for (name, &d) in f.vars()[..n_scalars].iter().zip(&c.gradient) {
            writeln!(out, "{dg}/d{name} = {}", print(d)?)?;
        }
        write_terms(out, &dg, f, arrays, args.latex)?;
    }
    Ok(0)
}

/// Each array's partials as JSON: `{"x": [{"term", "for"}, ...]}`.
fn terms_json(arrays: &[(String, Vec<slope::ArrayTerm>)]) -> Value {
    let mut indexed = Map::new();
    for (array, terms) in arrays {
        let terms: Vec<Value> = terms
            .iter()
            .map(|t| json!({"term": t.text, "for": t.range}))
            .collect();
        indexed.insert(array.clone(), Value::Array(terms));
    }
    Value::Object(indexed)
}

/// Each array's partials of `of` (`df`, `dg1`), one term a line, the
/// ranges aligned: `df/dx[k] = ... for k in 1..n-1`.
fn write_terms(
    out: &mut dyn Write,
    of: &str,
    f: &Formula,
    arrays: &[(String, Vec<slope::ArrayTerm>)],
    latex: bool,
) -> std::io::Result<()> {
    let k = f.partial_index();
    for (array, terms) in arrays {
        let head = format!("{of}/d{array}[{k}] = ");
        if terms.is_empty() {
            writeln!(out, "{head}0")?;
        }
        let width = terms.iter().map(|t| t.text.len()).max().unwrap_or(0);
        for (i, t) in terms.iter().enumerate() {
            // `+ -2*x` reads better as `- 2*x`.
            let (sign, text) = match t.text.strip_prefix('-') {
                Some(rest) if i > 0 && !latex => ("- ", rest),
                _ => ("+ ", t.text.as_str()),
            };
            let lead = if i == 0 {
                head.clone()
            } else {
                format!("{}{sign}", " ".repeat(head.len() - 2))
            };
            let range = t
                .range
                .as_deref()
                .map_or(String::new(), |r| format!("   for {r}"));
            writeln!(out, "{lead}{}{range}", super::pad(text, width, true))?;
        }
    }
    Ok(())
}

type Printer<'a> = &'a dyn Fn(&Formula, NodeId) -> slope::Result<String>;

/// The Hessian block of the `wrt` variables, as rows of printed formulas.
fn hessian_json(
    f: &Formula,
    hessian: &[Vec<NodeId>],
    wrt: &[usize],
    print: Printer<'_>,
) -> slope::Result<Value> {
    let mut rows = Vec::with_capacity(wrt.len());
    for &i in wrt {
        let row = wrt
            .iter()
            .map(|&j| print(f, hessian[i][j]).map(Value::String))
            .collect::<slope::Result<Vec<_>>>()?;
        rows.push(Value::Array(row));
    }
    Ok(Value::Array(rows))
}
