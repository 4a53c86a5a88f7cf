//! One module per subcommand. Each takes its parsed arguments and returns `Result<(), CliError>`; the
//! error's type decides the exit status.

pub(crate) mod broker;
pub(crate) mod decode;
pub(crate) mod dip;
pub(crate) mod env;
pub(crate) mod kafka;
pub(crate) mod plugin;
pub(crate) mod plugin_new;
pub(crate) mod proto;
pub(crate) mod record;
pub(crate) mod replay;
pub(crate) mod run;
pub(crate) mod serve;
pub(crate) mod tail;
pub(crate) mod validate;
pub(crate) mod verify;

/// `ecsim schema`: the scenario format's JSON Schema on stdout.
pub(crate) fn schema() -> Result<(), crate::exit::CliError> {
    use anyhow::Context as _;
    crate::say::stdout(&ecsim_scenario::schema::json_schema_text())
        .context("writing the schema to stdout")?;
    Ok(())
}
