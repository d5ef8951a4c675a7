//! Checks shared by the fuzz targets, and the generator of grammar-shaped
//! formulas they run on. Each check panics (which the fuzzer reports as a
//! crash) when slope breaks one of its promises.

use arbitrary::{Result, Unstructured};
use slope::jit::Compiled;
use slope::{Formula, NodeId, Options};

#[path = "../../shared/range.rs"]
mod range;
#[path = "../../shared/rounding.rs"]
mod rounding;

/// Parsing arbitrary bytes never panics; an error's span lies within the
/// text and the error renders; a formula that parses can be differentiated
/// and printed.
pub fn check_parse(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Formula::parse(text) {
        Ok(f) => {
            // Keep the work per input small: the derivative of a long
            // input is the pipeline target's business.
            if f.graph().len() < 2_000 {
                let grad = f.gradient().to_vec();
                for node in grad {
                    let _ = f.to_slope(node);
                }
            }
        }
        Err(e) => {
            if let Some(span) = e.span {
                let range = span.range();
                assert!(
                    range.start <= range.end && range.end <= text.len(),
                    "span {range:?} outside a text of {} bytes: {e:?}",
                    text.len()
                );
            }
            let rendered = e.render(text, "<fuzz>");
            assert!(rendered.starts_with("error: "), "{rendered}");
        }
    }
}

/// A formula in the language, generated from the fuzzer's bytes, with the
/// points to evaluate it at.
#[derive(Debug)]
pub struct Case {
    pub text: String,
    pub points: Vec<[f64; 4]>,
}

const VARS: [&str; 4] = ["x", "y", "z", "w"];
const CALL1: [&str; 23] = [
    "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "asinh", "acosh", "atanh",
    "exp", "ln", "log", "log2", "log10", "sqrt", "cbrt", "abs", "sign", "floor", "ceil",
];
const CALL2: [&str; 5] = ["min", "max", "pow", "atan2", "hypot"];
const NUMBERS: [&str; 16] = [
    "0", "1", "2", "3", "10", "0.5", ".5", "3.", "2.5", "1e-3", "6.02E+23", "1e2", "0.1", "pi",
    "e", "1e-300",
];
/// Points where the functions of the language change behaviour.
const SPECIAL: [f64; 16] = [
    0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.0, -2.0, 3.7, -1e-8, 1e-300, 1e8, 710.0, -745.0, 1e300, 0.25,
];

impl Case {
    pub fn build(u: &mut Unstructured) -> Result<Case> {
        let mut names: Vec<String> = VARS.iter().map(|v| v.to_string()).collect();
        let mut text = String::new();
        let lets = u.int_in_range(0..=3)?;
        for k in 0..lets {
            let body = expr(u, &names, 4)?;
            let name = format!("d{k}");
            let sep = if u.ratio(1, 4)? { "; " } else { "\n" };
            text.push_str(&format!("let {name} = {body}{sep}"));
            if u.ratio(1, 8)? {
                text.push_str("# a comment\n");
            }
            names.push(name);
        }
        text.push_str(&expr(u, &names, 6)?);
        let n_points = u.int_in_range(1..=3)?;
        let mut points = Vec::new();
        for _ in 0..n_points {
            let mut p = [0.0; 4];
            for v in &mut p {
                *v = if u.ratio(1, 4)? {
                    let r: f64 = u.arbitrary()?;
                    if r.is_finite() { r } else { 1.5 }
                } else {
                    *u.choose(&SPECIAL)?
                };
            }
            points.push(p);
        }
        Ok(Case { text, points })
    }
}

/// An expression of at most `depth` levels over `names`. Unparenthesised
/// operands are produced on purpose: they test precedence, and the parse
/// may then fail, which is fine (that input is then simply skipped).
fn expr(u: &mut Unstructured, names: &[String], depth: u32) -> Result<String> {
    if depth == 0 || u.ratio(1, 4)? {
        return leaf(u, names);
    }
    let d = depth - 1;
    let bare = u.ratio(1, 6)?;
    let wrap = |s: String| if bare { s } else { format!("({s})") };
    Ok(match u.int_in_range(0..=8)? {
        0..=2 => {
            let op = *u.choose(&["+", "-", "*", "/"])?;
            let (a, b) = (expr(u, names, d)?, expr(u, names, d)?);
            wrap(format!("{a} {op} {b}"))
        }
        3 => {
            let op = *u.choose(&["^", "**"])?;
            let a = expr(u, names, d)?;
            let b = match u.int_in_range(0..=3)? {
                0 => u
                    .choose(&["2", "3", "-1", "-2", "0.5", "(1/3)", "0", "-0.5"])?
                    .to_string(),
                1 => leaf(u, names)?,
                _ => format!("({})", expr(u, names, d)?),
            };
            wrap(format!("({a}){op}{b}"))
        }
        4 | 5 => {
            let f = u.choose(&CALL1)?;
            format!("{f}({})", expr(u, names, d)?)
        }
        6 => {
            let f = u.choose(&CALL2)?;
            format!("{f}({}, {})", expr(u, names, d)?, expr(u, names, d)?)
        }
        7 => wrap(format!("-{}", expr(u, names, d)?)),
        _ => format!("+({})", expr(u, names, d)?),
    })
}

fn leaf(u: &mut Unstructured, names: &[String]) -> Result<String> {
    Ok(if u.ratio(2, 3)? {
        u.choose(names)?.clone()
    } else {
        u.choose(&NUMBERS)?.to_string()
    })
}

/// Compiled and interpreted results agree: both NaN, equal, or within a few
/// ulps (1e-13 relative near zero, where ulps are tiny).
pub fn agree(compiled: f64, interpreted: f64) -> bool {
    if compiled.is_nan() || interpreted.is_nan() {
        return compiled.is_nan() && interpreted.is_nan();
    }
    if compiled == interpreted {
        return true;
    }
    let ulps = (compiled.to_bits() as i64)
        .wrapping_sub(interpreted.to_bits() as i64)
        .unsigned_abs();
    let relative = (compiled - interpreted).abs() / compiled.abs().max(interpreted.abs());
    compiled.signum() == interpreted.signum() && (ulps <= 4 || relative <= 1e-13)
}

/// Above this many nodes the Hessian is skipped, to keep each run short.
const HESSIAN_NODES: usize = 3_000;

/// Value, gradient and (for small graphs) Hessian: compiled == interpreted.
pub fn check_pipeline(case: &Case) {
    let Ok(mut f) = Formula::parse(&case.text) else {
        return;
    };
    let n = f.vars().len();
    let mut outputs = vec![f.value()];
    outputs.extend_from_slice(f.gradient());
    if f.graph().len() < HESSIAN_NODES && n <= 4 {
        // A small graph's Hessian is within the default node limit.
        let rows: Vec<NodeId> = match f.hessian() {
            Ok(h) => h.into_iter().flatten().collect(),
            Err(e) => panic!("{:?}: the Hessian is refused: {e:?}", case.text),
        };
        outputs.extend(rows);
    }
    let compiled = match Compiled::compile(f.graph(), &outputs, n) {
        Ok(c) => c,
        Err(e) => panic!("{:?} does not compile: {e:?}", case.text),
    };
    let mut out = vec![0.0; outputs.len()];
    for p in &case.points {
        let x = &p[..n];
        compiled.call(x, &mut out);
        let reference = f.eval_nodes(&outputs, x);
        for (k, (&got, &want)) in out.iter().zip(&reference).enumerate() {
            assert!(
                agree(got, want),
                "{:?} at {x:?}: output {k} compiled {got:e}, interpreted {want:e}",
                case.text
            );
        }
        if !reference.iter().all(|v| v.is_finite()) {
            // The diagnosis must name an operation, not panic.
            let _ = f.diagnose(&outputs, x);
        }
    }
}

/// Every printed value and partial parses back (with the same variables) to
/// the same values, up to the rounding either form may carry; printing the
/// parsed text again gives the same text.
pub fn check_roundtrip(case: &Case) {
    let Ok(f) = Formula::parse(&case.text) else {
        return;
    };
    let vars = f.vars().to_vec();
    let n = vars.len();
    let mut nodes = vec![f.value()];
    nodes.extend_from_slice(f.gradient());
    let options = Options {
        vars: Some(vars.clone()),
        ..Options::default()
    };
    for (k, &node) in nodes.iter().enumerate() {
        let Ok(printed) = f.to_slope(node) else {
            continue;
        };
        let _ = f.to_latex(node);
        let back = match Formula::parse_with(&printed, &options) {
            Ok(back) => back,
            Err(e) => panic!(
                "output {k} of {:?} printed as {printed:?} does not parse: {e:?}",
                case.text
            ),
        };
        assert_eq!(back.vars(), vars.as_slice());
        let again = back
            .to_slope(back.value())
            .expect("a parsed formula prints");
        assert_eq!(
            printed, again,
            "output {k} of {:?} is not a fixed point of print-parse",
            case.text
        );
        for p in &case.points {
            let x = &p[..n];
            let a = f.eval_nodes(&[node], x)[0];
            let b = back.eval(x);
            let bound = rounding_bound(&f, node, x) + rounding_bound(&back, back.value(), x);
            assert!(
                same(a, b) || (a - b).abs() <= 4.0 * bound || bound == f64::INFINITY,
                "output {k} of {:?} printed as {printed:?}: {a:e} at {x:?}, printed form {b:e}",
                case.text
            );
        }
    }
}

/// Equal to within a few ulps, or both not finite.
fn same(a: f64, b: f64) -> bool {
    if !a.is_finite() || !b.is_finite() {
        return !a.is_finite() && !b.is_finite();
    }
    a == b || (a - b).abs() <= 1e-12 * a.abs().max(b.abs()) || (a - b).abs() < 1e-300
}

/// The rounding bound of [`rounding::rounding_bound`], which here gives up
/// where an operation leaves the range of doubles (an overflow or
/// underflow bounds nothing); a later operation may bound the error again.
fn rounding_bound(f: &Formula, node: NodeId, x: &[f64]) -> f64 {
    rounding::rounding_bound(f, node, x, &|op, value, operands, _| {
        range::left_range(op, value, operands)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_formulas_mostly_parse() {
        let mut parsed = 0;
        for seed in 0..200u32 {
            let bytes: Vec<u8> = (0..512u32)
                .map(|i| (i.wrapping_mul(2654435761).wrapping_add(seed * 97) >> 7) as u8)
                .collect();
            let case = Case::build(&mut Unstructured::new(&bytes)).unwrap();
            if Formula::parse(&case.text).is_ok() {
                parsed += 1;
            }
            check_pipeline(&case);
            check_roundtrip(&case);
        }
        assert!(
            parsed > 100,
            "only {parsed} of 200 generated formulas parse"
        );
    }
}
