//! The allowances the print round-trip checks make beyond rounding,
//! shared by the properties (`tests/it`) and the fuzz oracle (`tests/fuzz`),
//! which are separate crates.

use slope::Node;

/// Whether `node`, evaluating to `value` from `operands`, left the range of
/// doubles: a sum, product or power of finite operands that overflowed (a
/// power of zero is a pole, not an overflow), or a product or power of
/// finite non-zero operands that underflowed to a subnormal or zero. Two
/// forms of one function may then differ without bound: at x = 0, `c*c*x`
/// is NaN (inf*0) if `c*c` overflows, while `x*c*c` is 0; at y = 1e300,
/// `1e-300*x^104*y` is 0 or not depending on which product comes first.
///
/// Also `xlogy(0, b)` for `b <= 0` or `b = ∞` (`0^y` at y < 0): it is 0
/// where the form it prints as, `0*ln(b)`, takes `ln(b)` outside the
/// doubles' range (−∞, ∞ or NaN).
pub fn left_range(node: &Node, value: f64, operands: &[f64]) -> bool {
    if let Node::Call2(slope::builtins::Func::Xlogy, _) = node {
        return operands[0] == 0.0 && !operands[1].ln().is_finite();
    }
    if !operands.iter().all(|o| o.is_finite()) {
        return false;
    }
    let underflowed = value.abs() < f64::MIN_POSITIVE && operands.iter().all(|&o| o != 0.0);
    match node {
        Node::Sum(_) => !value.is_finite(),
        Node::Product(_) => !value.is_finite() || underflowed,
        Node::Pow(_) => (value.is_infinite() && operands[0] != 0.0) || underflowed,
        _ => false,
    }
}
