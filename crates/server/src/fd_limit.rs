//! The open-file limit: raised to the hard limit at start, and the
//! connection caps fitted under it so devices and HTTP leave room for
//! each other.

use trackd_protocols::Transport;

use crate::ServerConfig;

/// Files kept free for the store, logs and accepts in progress.
pub(crate) const FD_RESERVE: u64 = 256;

/// Raises the soft `RLIMIT_NOFILE` to the hard limit; the soft limit now
/// in force (`None` where it cannot be read).
pub fn raise_fd_limit() -> Option<u64> {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limit = getrlimit(Resource::Nofile);
    if let (Some(current), Some(hard)) = (limit.current, limit.maximum) {
        if current < hard {
            let raised = Rlimit {
                current: Some(hard),
                maximum: Some(hard),
            };
            if setrlimit(Resource::Nofile, raised).is_ok() {
                return Some(hard);
            }
        }
    }
    // `None` is "unlimited" to rustix.
    Some(limit.current.unwrap_or(u64::MAX))
}

/// What [`fit_fd_limit`] lowered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lowered {
    /// `max_connections` (per device listener) before and after.
    pub max_connections: (usize, usize),
    /// `http_max_connections` before and after.
    pub http_max_connections: (usize, usize),
    /// The open-file budget that was needed.
    pub needed: u64,
}

/// Lowers the caps of `config` so every device listener full, the HTTP API
/// full and [`FD_RESERVE`] fit in `limit` open files; `None` when they
/// already do. The HTTP API keeps at most half of what is free.
pub fn fit_fd_limit(config: &mut ServerConfig, limit: u64) -> Option<Lowered> {
    let streams = config
        .listeners
        .iter()
        .filter(|l| l.transport != Transport::Udp)
        .count() as u64;
    // The HTTPS redirect port has its own cap of `http_max_connections`.
    let http_listeners =
        u64::from(config.http.is_some()) + u64::from(config.http_redirect.is_some());
    let http = http_listeners.saturating_mul(config.http_max_connections as u64);
    let devices = streams.saturating_mul(config.max_connections as u64);
    let needed = devices.saturating_add(http).saturating_add(FD_RESERVE);
    if needed <= limit {
        return None;
    }
    let free = limit.saturating_sub(FD_RESERVE).max(2);
    let before = (config.max_connections, config.http_max_connections);
    // Per HTTP listener; `http_fit` is what all of them may hold.
    let http_fit = match (free / 2).checked_div(http_listeners) {
        Some(share) => {
            let per = (config.http_max_connections as u64).min(share).max(1);
            config.http_max_connections = usize::try_from(per).unwrap_or(usize::MAX);
            per.saturating_mul(http_listeners)
        }
        None => 0,
    };
    if let Some(per) = free.saturating_sub(http_fit).checked_div(streams) {
        let per = per.max(1);
        config.max_connections = config
            .max_connections
            .min(usize::try_from(per).unwrap_or(usize::MAX));
    }
    Some(Lowered {
        max_connections: (before.0, config.max_connections),
        http_max_connections: (before.1, config.http_max_connections),
        needed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_that_fit_are_kept() {
        let mut config = ServerConfig {
            max_connections: 1000,
            http_max_connections: 1000,
            ..ServerConfig::default()
        };
        assert_eq!(fit_fd_limit(&mut config, 1 << 20), None);
        assert_eq!(config.max_connections, 1000);
    }

    #[test]
    fn device_and_http_caps_are_lowered_to_fit_the_fd_limit() {
        let mut config = ServerConfig::default();
        let streams = config
            .listeners
            .iter()
            .filter(|l| l.transport != Transport::Udp)
            .count();
        let lowered = fit_fd_limit(&mut config, 1024);
        assert!(lowered.is_some());
        let used = streams * config.max_connections + config.http_max_connections;
        assert!(used as u64 + FD_RESERVE <= 1024, "{used}");
        assert!(config.max_connections >= 1 && config.http_max_connections >= 1);
    }

    #[test]
    fn the_redirect_port_counts_as_a_second_http_listener() {
        let mut config = ServerConfig {
            http_redirect: Some(std::net::SocketAddr::from(([127, 0, 0, 1], 8080))),
            ..ServerConfig::default()
        };
        let streams = config
            .listeners
            .iter()
            .filter(|l| l.transport != Transport::Udp)
            .count();
        assert!(fit_fd_limit(&mut config, 4096).is_some());
        let used = streams * config.max_connections + 2 * config.http_max_connections;
        assert!(used as u64 + FD_RESERVE <= 4096, "{used}");
        assert!(config.http_max_connections >= 1);
    }
}
