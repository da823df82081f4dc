//! Virtual trackers for load tests and demos.
//!
//! [`Vehicle`] is a pure, seeded model of a vehicle driving trips and making
//! stops inside a city; it knows no protocol and reports [`Fix`]es in SI
//! units. A dialect ([`dialect`]) turns a device's id and fixes into what
//! goes on the wire for one protocol (Teltonika, GT06, OsmAnd) and
//! recognises the reply that acknowledges them. [`run`] and [`run_until`]
//! drive many devices against a trackd server, one tokio task per device,
//! each waiting for the server's ACK before sending its next message, as
//! real devices do.

pub mod dialect;
pub mod vehicle;

/// The Teltonika wire types and encoder the simulator sends with.
pub mod teltonika {
    pub use crate::dialect::teltonika::{avl_record, avl_record_into, io_id};
    pub use trackd_protocols::teltonika::{
        encode_imei, encode_tcp_frame, AvlRecord, Codec, IoElement, IoValue,
    };
}

pub mod client;

pub use client::{run, run_until, Progress, Report, SimConfig, SimError};
pub use dialect::Protocol;
pub use vehicle::{Area, Fix, Vehicle};
