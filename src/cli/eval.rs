//! `slope eval`: value, gradient and Hessian at a point.

use std::io::Write;

use serde_json::{Map, Value, json};

use super::{At, Failure, Input, constraint_text, format_value, json_number, load, pad};
use slope::graph::NodeId;
use slope::jit::Compiled;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    input: Input,
    #[command(flatten)]
    at: At,
    /// Also evaluate the gradient
    #[arg(long)]
    grad: bool,
    /// Also evaluate the Hessian
    #[arg(long)]
    hessian: bool,
    /// One JSON object: {"vars", "value", "gradient"?, "hessian"?, "constraints"?, "violations"?, "constraint_gradients"?}; with arrays of variables "hessian" is sparse: {"rows", "cols", "values"}, the lower triangle's entries by position in "vars"
    #[arg(long)]
    pub(super) json: bool,
    /// Evaluate with the interpreter instead of compiling to native code
    #[arg(long)]
    interp: bool,
}

pub fn run(args: &Args, out: &mut dyn Write, err: &mut dyn Write) -> Result<u8, Failure> {
    let (mut f, source) = load(&args.input)?;
    let x = args.at.point(&f).map_err(Failure::plain)?;
    let n = f.vars().len();
    let mut nodes: Vec<NodeId> = vec![f.value()];
    if args.grad {
        nodes.extend_from_slice(f.gradient());
    }
    // With arrays of variables the Hessian is sparse, numbers from
    // Hessian-vector products rather than nodes.
    let sparse = if args.hessian && f.has_arrays() {
        Some(f.sparse_hessian(&x).map_err(Failure::plain)?)
    } else {
        None
    };
    if args.hessian && sparse.is_none() {
        let hessian = f.hessian().map_err(|e| Failure::in_source(e, &source))?;
        let rows: Vec<NodeId> = hessian.into_iter().flatten().collect();
        nodes.extend(rows);
    }
    // Constraints (in standard form g <= 0 or g == 0) after everything
    // else, with their gradients under --grad.
    let constraints_start = nodes.len();
    let m = f.constraints().len();
    nodes.extend(f.constraints().iter().map(|c| c.value));
    if args.grad {
        let rows: Vec<NodeId> = (f.constraints().iter())
            .flat_map(|c| c.gradient.iter().copied())
            .collect();
        nodes.extend(rows);
    }
    // Indexed formulas are evaluated by the interpreter here; their
    // loops are compiled for `min` and the library.
    let mut values = if args.interp || f.is_indexed() {
        f.eval_nodes(&nodes, &x)
    } else {
        let compiled = Compiled::compile(f.graph(), &nodes, n).map_err(Failure::plain)?;
        let mut values = vec![0.0; nodes.len()];
        compiled.call(&x, &mut values);
        values
    };
    if args.grad && f.has_arrays() {
        let (_, g) = f.value_grad(&x);
        values.splice(1..1 + f.gradient().len(), g);
    }
    let value = values[0];
    let gradient = if args.grad {
        &values[1..1 + n]
    } else {
        &[][..]
    };
    let hessian_start = 1 + if args.grad { n } else { 0 };
    let hessian: Vec<&[f64]> = if args.hessian && sparse.is_none() {
        values[hessian_start..constraints_start]
            .chunks(n.max(1))
            .take(n)
            .collect()
    } else {
        Vec::new()
    };
    let g = &values[constraints_start..constraints_start + m];
    let g_gradients: Vec<&[f64]> = values[constraints_start + m..]
        .chunks(n.max(1))
        .take(if args.grad { m } else { 0 })
        .collect();
    let violations: Vec<f64> = (f.constraints().iter().zip(g))
        .map(|(c, &g)| c.kind.violation(g))
        .collect();

    if args.json {
        let mut obj = Map::new();
        obj.insert("vars".into(), json!(f.vars()));
        obj.insert("value".into(), json_number(value));
        if args.grad {
            obj.insert(
                "gradient".into(),
                gradient.iter().map(|&v| json_number(v)).collect(),
            );
        }
        if let Some(h) = &sparse {
            let entries: Vec<(usize, usize, f64)> = h.entries().collect();
            obj.insert(
                "hessian".into(),
                json!({
                    "rows": entries.iter().map(|e| e.0).collect::<Vec<_>>(),
                    "cols": entries.iter().map(|e| e.1).collect::<Vec<_>>(),
                    "values": entries.iter().map(|e| json_number(e.2)).collect::<Vec<_>>(),
                }),
            );
        } else if args.hessian {
            let rows: Vec<Value> = hessian
                .iter()
                .map(|row| row.iter().map(|&v| json_number(v)).collect())
                .collect();
            obj.insert("hessian".into(), Value::Array(rows));
        }
        if m > 0 {
            let numbers = |v: &[f64]| -> Value { v.iter().map(|&v| json_number(v)).collect() };
            obj.insert("constraints".into(), numbers(g));
            obj.insert("violations".into(), numbers(&violations));
            if args.grad {
                let rows: Vec<Value> = g_gradients.iter().map(|r| numbers(r)).collect();
                obj.insert("constraint_gradients".into(), Value::Array(rows));
            }
        }
        writeln!(out, "{}", Value::Object(obj))?;
    } else {
        writeln!(out, "f = {}", format_value(value))?;
        for (name, g) in f.vars().iter().zip(gradient) {
            writeln!(out, "df/d{name} = {}", format_value(*g))?;
        }
        if let Some(h) = &sparse {
            write_entries(out, f.vars(), h)?;
        } else if args.hessian {
            write_matrix(out, f.vars(), &hessian)?;
        }
        for i in 0..m {
            let c = &f.constraints()[i];
            let state = match violations[i] {
                v if v > 0.0 => format!("violated by {}", format_value(v)),
                0.0 => "holds".to_string(),
                _ => "not a number".to_string(),
            };
            writeln!(
                out,
                "g{} = {}  (subject to {}, as g {} 0: {state})",
                i + 1,
                format_value(g[i]),
                constraint_text(&f, i),
                c.kind.relation()
            )?;
            if let Some(row) = g_gradients.get(i) {
                for (name, d) in f.vars().iter().zip(row.iter()) {
                    writeln!(out, "dg{}/d{name} = {}", i + 1, format_value(*d))?;
                }
            }
        }
    }

    match f.diagnose(&nodes, &x) {
        None => Ok(0),
        Some(e) => {
            err.write_all(e.render(&source.text, &source.origin).as_bytes())?;
            Ok(1)
        }
    }
}

/// A sparse Hessian's lower triangle, one entry a line, named by its
/// variables (`d2f/dx[2]dx[1] = 480`); entries outside it are 0.
fn write_entries(
    out: &mut dyn Write,
    vars: &[String],
    h: &slope::SparseHessian,
) -> std::io::Result<()> {
    let count = h.entries().count();
    writeln!(
        out,
        "hessian (lower triangle, {count} entries of {n}×{n}; the others are 0):",
        n = vars.len()
    )?;
    for (i, j, v) in h.entries() {
        writeln!(out, "  d2f/d{}d{} = {}", vars[i], vars[j], format_value(v))?;
    }
    Ok(())
}

/// The Hessian as an aligned table with variable names on both sides.
fn write_matrix(out: &mut dyn Write, vars: &[String], rows: &[&[f64]]) -> std::io::Result<()> {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|&v| format_value(v)).collect())
        .collect();
    let name_width = vars.iter().map(String::len).max().unwrap_or(0);
    let width = cells
        .iter()
        .flatten()
        .map(String::len)
        .chain(vars.iter().map(String::len))
        .max()
        .unwrap_or(1);
    writeln!(out, "hessian:")?;
    write!(out, "  {}", pad("", name_width, true))?;
    for v in vars {
        write!(out, "  {}", pad(v, width, false))?;
    }
    writeln!(out)?;
    for (v, row) in vars.iter().zip(&cells) {
        write!(out, "  {}", pad(v, name_width, true))?;
        for c in row {
            write!(out, "  {}", pad(c, width, false))?;
        }
        writeln!(out)?;
    }
    Ok(())
}
