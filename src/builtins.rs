//! The language's reserved names: functions with their arity, and the constants.
//!
//! One table serves the parser (arity checks, "did you mean"), the graph
//! (`Func` inside call nodes), the printers (names) and the evaluators.

/// A function of the language that stays a call node in the graph.
///
/// `sqrt`, `pow` and `e^x` are not here: the lowering turns them into power
/// nodes (`x^0.5`, `x^y`) and `exp(x)`, so that powers collect and print tidily.
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum Func {
    Sin,
    Cos,
    Tan,
    Asin,
    Acos,
    Atan,
    Sinh,
    Cosh,
    Tanh,
    Asinh,
    Acosh,
    Atanh,
    Exp,
    Ln,
    Log2,
    Log10,
    Cbrt,
    Abs,
    Sign,
    Floor,
    Ceil,
    Min,
    Max,
    Atan2,
    Hypot,
    /// `a*ln(b)`, and 0 where `a` is 0 (as scipy's `xlogy`). Not a name
    /// the parser knows: the differentiator writes it for the derivative of
    /// `b^e` in `e`, `b^e*ln(b)`, whose limit at `b = 0` (for `e > 0`) is 0
    /// where the plain product is `0*(-inf)`, NaN. It prints as `a*ln(b)`.
    Xlogy,
}

/// Where a function's derivative jumps: the places a finite difference
/// must not straddle, since there it measures the jump, not the derivative.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum Kink {
    /// Where the argument changes sign (`abs`, `sign`).
    ArgumentSign,
    /// Wherever the value changes (`floor`, `ceil`: constant between
    /// integers, stepping at them).
    Step,
    /// Where the two arguments cross (`min`, `max`).
    Crossing,
    /// `atan2(y, x)`: its branch cut, where `y` changes sign with `x < 0`,
    /// and the origin.
    BranchCut,
}

/// What a name written before `(` stands for.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum Callee {
    Func(Func),
    /// `sqrt(x)`, lowered to `x^0.5`.
    Sqrt,
    /// `pow(x, y)`, lowered to `x^y`.
    Pow,
}

impl Func {
    pub const ALL: [Func; 25] = [
        Func::Sin,
        Func::Cos,
        Func::Tan,
        Func::Asin,
        Func::Acos,
        Func::Atan,
        Func::Sinh,
        Func::Cosh,
        Func::Tanh,
        Func::Asinh,
        Func::Acosh,
        Func::Atanh,
        Func::Exp,
        Func::Ln,
        Func::Log2,
        Func::Log10,
        Func::Cbrt,
        Func::Abs,
        Func::Sign,
        Func::Floor,
        Func::Ceil,
        Func::Min,
        Func::Max,
        Func::Atan2,
        Func::Hypot,
    ];

    /// The name the printer writes (the parser also accepts `log` for `ln`).
    pub fn name(self) -> &'static str {
        match self {
            Func::Sin => "sin",
            Func::Cos => "cos",
            Func::Tan => "tan",
            Func::Asin => "asin",
            Func::Acos => "acos",
            Func::Atan => "atan",
            Func::Sinh => "sinh",
            Func::Cosh => "cosh",
            Func::Tanh => "tanh",
            Func::Asinh => "asinh",
            Func::Acosh => "acosh",
            Func::Atanh => "atanh",
            Func::Exp => "exp",
            Func::Ln => "ln",
            Func::Log2 => "log2",
            Func::Log10 => "log10",
            Func::Cbrt => "cbrt",
            Func::Abs => "abs",
            Func::Sign => "sign",
            Func::Floor => "floor",
            Func::Ceil => "ceil",
            Func::Min => "min",
            Func::Max => "max",
            Func::Atan2 => "atan2",
            Func::Hypot => "hypot",
            Func::Xlogy => "xlogy",
        }
    }

    pub fn arity(self) -> usize {
        match self {
            Func::Sin
            | Func::Cos
            | Func::Tan
            | Func::Asin
            | Func::Acos
            | Func::Atan
            | Func::Sinh
            | Func::Cosh
            | Func::Tanh
            | Func::Asinh
            | Func::Acosh
            | Func::Atanh
            | Func::Exp
            | Func::Ln
            | Func::Log2
            | Func::Log10
            | Func::Cbrt
            | Func::Abs
            | Func::Sign
            | Func::Floor
            | Func::Ceil => 1,
            Func::Min | Func::Max | Func::Atan2 | Func::Hypot | Func::Xlogy => 2,
        }
    }

    /// Where the derivative jumps, if it does inside the domain. Points
    /// where the derivative is not finite (`ln` at 0, `asin` at ±1, `cbrt`
    /// at 0) are not kinks.
    pub fn kink(self) -> Option<Kink> {
        match self {
            Func::Abs | Func::Sign => Some(Kink::ArgumentSign),
            Func::Floor | Func::Ceil => Some(Kink::Step),
            Func::Min | Func::Max => Some(Kink::Crossing),
            Func::Atan2 => Some(Kink::BranchCut),
            Func::Sin
            | Func::Cos
            | Func::Tan
            | Func::Asin
            | Func::Acos
            | Func::Atan
            | Func::Sinh
            | Func::Cosh
            | Func::Tanh
            | Func::Asinh
            | Func::Acosh
            | Func::Atanh
            | Func::Exp
            | Func::Ln
            | Func::Log2
            | Func::Log10
            | Func::Cbrt
            | Func::Hypot
            | Func::Xlogy => None,
        }
    }

    /// The function applied to one argument, as both evaluators compute it.
    pub fn apply1(self, x: f64) -> f64 {
        match self {
            Func::Sin => x.sin(),
            Func::Cos => x.cos(),
            Func::Tan => x.tan(),
            Func::Asin => x.asin(),
            Func::Acos => x.acos(),
            Func::Atan => x.atan(),
            Func::Sinh => x.sinh(),
            Func::Cosh => x.cosh(),
            Func::Tanh => x.tanh(),
            Func::Asinh => asinh(x),
            Func::Acosh => acosh(x),
            Func::Atanh => atanh(x),
            Func::Exp => x.exp(),
            Func::Ln => x.ln(),
            Func::Log2 => x.log2(),
            Func::Log10 => x.log10(),
            Func::Cbrt => x.cbrt(),
            Func::Abs => x.abs(),
            Func::Sign => sign(x),
            Func::Floor => x.floor(),
            Func::Ceil => x.ceil(),
            Func::Min | Func::Max | Func::Atan2 | Func::Hypot | Func::Xlogy => f64::NAN,
        }
    }

    /// The function applied to two arguments, as both evaluators compute it.
    pub fn apply2(self, a: f64, b: f64) -> f64 {
        match self {
            Func::Min => min(a, b),
            Func::Max => max(a, b),
            Func::Atan2 => a.atan2(b),
            Func::Hypot => a.hypot(b),
            Func::Xlogy => xlogy(a, b),
            _ => f64::NAN,
        }
    }
}

/// `a*ln(b)`, 0 where `a = 0` and `b` is not NaN: `0*ln(0)` is the limit
/// 0, and `0*ln(-1)` is 0 too, as in scipy's `xlogy` (a zero adjoint or
/// factor contributes nothing, whatever the other is).
pub fn xlogy(a: f64, b: f64) -> f64 {
    if a == 0.0 && !b.is_nan() {
        0.0
    } else {
        a * b.ln()
    }
}

/// `atanh(x)`, odd by construction (within 2 ulps of mpmath at the points
/// of `tests/it/reference.rs`).
///
/// Rust's `f64::atanh` is `0.5*ln_1p(2x/(1 - x))` for either sign: for
/// `x` near -1, `1 - x` rounds to 2 and the result loses up to `ln(2)/2`
/// (1.9% at `x = -1 + 2^-53`). Here the formula sees `|x|`, where `1 - |x|`
/// is exact (Sterbenz) for `|x| >= 0.5`; below 0.5, `2a/(1 - a)` is written
/// `2a + 2a^2/(1 - a)`, whose rounding of `1 - a` only touches the small
/// second term.
pub fn atanh(x: f64) -> f64 {
    let a = x.abs();
    let t = if a < 0.5 {
        2.0 * a + 2.0 * a * a / (1.0 - a)
    } else {
        2.0 * a / (1.0 - a)
    };
    (0.5 * t.ln_1p()).copysign(x)
}

/// `asinh(x)`: Rust's `f64::asinh` below 2^28, and `ln|x| + ln(2)` (with
/// the sign of `x`) above, where `1/(4x^2)` is below half an ulp of the
/// result: Rust's forms `|x| + |x|/(hypot(1, 1/x) + 1/x)`, which overflows
/// for `|x| > f64::MAX/2` (`asinh(f64::MAX)` was inf, not 710.5).
pub fn asinh(x: f64) -> f64 {
    let a = x.abs();
    if a < 268_435_456.0 {
        x.asinh()
    } else {
        (a.ln() + std::f64::consts::LN_2).copysign(x)
    }
}

/// `acosh(x)`, within 2 ulps of mpmath at the points of
/// `tests/it/reference.rs`, and finite up to `f64::MAX`.
///
/// Rust's `f64::acosh` is `ln(x + sqrt(x - 1)*sqrt(x + 1))`: just above 1
/// the sum rounds to `1 + ε` and `ln` of it keeps only the digits of `ε`
/// (4e-9 relative at `1 + 2^-52`), and `x + ...` overflows for
/// `x > f64::MAX/2`. Here, with `t = x - 1` (exact below 2):
/// `ln_1p(t + sqrt(2t + t^2))` below 2; `ln(2x - 1/(x + sqrt(x^2 - 1)))`
/// up to 2^28; and `ln(x) + ln(2)` above, where `1/(4x^2)` is below half an
/// ulp of the result.
pub fn acosh(x: f64) -> f64 {
    if x.is_nan() || x < 1.0 {
        return f64::NAN;
    }
    let t = x - 1.0;
    if x < 2.0 {
        (t + (2.0 * t + t * t).sqrt()).ln_1p()
    } else if x < 268_435_456.0 {
        (2.0 * x - 1.0 / (x + (x * x - 1.0).sqrt())).ln()
    } else {
        x.ln() + std::f64::consts::LN_2
    }
}

/// `sign(x)`: -1, 0 or 1, and NaN for NaN. `sign(-0) = 0`.
pub fn sign(x: f64) -> f64 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else if x == 0.0 {
        0.0
    } else {
        f64::NAN
    }
}

/// IEEE 754-2019 `minimum`: NaN if either is NaN, and `-0 < +0`.
///
/// Rust's `f64::min` ignores NaN; the compiled code uses the native
/// instruction with this rule, so the interpreter must use it too.
pub fn min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a < b {
        a
    } else if b < a {
        b
    } else if a.is_sign_negative() {
        a
    } else {
        b
    }
}

/// IEEE 754-2019 `maximum`: NaN if either is NaN, and `+0 > -0`.
pub fn max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a > b {
        a
    } else if b > a {
        b
    } else if a.is_sign_positive() {
        a
    } else {
        b
    }
}

/// `x^n` for an integer `n` by binary powering: the exact sequence of
/// multiplications the compiled code performs, so both agree to the bit.
/// Negative `n` powers the reciprocal `1/x`, so that no intermediate
/// overflows or underflows where `x^n` is representable. Only [`pow`]
/// calls it, and only for the exponents [`small_integer`] accepts, where
/// it is within 3 ulps.
pub fn powi(x: f64, n: i64) -> f64 {
    let mut k = n.unsigned_abs();
    let mut base = if n < 0 { 1.0 / x } else { x };
    let mut acc: Option<f64> = None;
    while k > 0 {
        if k & 1 == 1 {
            acc = Some(match acc {
                Some(a) => a * base,
                None => base,
            });
        }
        k >>= 1;
        if k > 0 {
            base *= base;
        }
    }
    acc.unwrap_or(1.0)
}

/// The exponent as an integer for [`powi`], if it is one of -3, ..., 4:
/// there binary powering is within 3 ulps of the true power (each
/// operation adds at most half an ulp of relative error, and a square
/// doubles what it receives: `x^4 = (x*x)^2` has 3 half-ulps, `x^-3 =
/// (1/x)^2 · (1/x)` 5; `x^-4` would have 7) and never overflows or
/// underflows on the way where the power is a normal number (a negative
/// power squares `1/x`, not `x`: `x^-2` at 1e155 is 1e-310, where
/// `(1e155)^2` would overflow). Other integer powers call `powf`, within
/// 1 ulp.
pub fn small_integer(e: f64) -> Option<i64> {
    (e.fract() == 0.0 && (-3.0..=4.0).contains(&e)).then_some(e as i64)
}

/// `x^y` with the language's rules: exponents -3 to 4 by multiplication,
/// `^0.5` as a square root, everything else by `powf`.
pub fn pow(x: f64, y: f64) -> f64 {
    if let Some(n) = small_integer(y) {
        powi(x, n)
    } else if y == 0.5 {
        x.sqrt()
    } else if y == -0.5 {
        1.0 / x.sqrt()
    } else {
        x.powf(y)
    }
}

/// The named constants.
pub const CONSTANTS: [(&str, f64); 2] = [("pi", std::f64::consts::PI), ("e", std::f64::consts::E)];

/// Every name the language reserves, for "did you mean" hints.
pub fn reserved_names() -> impl Iterator<Item = &'static str> {
    Func::ALL
        .iter()
        .map(|f| f.name())
        .chain(["log", "sqrt", "pow", "let"])
        .chain(CONSTANTS.iter().map(|(n, _)| *n))
}

/// What a name written before `(` calls, if it is a function.
pub fn callee(name: &str) -> Option<Callee> {
    match name {
        "sqrt" => Some(Callee::Sqrt),
        "pow" => Some(Callee::Pow),
        "log" => Some(Callee::Func(Func::Ln)),
        _ => Func::ALL
            .iter()
            .find(|f| f.name() == name)
            .map(|f| Callee::Func(*f)),
    }
}

impl Callee {
    pub fn arity(self) -> usize {
        match self {
            Callee::Func(f) => f.arity(),
            Callee::Sqrt => 1,
            Callee::Pow => 2,
        }
    }
}

pub fn constant(name: &str) -> Option<f64> {
    CONSTANTS.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}

/// The reserved or known name closest to `name`, if it is close enough to be
/// a likely typo (edit distance at most 2, and less than half the name).
pub fn suggest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let name = name.to_ascii_lowercase();
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        let d = edit_distance(&name, c);
        if d <= 2 && d * 2 < name.len().max(c.len()) && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn powi_matches_repeated_multiplication() {
        assert_eq!(powi(3.0, 5), 243.0);
        assert_eq!(powi(2.0, -2), 0.25);
        assert_eq!(powi(0.0, 0), 1.0);
        assert_eq!(powi(1.5, 1), 1.5);
    }

    #[test]
    fn powers_beyond_4_do_not_overflow_on_the_way() {
        // 2^1024 overflows, 2^-1024 is subnormal.
        assert_eq!(pow(2.0, -1024.0), f64::from_bits(1 << 50));
        assert_eq!(pow(0.5, 1030.0), 2f64.powi(-1030));
        assert_eq!(pow(1e160, -2.0), 1e-320);
        assert_eq!(pow(-2.0, 5.0), -32.0);
        assert_eq!(pow(-0.0, -3.0), f64::NEG_INFINITY);
        assert_eq!(small_integer(4.0), Some(4));
        assert_eq!(small_integer(-1.0), Some(-1));
        assert_eq!(small_integer(5.0), None);
        assert_eq!(small_integer(-3.0), Some(-3));
        assert_eq!(small_integer(-4.0), None);
        // A negative power squares 1/x: (1e155)^2 would overflow first.
        assert_eq!(pow(1e155, -2.0), 1e-310);
    }

    #[test]
    fn min_max_propagate_nan_and_order_zeros() {
        assert!(min(f64::NAN, 1.0).is_nan());
        assert!(max(1.0, f64::NAN).is_nan());
        assert!(min(0.0, -0.0).is_sign_negative());
        assert!(max(-0.0, 0.0).is_sign_positive());
    }

    #[test]
    fn suggestions_catch_typos_only() {
        assert_eq!(suggest("sinn", reserved_names()), Some("sin"));
        assert_eq!(suggest("sqr", reserved_names()), Some("sqrt"));
        assert_eq!(suggest("hello", reserved_names()), None);
    }
}
