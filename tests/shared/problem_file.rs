//! The problem files of `tests/data` (Hock–Schittkowski, Moré–Garbow–
//! Hillstrom and its bound-constrained variants): one problem a line,
//! `name | f* | start | bounds | formula`, `#` lines are comments. Shared by
//! the tests (`tests/it`) and the benchmark harness (`benches/mgh.rs`),
//! which are separate crates.

use slope::Formula;

/// One problem of a file.
pub struct Problem {
    pub name: String,
    /// The known minima, global first (one for most problems).
    pub fstars: Vec<f64>,
    pub start: Vec<(String, f64)>,
    pub bounds: Vec<(String, f64, f64)>,
    pub formula: String,
}

fn number(s: &str) -> f64 {
    match s.trim() {
        "inf" => f64::INFINITY,
        "-inf" => f64::NEG_INFINITY,
        s => s.parse().unwrap_or_else(|_| panic!("not a number: {s:?}")),
    }
}

/// `a=1,b=2` as pairs; `-` for none.
fn pairs(s: &str) -> Vec<(String, String)> {
    match s {
        "-" => Vec::new(),
        s => s
            .split(',')
            .map(|p| {
                let (k, v) = p
                    .split_once('=')
                    .unwrap_or_else(|| panic!("not k=v: {p:?}"));
                (k.trim().to_string(), v.trim().to_string())
            })
            .collect(),
    }
}

/// Every problem of `text`, in order.
pub fn parse(text: &str) -> Vec<Problem> {
    let lines = text.lines();
    lines
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            assert_eq!(cells.len(), 5, "{line}");
            Problem {
                name: cells[0].to_string(),
                fstars: cells[1].split(',').map(number).collect(),
                start: (pairs(cells[2]).into_iter())
                    .map(|(k, v)| (k, number(&v)))
                    .collect(),
                bounds: (pairs(cells[3]).into_iter())
                    .map(|(k, v)| {
                        let (lo, hi) = v.split_once(':').unwrap();
                        (k, number(lo), number(hi))
                    })
                    .collect(),
                formula: cells[4].to_string(),
            }
        })
        .collect()
}

impl Problem {
    /// Whether `f` is within 1e-6 of a listed minimum, relative to
    /// max(1, |f*|).
    pub fn reaches(&self, f: f64) -> bool {
        (self.fstars.iter()).any(|s| (f - s).abs() <= 1e-6 * s.abs().max(1.0))
    }

    /// The box, one (low, high) per variable of `f`, or None when there
    /// are no bounds.
    pub fn box_of(&self, f: &Formula) -> Option<Vec<(f64, f64)>> {
        if self.bounds.is_empty() {
            return None;
        }
        let mut b = vec![(f64::NEG_INFINITY, f64::INFINITY); f.vars().len()];
        for (name, lo, hi) in &self.bounds {
            let i = f.var_index(name);
            b[i.unwrap_or_else(|| panic!("{}: no variable {name}", self.name))] = (*lo, *hi);
        }
        Some(b)
    }
}
