//! The running trackd server: device listeners, the acker, the HTTP API.
//!
//! Data enters through [`listener`] (raw device bytes), is decoded by
//! `trackd_protocols`, committed by `trackd_store`, and only then
//! acknowledged to the device. Everything here is tokio; protocol logic and
//! SQL live in their own crates.

pub mod api;
pub mod auth;
mod config;
pub mod listener;
pub mod live;
mod server;

pub use config::ServerConfig;
pub use server::{RunningServer, Server};
