//! One module per subcommand. Each takes its parsed arguments and returns `Result<(), Failure>`.

pub(crate) mod decode;
pub(crate) mod run;
pub(crate) mod validate;
