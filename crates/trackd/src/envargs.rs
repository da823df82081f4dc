//! Command-line errors about values that came from `TRACKD_*` environment
//! variables: clap names the flag, which the user never typed, so the
//! message is rewritten to name the variable.

use clap::error::{ContextKind, ContextValue, ErrorKind};

/// Prints `err` (naming the environment variable when the bad value came
/// from one) and exits as clap would.
pub(crate) fn exit_naming_the_variable(err: clap::Error, command: &clap::Command) -> ! {
    if let Some(message) = from_environment(&err, command, |name| std::env::var(name).ok()) {
        eprintln!("error: {message}");
        std::process::exit(2);
    }
    err.exit()
}

/// The rewritten message, when the invalid value is the one an environment
/// variable holds and the flag is not on the command line.
fn from_environment(
    err: &clap::Error,
    command: &clap::Command,
    env: impl Fn(&str) -> Option<String>,
) -> Option<String> {
    if err.kind() != ErrorKind::ValueValidation && err.kind() != ErrorKind::InvalidValue {
        return None;
    }
    let ContextValue::String(value) = err.get(ContextKind::InvalidValue)? else {
        return None;
    };
    let ContextValue::String(flag) = err.get(ContextKind::InvalidArg)? else {
        return None;
    };
    let typed: Vec<String> = std::env::args().collect();
    let arg = all_args(command).into_iter().find(|arg| {
        arg.get_env().is_some()
            && arg.get_long().is_some_and(|long| {
                flag.starts_with(&format!("--{long} ")) || flag == &format!("--{long}")
            })
    })?;
    let long = arg.get_long()?;
    if typed
        .iter()
        .any(|t| t == &format!("--{long}") || t.starts_with(&format!("--{long}=")))
    {
        return None;
    }
    let name = arg.get_env()?.to_str()?;
    if env(name).as_deref() != Some(value.as_str()) {
        return None;
    }
    let reason = std::error::Error::source(err)
        .map(|source| format!(": {source}"))
        .unwrap_or_default();
    Some(format!(
        "invalid value {value:?} in environment variable {name}{reason}"
    ))
}

fn all_args(command: &clap::Command) -> Vec<&clap::Arg> {
    let mut args: Vec<&clap::Arg> = command.get_arguments().collect();
    for sub in command.get_subcommands() {
        args.extend(all_args(sub));
    }
    args
}
