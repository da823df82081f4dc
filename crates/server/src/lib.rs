//! The running trackd server: device ingest, the read path, the HTTP API.
//!
//! Data enters through [`ingest`] (raw device bytes over TCP, UDP or HTTP),
//! is decoded by `trackd_protocols`, committed by `trackd_store`, and only
//! then acknowledged to the device and published on the [`live`] bus.
//! Every read of personal data goes through [`access`]. Everything here is
//! tokio; protocol logic and SQL live in their own crates.

pub mod access;
pub mod api;
pub mod auth;
mod config;
mod fd_limit;
mod http_conn;
pub(crate) mod ingest;
mod listen;
pub mod live;
mod server;
mod shutdown;
mod tls;

pub use config::{default_login_workers, ListenerConfig, ServerConfig, TlsFiles};
pub use fd_limit::{fit_fd_limit, raise_fd_limit};
pub use server::{BoundListener, RunningServer, Server, StartError};
pub use tls::TlsError;
