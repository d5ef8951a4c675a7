//! Why the first pass of a fit failed at its start: a square's weight
//! negative in some row, the first row where a residual or a derivative
//! is not finite (and the operation that went wrong there), or a sum of
//! squares beyond the range of a double; each an error that names the row.

use super::{Form, Model, Rows};
use crate::error::{Error, ErrorKind, Span};
use crate::graph::{Node, NodeId};

impl Model {
    /// Why the first pass at `start` failed: a square's weight negative in
    /// some row (its root is NaN), the first row where a residual or a
    /// derivative is not finite and the operation that went wrong there,
    /// or, every value finite, a sum of squares beyond the range of a
    /// double. The data are finite (checked before).
    pub(super) fn not_finite_at(&self, start: &[f64], problem: &Rows) -> Error {
        let predictors = &problem.eval.predictors;
        let mut point = start.to_vec();
        point.extend(std::iter::repeat_n(0.0, predictors.len()));
        let k = problem.scales.len();
        // Each square's weights, with where the square is written.
        let weights: Vec<(Option<Span>, NodeId)> = match &self.form {
            Form::Response(_) => Vec::new(),
            Form::Squares(families) => families
                .iter()
                .flat_map(|family| family.weights.iter().map(|&w| (family.span, w)))
                .collect(),
        };
        let mut nodes = self.outputs.clone();
        nodes.extend(weights.iter().map(|&(_, w)| w));
        // The largest residual, and its row, for a sum that overflows.
        let mut largest = (0.0_f64, 0);
        for i in 0..problem.eval.rows {
            for (c, column) in predictors.iter().enumerate() {
                point[start.len() + c] = column[i];
            }
            let values = self.formula.eval_nodes(&nodes, &point);
            let row = i + 1;
            let weight_values = &values[self.outputs.len()..];
            if let Some(at) = weight_values.iter().position(|&w| w < 0.0) {
                return self.negative_weight(weights[at], weight_values[at], row);
            }
            let values = &values[..self.outputs.len()];
            if values.iter().all(|v| v.is_finite()) {
                let sigma = problem.w.map_or(1.0, |w| w[i]);
                for f in 0..k {
                    let r = match problem.y {
                        Some(y) => y[i] - values[0],
                        None => values[f] * problem.scales[f],
                    };
                    if (r * sigma).abs() > largest.0 {
                        largest = ((r * sigma).abs(), row);
                    }
                }
                continue;
            }
            let bad_value = values[..k].iter().position(|v| !v.is_finite());
            let what = match (&self.form, bad_value) {
                (Form::Response(_), Some(_)) => {
                    format!("the model is {} at the start in row {row}", values[0])
                }
                (Form::Response(_), None) => {
                    format!("the model's derivative is not finite at the start in row {row}")
                }
                (Form::Squares(_), Some(f)) if k == 1 => {
                    format!("the residual is {} at the start in row {row}", values[f])
                }
                (Form::Squares(_), Some(f)) => format!(
                    "residual {} of {k} is {} at the start in row {row}",
                    f + 1,
                    values[f]
                ),
                (Form::Squares(_), None) => {
                    format!("a residual's derivative is not finite at the start in row {row}")
                }
            };
            let cause = self
                .formula
                .diagnose(&self.outputs, &point)
                .map(|e| format!(": {}", e.message))
                .unwrap_or_default();
            return Error::new(ErrorKind::NotFinite, format!("{what}{cause}"))
                .with_hint("start from values where the model is defined in every row");
        }
        let (size, row) = largest;
        let error = Error::new(
            ErrorKind::NotFinite,
            format!(
                "the sum of squared residuals overflows at the start: the residual of row \
                 {row} is {size:e}, and the sum of squares leaves the range of a double \
                 (about 1.8e308)"
            ),
        );
        // Whose fault: the data's, if the response is that large too; the
        // start's, if the model's value dwarfs the response (`exp(a*t)`
        // from a = 80 against y ≈ 3).
        let response = problem.y.map(|y| {
            y.iter()
                .enumerate()
                .map(|(i, v)| (v * problem.w.map_or(1.0, |w| w[i])).abs())
                .fold(0.0_f64, f64::max)
        });
        match response {
            Some(largest_y) if size > 1e6 * largest_y => error.with_hint(format!(
                "the start is far off: the residuals reach {size:.3e} where the \
                 response is at most {largest_y:.3e}; start nearer the data"
            )),
            _ => error.with_hint(
                "scale the data: divide the response (and the model) by a power of ten, so \
                 that the residuals are well below 1e150",
            ),
        }
    }

    /// "A square's weight is negative": `weight` is where the square is
    /// written and the node of the weight, named by its column if it is
    /// one.
    fn negative_weight(&self, weight: (Option<Span>, NodeId), value: f64, row: usize) -> Error {
        let (span, node) = weight;
        let p = self.params.len();
        let name = match self.formula.graph().node(node) {
            Node::Var(v) if *v as usize >= p => {
                format!(" '{}'", self.predictors[*v as usize - p])
            }
            _ => String::new(),
        };
        let place = match span {
            Some(span) => {
                let (line, col) = span.line_col(self.formula.source());
                format!(" of the square at {line}:{col}")
            }
            None => String::new(),
        };
        Error::new(
            ErrorKind::Usage,
            format!(
                "the weight{name}{place} is {value} in row {row}: a weight must not be negative"
            ),
        )
        .with_hint(
            "a weight multiplies a squared residual, w*(y - m)^2 with w = 1/sigma^2: \
             fix or drop the row",
        )
    }
}
