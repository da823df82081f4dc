//! `trackd`: the binary. Parses the command line and configuration, then
//! hands over to the library crates.

mod cmd;
mod config;
mod envargs;
mod logging;
mod timearg;

use clap::{CommandFactory, Parser, Subcommand};

/// Self-hosted, privacy-first vehicle tracking server.
#[derive(Parser)]
#[command(name = "trackd", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server: device listeners and the HTTP API.
    Serve(Box<cmd::serve::ServeArgs>),
    /// Decode one device frame and print its positions as JSON lines.
    Decode(cmd::decode::DecodeArgs),
    /// The device registry.
    #[command(subcommand)]
    Device(cmd::device::DeviceCommand),
    /// User accounts.
    #[command(subcommand)]
    User(cmd::user::UserCommand),
    /// API tokens.
    #[command(subcommand)]
    Token(cmd::token::TokenCommand),
    /// Export stored data.
    #[command(subcommand)]
    Export(cmd::export::ExportCommand),
    /// Drive a fleet of virtual Teltonika trackers against a server.
    Simulate(cmd::simulate::SimulateArgs),
    /// Benchmarks for the figures in docs/BENCHMARKS.md.
    #[command(subcommand)]
    Bench(cmd::bench::BenchCommand),
}

fn main() -> std::process::ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => envargs::exit_naming_the_variable(err, &Cli::command()),
    };
    let result = match cli.command {
        // Decoding is synchronous and must not pay for a runtime.
        Command::Decode(args) => cmd::decode::run(args),
        command => run_async(command),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        // `trackd export ... | head`: the reader left, which is not an error.
        Err(err) if is_broken_pipe(&err) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Whether writing stdout failed because its reader closed the pipe.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        let kind = cause
            .downcast_ref::<std::io::Error>()
            .map(std::io::Error::kind)
            .or_else(|| {
                cause
                    .downcast_ref::<serde_json::Error>()
                    .and_then(serde_json::Error::io_error_kind)
            });
        kind == Some(std::io::ErrorKind::BrokenPipe)
    })
}

fn run_async(command: Command) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match command {
            Command::Serve(args) => cmd::serve::run(*args).await,
            Command::Device(command) => cmd::device::run(command).await,
            Command::Export(command) => cmd::export::run(command).await,
            Command::User(command) => cmd::user::run(command).await,
            Command::Token(command) => cmd::token::run(command).await,
            Command::Simulate(args) => cmd::simulate::run(args).await,
            Command::Bench(command) => cmd::bench::run(command).await,
            Command::Decode(_) => unreachable!("decode runs without a runtime"),
        }
    })
}
