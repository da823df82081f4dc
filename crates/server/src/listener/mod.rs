//! Device listeners: one per protocol and transport.
//!
//! Each listener owns its sockets and runs the frame loop: bytes go into the
//! protocol's sans-IO session, records come out, are committed by the store,
//! and only after the commit does the acker send the device its reply.
//! **A device is never acknowledged for records that are not durable.**

mod registry;
mod teltonika_tcp;
mod teltonika_udp;

pub(crate) use registry::Registry;
pub(crate) use teltonika_tcp::serve_teltonika_tcp;
pub(crate) use teltonika_udp::serve_teltonika_udp;

/// Milliseconds since the epoch, the receive time stamped on positions.
pub(crate) fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
