//! Who is asking.

use trackd_model::UserId;

use super::{AuditHook, PrivacyMask};
use crate::auth::Scope;

/// A reader of personal data: who, what it may see, what is hidden from
/// it, and where its reads are recorded.
#[derive(Clone, Debug)]
pub struct Viewer {
    /// The user asking; `None` for the operator at the command line.
    pub user_id: Option<UserId>,
    /// What it may see.
    pub scope: Scope,
    /// What is hidden from it.
    pub mask: PrivacyMask,
    /// Where its reads are recorded.
    pub audit: AuditHook,
}

impl Viewer {
    /// A logged-in user with its scope.
    pub fn user(user_id: UserId, scope: Scope) -> Self {
        Viewer {
            user_id: Some(user_id),
            scope,
            mask: PrivacyMask::identity(),
            audit: AuditHook::none(),
        }
    }

    /// The operator running `trackd` on the server itself (export, audit):
    /// sees every device, under the same mask and audit as anyone.
    pub fn operator() -> Self {
        Viewer {
            user_id: None,
            scope: Scope::Admin,
            mask: PrivacyMask::identity(),
            audit: AuditHook::none(),
        }
    }
}
