//! One integration-test binary (each file under tests/ would link the crate
//! and Cranelift again).

mod bad_input;
mod bounds;
mod check;
mod cli;
mod cli_conventions;
mod clusters;
mod constraints;
mod data_messages;
mod elements;
mod expanded;
mod families;
mod fit;
mod fit_squares;
mod indexed;
mod indexed_commands;
mod indexed_props;
mod indexed_saddles;
mod language;
mod limits;
mod mgh;
mod mgh_indexed;
mod mgh_newton;
mod min;
mod native;
mod newton_cg;
mod nist;
mod plot;
mod precision;
#[path = "../shared/problem_file.rs"]
mod problem_file;
mod product_gradient;
mod product_hessian;
mod properties;
#[path = "../shared/range.rs"]
mod range;
mod reference;
#[path = "../shared/rounding.rs"]
mod rounding;
mod run;
mod saddle;
mod stopped_short;
mod table;
