//! One module per subcommand.

pub(crate) mod bench;
mod bench_logins;
mod bench_purge;
mod bench_reads;
mod bench_slow;
mod bench_ws;
pub(crate) mod decode;
pub(crate) mod device;
pub(crate) mod export;
pub(crate) mod serve;
pub(crate) mod simulate;
pub(crate) mod token;
pub(crate) mod user;
