//! Virtual Teltonika trackers for load tests and demos.
//!
//! [`Vehicle`] is a pure, seeded model of a vehicle driving trips and making
//! stops inside a city; [`run`] and [`run_until`] drive many of them over TCP
//! against a trackd server, one tokio task per device, each waiting for the
//! server's ACK before sending its next frame, as real devices do.

pub mod vehicle;

/// The Teltonika wire types and encoder the simulator sends with.
pub mod teltonika {
    pub use trackd_protocols::teltonika::{
        encode_imei, encode_tcp_frame, AvlRecord, Codec, IoElement, IoValue,
    };
}

pub mod client;

pub use client::{run, run_until, Progress, Report, SimConfig, SimError};
pub use vehicle::{Area, Vehicle};
