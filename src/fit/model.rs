//! A model read from its text: `y ~ MODEL` or a sum of squared residuals
//! over the rows, its parameters, predictors and compiled residuals.

use super::*;

impl Model {
    /// Parses a model for data with the columns `columns`, in either form:
    ///
    /// - `y ~ MODEL`: the left side names the response column; in the
    ///   model, names that are columns are per-row values and every other
    ///   name is a parameter.
    /// - A formula whose value is a sum over the rows of squared residuals,
    ///   `data t, y` then `sum(i in 1..rows, (y[i] - a*exp(-b*t[i]))^2)`:
    ///   each square is a residual family (one residual per row: several
    ///   responses, residuals that are not `y − m`, `let r[i] = …`), a
    ///   positive constant or parameter-free factor is its weight squared,
    ///   and the formula's variables are the parameters. `slope min`
    ///   minimises the same formula to the same point.
    ///
    /// ```
    /// use slope::fit::{Model, Options};
    ///
    /// // Points on the ellipse x²/4 + y² = 1: a residual that is not y − m.
    /// let x = [2.0, 0.0, -2.0, 1.2, -1.0];
    /// let y = [0.0, 1.0, 0.0, 0.8, -0.866];
    /// let text = "data x, y
    ///             sum(i in 1..rows, (x[i]^2/a^2 + y[i]^2/b^2 - 1)^2)";
    /// let model = Model::new(text, &["x", "y"])?;
    /// let fit = model.fit(&[("x", &x[..]), ("y", &y[..])], &Options::default())?;
    /// assert!((fit.x[0].abs() - 2.0).abs() < 1e-2 && (fit.x[1].abs() - 1.0).abs() < 1e-2);
    /// # Ok::<(), slope::Error>(())
    /// ```
    pub fn new<S: AsRef<str>>(text: &str, columns: &[S]) -> Result<Model> {
        Model::with_limits(text, columns, &Limits::default())
    }

    /// [`Model::new`] within size limits.
    ///
    /// A column named as the language's constants, functions or keywords
    /// is an error (see [`crate::data`]): names that are columns are data,
    /// but a formula reads `e` as the constant, so `y ~ a*e` would fit
    /// the constant without a word.
    pub fn with_limits<S: AsRef<str>>(text: &str, columns: &[S], limits: &Limits) -> Result<Model> {
        let columns: Vec<&str> = columns.iter().map(AsRef::as_ref).collect();
        if let Some(e) = columns.iter().find_map(|c| crate::data::reserved_column(c)) {
            return Err(e);
        }
        match tilde(text) {
            Some(tilde) => Model::response_form(text, tilde, &columns, limits),
            None => Model::squares_form(text, &columns, limits),
        }
    }

    fn response_form(text: &str, tilde: usize, columns: &[&str], limits: &Limits) -> Result<Model> {
        let lhs = &text[..tilde];
        let response = lhs.trim();
        let lhs_span = Span::new(
            lhs.len() - lhs.trim_start().len(),
            lhs.trim_end().len().max(1),
        );
        if !is_identifier(response) {
            return Err(Error::new(
                ErrorKind::Syntax,
                format!("the left side of '~' must name a column, not '{response}'"),
            )
            .with_span(lhs_span)
            .with_hint("write y ~ MODEL, with y a column of the data"));
        }
        if !columns.contains(&response) {
            return Err(Error::new(
                ErrorKind::Usage,
                format!("the data have no column '{response}'"),
            )
            .with_span(lhs_span)
            .with_hint(format!("its columns are {}", quoted_list(columns))));
        }
        let offset = tilde + 1;
        let body = &text[offset..];
        let shift = |e: Error| shift_span(e, offset);
        let options = FormulaOptions {
            vars: None,
            limits: *limits,
            ..FormulaOptions::default()
        };
        let first = Formula::parse_with(body, &options).map_err(shift)?;
        let (predictors, params): (Vec<String>, Vec<String>) = first
            .vars()
            .iter()
            .cloned()
            .partition(|v| columns.contains(&v.as_str()));
        if predictors.iter().any(|p| p == response) {
            return Err(Error::new(
                ErrorKind::Usage,
                format!("the response '{response}' appears in the model too"),
            )
            .with_span(lhs_span));
        }
        if params.is_empty() {
            return Err(Error::new(
                ErrorKind::Usage,
                "the model has no parameter to fit: every name in it is a column",
            )
            .with_hint(format!("the data's columns are {}", quoted_list(columns))));
        }
        let order: Vec<String> = params.iter().chain(&predictors).cloned().collect();
        let options = FormulaOptions {
            vars: Some(order),
            limits: *limits,
            ..FormulaOptions::default()
        };
        let formula = Formula::parse_with(body, &options).map_err(shift)?;
        let mut outputs = vec![formula.value()];
        outputs.extend_from_slice(&formula.gradient()[..params.len()]);
        let code = RowCode::compile(formula.graph(), &outputs, params.len(), predictors.len())?;
        Ok(Model {
            form: Form::Response(response.to_string()),
            params,
            predictors,
            formula,
            outputs,
            code: Arc::new(code),
        })
    }

    fn squares_form(text: &str, columns: &[&str], limits: &Limits) -> Result<Model> {
        let options = FormulaOptions {
            limits: *limits,
            ..FormulaOptions::default()
        };
        let lowered = Formula::lower(text, &options)?;
        let squares = squares::recognise(&lowered, text, columns)?;
        let Squares {
            mut graph,
            params,
            predictors,
            families,
        } = squares;
        let (p, c) = (params.len(), predictors.len());
        let var_nodes: Vec<NodeId> = (0..(p + c) as u32).map(|v| graph.var(v)).collect();
        let mut partials = Vec::with_capacity(families.len() * p);
        for f in &families {
            let g = crate::diff::gradient_within(
                &mut graph,
                f.value,
                &var_nodes[..p],
                limits.max_nodes,
            )?;
            partials.extend(g);
        }
        let mut outputs: Vec<NodeId> = families.iter().map(|f| f.value).collect();
        outputs.extend(families.iter().map(|f| f.magnitude));
        let one = graph.constant(1.0);
        outputs.extend(families.iter().map(|f| f.response.map_or(one, |r| r.1)));
        outputs.extend(partials);
        // The formula of one row: Σ (scale·rₖ)², over the parameters and
        // then the columns.
        let squared: Vec<NodeId> = families
            .iter()
            .map(|f| {
                let r = graph.scale(f.scale, f.value);
                graph.powc(r, 2.0)
            })
            .collect();
        let value = graph.sum(&squared);
        let lowered = Lowered {
            graph,
            vars: params.iter().chain(&predictors).cloned().collect(),
            var_nodes,
            value,
            indexed: Default::default(),
            constraints: Vec::new(),
        };
        let formula = Formula::derive(text, lowered, limits)?;
        let code = RowCode::compile(formula.graph(), &outputs, p, c)?;
        Ok(Model {
            form: Form::Squares(families),
            params,
            predictors,
            formula,
            outputs,
            code: Arc::new(code),
        })
    }
}

/// The error of the model's text with its span moved from the model
/// (after `~`) to the whole text.
fn shift_span(mut e: Error, offset: usize) -> Error {
    e.span = e
        .span
        .map(|s| Span::new(s.start as usize + offset, s.end as usize + offset));
    e
}

/// Where the model's `~` is, if it is written `y ~ MODEL`: outside a
/// comment (`#` to the end of the line).
fn tilde(text: &str) -> Option<usize> {
    let mut start = 0;
    for line in text.split_inclusive('\n') {
        let code = line.split('#').next().unwrap_or("");
        if let Some(at) = code.find('~') {
            return Some(start + at);
        }
        start += line.len();
    }
    None
}
