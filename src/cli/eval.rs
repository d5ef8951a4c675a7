//! `slope eval`: value, gradient and Hessian at a point.

use std::io::Write;

use serde_json::{Map, Value, json};

use super::{
    At, Failure, Input, constraint_row_text, constraint_text, error_json, format_value,
    json_number, load, pad,
};
use slope::graph::NodeId;
use slope::jit::Compiled;
use slope::{ConstraintKind, Error, ErrorKind, Formula};

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
    /// One JSON object: {"vars", "value", "gradient"?, "hessian"?, "constraints"?, "violations"?, "constraint_gradients"?, "not_finite"?}; a value that is not finite is null, and "not_finite" says why as an error does ({"kind", "message", "line", "column", "hint"}: the operation that first gave NaN or infinity); with arrays of variables, over 20 variables, "hessian" is sparse: {"format": "coo-lower", "rows", "cols", "values"}, the lower triangle's entries by their 0-based positions in "vars"
    #[arg(long)]
    pub(super) json: bool,
    /// Evaluate with the interpreter instead of compiling to native code
    #[arg(long)]
    interp: bool,
}

pub fn run(args: &Args, out: &mut dyn Write, err: &mut dyn Write) -> Result<u8, Failure> {
    let (mut f, source) = load(&args.input)?;
    let x = args.at.point(&f).map_err(Failure::plain)?;
    let n = f.n_vars();
    let mut nodes: Vec<NodeId> = vec![f.value()];
    if args.grad {
        nodes.extend_from_slice(f.gradient());
    }
    // With arrays of variables the Hessian is sparse, numbers from
    // Hessian-vector products rather than nodes; it prints as a table
    // while that is small, then entry by entry.
    let sparse = if args.hessian && f.has_arrays() {
        Some(f.sparse_hessian(&x).map_err(Failure::plain)?)
    } else {
        None
    };
    let dense_of_sparse: Vec<f64> = match &sparse {
        Some(h) if n <= MAX_TABLE_VARS => h.to_dense(),
        _ => Vec::new(),
    };
    let sparse = sparse.filter(|_| n > MAX_TABLE_VARS);
    if args.hessian && !f.has_arrays() {
        let hessian = f.hessian().map_err(|e| Failure::in_source(e, &source))?;
        let rows: Vec<NodeId> = hessian.into_iter().flatten().collect();
        nodes.extend(rows);
    }
    // Constraints (in standard form g <= 0 or g == 0) after everything
    // else, with their gradients under --grad.
    // A family, or constraints on arrays, have rows the interpreter
    // computes apart.
    let by_rows = f.constraints().iter().any(|c| !c.is_scalar());
    let constraints_start = nodes.len();
    if !by_rows {
        nodes.extend(f.constraints().iter().map(|c| c.value));
    }
    if args.grad && !by_rows {
        let rows: Vec<NodeId> = (f.constraints().iter())
            .flat_map(|c| c.gradient.iter().copied())
            .collect();
        nodes.extend(rows);
    }
    // The value and gradient's nodes; with arrays, the gradient's values
    // are one per element, not one per node.
    let head = 1 + if args.grad { f.gradient().len() } else { 0 };
    let values = if args.interp {
        let mut values = f.eval_nodes(&nodes, &x);
        if args.grad && f.has_arrays() {
            let (_, g) = f.value_grad(&x);
            values.splice(1..head, g);
        }
        values
    } else if f.is_indexed() {
        // An indexed formula's value and gradient by its compiled loops,
        // the rest (scalar constraints, a scalar Hessian) by the
        // interpreter: a 3000 × 3000 double sum took the interpreter
        // 0.85 s, its loops 8.5 ms.
        let code = f.compile().map_err(Failure::plain)?;
        let mut values = match args.grad {
            true => {
                let (v, g) = code.value_grad(&x).map_err(Failure::plain)?;
                std::iter::once(v).chain(g).collect()
            }
            false => vec![code.value(&x).map_err(Failure::plain)?],
        };
        values.extend(f.eval_nodes(&nodes[head..], &x));
        values
    } else {
        let compiled = Compiled::compile(f.graph(), &nodes, n).map_err(Failure::plain)?;
        let mut values = vec![0.0; nodes.len()];
        compiled.call(&x, &mut values);
        values
    };
    let value = values[0];
    let gradient = if args.grad {
        &values[1..1 + n]
    } else {
        &[][..]
    };
    let hessian_start = 1 + if args.grad { n } else { 0 };
    let hessian: Vec<&[f64]> = if args.hessian && f.has_arrays() {
        dense_of_sparse.chunks(n.max(1)).take(n).collect()
    } else if args.hessian {
        values[hessian_start..constraints_start]
            .chunks(n.max(1))
            .take(n)
            .collect()
    } else {
        Vec::new()
    };
    let rows = constraint_rows(&f, &x, &values[constraints_start..], args.grad)
        .map_err(|e| Failure::in_source(e, &source))?;
    let (g, g_gradients) = (&rows.values[..], &rows.gradients);
    let m = g.len();
    let violations: Vec<f64> = (rows.kinds.iter().zip(g))
        .map(|(kind, &g)| kind.violation(g))
        .collect();

    // The first operation to give NaN or infinity, if any.
    let not_finite = match values.iter().all(|v| v.is_finite()) {
        true => None,
        false => f.diagnose(&nodes, &x),
    };
    if args.json {
        let mut obj = Map::new();
        obj.insert("vars".into(), json!(f.vars()));
        obj.insert("value".into(), json_number(value));
        if let Some(e) = &not_finite {
            // The fields of an error's JSON, for what made a number null.
            let described = error_json(e, &source.text)["error"].take();
            obj.insert("not_finite".into(), described);
        }
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
                    "format": "coo-lower",
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
            if by_rows {
                obj.insert("constraint_text".into(), json!(rows.texts));
            }
        }
        writeln!(out, "{}", Value::Object(obj))?;
    } else {
        writeln!(out, "f = {}", format_value(value))?;
        for (name, g) in f.var_names().iter().zip(gradient) {
            writeln!(out, "df/d{name} = {}", format_value(*g))?;
        }
        if let Some(h) = &sparse {
            write_entries(out, f.vars(), h)?;
        } else if args.hessian {
            write_matrix(out, f.vars(), &hessian)?;
        }
        for i in 0..m {
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
                rows.texts[i],
                rows.kinds[i].relation()
            )?;
            if let Some(row) = g_gradients.get(i) {
                for (name, d) in f.var_names().iter().zip(row.iter()) {
                    writeln!(out, "dg{}/d{name} = {}", i + 1, format_value(*d))?;
                }
            }
        }
    }

    match not_finite {
        None => Ok(0),
        Some(e) => {
            err.write_all(e.render(&source.text, &source.origin).as_bytes())?;
            Ok(1)
        }
    }
}

/// The most variables whose Hessian `eval` prints as a table; past them
/// an indexed formula's prints entry by entry.
const MAX_TABLE_VARS: usize = 20;

/// A sparse Hessian's lower triangle, one entry a line as row, column and
/// value (`x[2] x[1] -480`), in the pattern's order; entries not listed
/// are 0 (and those above the diagonal mirror those below).
fn write_entries(
    out: &mut dyn Write,
    vars: &[String],
    h: &slope::SparseHessian,
) -> std::io::Result<()> {
    let n = vars.len();
    writeln!(
        out,
        "hessian (lower triangle, {} of {n}×{n} entries; the others are 0):",
        h.values.len()
    )?;
    for (i, j, v) in h.entries() {
        writeln!(out, "  {} {} {}", vars[i], vars[j], format_value(v))?;
    }
    Ok(())
}

/// The constraints one row at a time (a family has one per index tuple):
/// kind, text, value and, under `--grad`, gradient.
struct ConstraintRows {
    kinds: Vec<ConstraintKind>,
    texts: Vec<String>,
    values: Vec<f64>,
    gradients: Vec<Vec<f64>>,
}

/// Most entries of the dense constraint gradients `eval --grad` prints.
const MAX_PRINTED_ENTRIES: usize = 10_000_000;

/// The rows of `f`'s constraints at `x`: for constraints that are single
/// nodes, from `computed` (their values, then their gradients if `grad`);
/// otherwise (families, arrays) by [`Formula::constraint_values`].
fn constraint_rows(
    f: &Formula,
    x: &[f64],
    computed: &[f64],
    grad: bool,
) -> slope::Result<ConstraintRows> {
    let n = f.n_vars();
    if f.constraints().iter().all(|c| c.is_scalar()) {
        let m = f.constraints().len();
        return Ok(ConstraintRows {
            kinds: f.constraints().iter().map(|c| c.kind).collect(),
            texts: (0..m).map(|i| constraint_text(f, i)).collect(),
            values: computed[..m].to_vec(),
            gradients: (computed[m..].chunks(n.max(1)))
                .take(if grad { m } else { 0 })
                .map(<[f64]>::to_vec)
                .collect(),
        });
    }
    let c = f.constraint_values(x)?;
    if grad && c.rows.len().saturating_mul(n) > MAX_PRINTED_ENTRIES {
        return Err(Error::new(
            ErrorKind::Usage,
            format!(
                "--grad would print {} constraint rows of {n} partial derivatives each",
                c.rows.len()
            ),
        )
        .with_hint("leave out --grad, or use a smaller --set"));
    }
    let gradients = match grad {
        false => Vec::new(),
        true => (c.gradients.iter())
            .map(|row| {
                let mut dense = vec![0.0; n];
                for &(j, d) in row {
                    dense[j] = d;
                }
                dense
            })
            .collect(),
    };
    Ok(ConstraintRows {
        kinds: (c.rows.iter())
            .map(|r| f.constraints()[r.statement].kind)
            .collect(),
        texts: c.rows.iter().map(|r| constraint_row_text(f, r)).collect(),
        values: c.values,
        gradients,
    })
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
