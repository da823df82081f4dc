//! How many live sockets each user holds: one user (or a stolen token)
//! cannot open sockets without bound, each costing a subscription and a
//! rendering per update.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use trackd_model::UserId;

/// Open `/api/socket` connections per user, capped.
#[derive(Debug)]
pub(crate) struct SocketSlots {
    max_per_user: usize,
    open: Arc<Mutex<HashMap<UserId, usize>>>,
}

/// One held slot; freed when dropped.
#[derive(Debug)]
pub(crate) struct SocketSlot {
    user_id: UserId,
    open: Arc<Mutex<HashMap<UserId, usize>>>,
}

impl SocketSlots {
    /// At most `max_per_user` sockets per user at once.
    pub(crate) fn new(max_per_user: usize) -> Self {
        SocketSlots {
            max_per_user,
            open: Arc::default(),
        }
    }

    /// A slot for `user_id`, or `None` when the user holds the most already.
    pub(crate) fn take(&self, user_id: UserId) -> Option<SocketSlot> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let held = open.entry(user_id).or_default();
        if *held >= self.max_per_user {
            return None;
        }
        *held += 1;
        Some(SocketSlot {
            user_id,
            open: self.open.clone(),
        })
    }
}

impl Drop for SocketSlot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(held) = open.get_mut(&self.user_id) {
            *held = held.saturating_sub(1);
            if *held == 0 {
                open.remove(&self.user_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_user_gets_at_most_the_cap_and_slots_come_back() {
        let slots = SocketSlots::new(2);
        let a = UserId(1);
        let first = slots.take(a);
        let second = slots.take(a);
        assert!(first.is_some() && second.is_some());
        assert!(slots.take(a).is_none());
        // Another user is not affected.
        assert!(slots.take(UserId(2)).is_some());
        drop(first);
        assert!(slots.take(a).is_some());
    }
}
