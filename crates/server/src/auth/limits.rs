//! Traccar's manager limits, held for the whole tree: what a manager's
//! sub-managers' users and devices add counts against the manager too, and
//! a non-administrator cannot hand out more than it has.

use trackd_model::{DeviceId, User, UserFields, UserId};

use crate::api::error::{ApiError, ApiResult};
use crate::server::Shared;

/// `owner` and every non-administrator that manages it, transitively:
/// each of their limits must hold after a change below `owner`.
async fn chain(shared: &Shared, owner: &User) -> ApiResult<Vec<User>> {
    let mut chain = vec![owner.clone()];
    for id in shared.store.managers_of(owner.id).await? {
        if let Some(user) = shared.store.user(id).await? {
            chain.push(user);
        }
    }
    chain.retain(|user| !user.administrator);
    Ok(chain)
}

/// Refuses one more managed user under `owner` (the user `adding`, or a
/// new one) if it would put `owner` or any manager above it over its
/// `userLimit`. A limit of -1 is unlimited; 0 means "not a manager" and
/// is checked where a user is created, not here.
pub(crate) async fn check_user_room(
    shared: &Shared,
    owner: &User,
    adding: Option<UserId>,
) -> ApiResult<()> {
    for user in chain(shared, owner).await? {
        let Ok(limit) = usize::try_from(user.user_limit) else {
            continue;
        };
        if limit == 0 {
            continue;
        }
        let managed = shared.store.permitted(user.id).await?.managed_users;
        if adding.is_some_and(|id| managed.contains(&id)) {
            continue;
        }
        if managed.len() >= limit {
            return Err(ApiError::forbidden(if user.id == owner.id {
                "user limit reached"
            } else {
                "user limit of a managing user reached"
            }));
        }
    }
    Ok(())
}

/// Refuses one more device for `owner` (the device `adding`, or a new one)
/// if it would put `owner` or any manager above it over its `deviceLimit`
/// (-1 unlimited, 0 none); a manager's count includes its users' devices.
pub(crate) async fn check_device_room(
    shared: &Shared,
    owner: &User,
    adding: Option<DeviceId>,
) -> ApiResult<()> {
    for user in chain(shared, owner).await? {
        let Ok(limit) = usize::try_from(user.device_limit) else {
            continue;
        };
        let devices = shared.store.permitted(user.id).await?.devices;
        if adding.is_some_and(|id| devices.contains(&id)) {
            continue;
        }
        if devices.len() >= limit {
            return Err(ApiError::forbidden(if user.id == owner.id {
                "device limit reached"
            } else {
                "device limit of a managing user reached"
            }));
        }
    }
    Ok(())
}

/// What a non-administrator `caller` may set on a user it creates
/// (`before` is `None`) or manages, as Traccar: it cannot make an
/// administrator, change `userLimit` (so only administrators make
/// managers), give a `deviceLimit` above its own, or clear `readonly`.
/// A new user left at the default unlimited `deviceLimit` (-1) gets the
/// caller's own limit.
pub(crate) fn check_grants(
    caller: &User,
    before: Option<&User>,
    fields: &mut UserFields,
) -> ApiResult<()> {
    let (administrator, user_limit, device_limit, readonly) = match before {
        Some(user) => (
            user.administrator,
            user.user_limit,
            user.device_limit,
            user.readonly,
        ),
        None => (false, 0, -1, false),
    };
    if fields.administrator != administrator {
        return Err(ApiError::forbidden(
            "only administrators grant or remove administrator",
        ));
    }
    if fields.user_limit != user_limit {
        return Err(ApiError::forbidden("only administrators change userLimit"));
    }
    if readonly && !fields.readonly {
        return Err(ApiError::forbidden("only administrators clear readonly"));
    }
    if caller.device_limit >= 0 {
        let within = (0..=caller.device_limit).contains(&fields.device_limit);
        if before.is_none() && fields.device_limit == -1 {
            fields.device_limit = caller.device_limit;
        } else if fields.device_limit != device_limit && !within {
            return Err(ApiError::forbidden(format!(
                "deviceLimit above your own ({})",
                caller.device_limit
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manager(device_limit: i32) -> User {
        User {
            id: UserId(1),
            name: "m".into(),
            email: "m@example.com".into(),
            phone: None,
            administrator: false,
            readonly: false,
            device_readonly: false,
            limit_commands: false,
            disabled: false,
            expiration_time: None,
            device_limit,
            user_limit: 5,
            attributes: Default::default(),
        }
    }

    fn new_user() -> UserFields {
        UserFields {
            name: "u".into(),
            email: "u@example.com".into(),
            device_limit: -1,
            ..UserFields::default()
        }
    }

    #[test]
    fn a_manager_cannot_grant_more_than_it_has() {
        let m = manager(10);
        let mut ok = new_user();
        assert!(check_grants(&m, None, &mut ok).is_ok());
        assert_eq!(
            ok.device_limit, 10,
            "the default -1 becomes the manager's own"
        );
        let mut fewer = UserFields {
            device_limit: 3,
            ..new_user()
        };
        assert!(check_grants(&m, None, &mut fewer).is_ok());
        assert_eq!(fewer.device_limit, 3);
        for mut bad in [
            UserFields {
                administrator: true,
                ..new_user()
            },
            UserFields {
                user_limit: 1,
                ..new_user()
            },
            UserFields {
                user_limit: -1,
                ..new_user()
            },
            UserFields {
                device_limit: 11,
                ..new_user()
            },
        ] {
            let err = check_grants(&m, None, &mut bad).err();
            assert!(matches!(err, Some(ApiError::Forbidden(_))), "{bad:?}");
        }
        // An unlimited manager gives any device limit.
        let mut any = UserFields {
            device_limit: 500,
            ..new_user()
        };
        assert!(check_grants(&manager(-1), None, &mut any).is_ok());
    }

    #[test]
    fn a_manager_keeps_what_an_administrator_set_but_cannot_lift_it() {
        let m = manager(10);
        let mut before = manager(50);
        before.id = UserId(2);
        before.readonly = true;
        before.user_limit = 3;
        // The same values sent back (a client saving the whole object) pass.
        let mut same = UserFields {
            readonly: true,
            user_limit: 3,
            device_limit: 50,
            ..new_user()
        };
        assert!(check_grants(&m, Some(&before), &mut same).is_ok());
        let mut lowered = UserFields {
            device_limit: 5,
            ..same.clone()
        };
        assert!(check_grants(&m, Some(&before), &mut lowered).is_ok());
        let mut cleared = UserFields {
            readonly: false,
            ..same.clone()
        };
        assert!(check_grants(&m, Some(&before), &mut cleared).is_err());
        let mut raised = UserFields {
            user_limit: 4,
            ..same.clone()
        };
        assert!(check_grants(&m, Some(&before), &mut raised).is_err());
        let mut unlimited = UserFields {
            device_limit: -1,
            ..same.clone()
        };
        assert!(check_grants(&m, Some(&before), &mut unlimited).is_err());
        // Setting readonly is fine.
        before.readonly = false;
        assert!(check_grants(&m, Some(&before), &mut same).is_ok());
    }
}
