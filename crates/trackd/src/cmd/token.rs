//! `trackd token create`: an API token for a user, for scripts and
//! integrations (Home Assistant) that should not hold a password.

use anyhow::Context;
use clap::Subcommand;
use trackd_model::{Clock, SystemClock, Timestamp};
use trackd_server::auth::{new_secret, secret_hash};
use trackd_store::Store;

use crate::config::StoreArgs;
use crate::timearg::parse_time;

#[derive(Debug, Subcommand)]
pub(crate) enum TokenCommand {
    /// Create a token and print it (it is shown only once).
    Create {
        /// The user's login email.
        #[arg(long)]
        email: String,
        /// When the token stops working, or `never` [default: now plus
        /// `token_default_lifetime_days`, 365 unless configured; 0 there means never].
        #[arg(long)]
        expires: Option<String>,
        /// Default lifetime of tokens in days (0: never expire) [default: 365].
        #[arg(long, env = "TRACKD_TOKEN_DEFAULT_LIFETIME_DAYS")]
        token_default_lifetime_days: Option<u64>,
        #[command(flatten)]
        store: StoreArgs,
    },
}

pub(crate) async fn run(command: TokenCommand) -> anyhow::Result<()> {
    let TokenCommand::Create {
        email,
        expires,
        token_default_lifetime_days,
        store,
    } = command;
    let lifetime_days = match token_default_lifetime_days {
        Some(days) => Some(days),
        None => store.file_token_default_lifetime_days()?,
    };
    let expires = expiry(expires.as_deref(), lifetime_days, SystemClock.now())?;
    let store = Store::open(&store.registry_store_config()?).await?;
    let token = new_secret();
    let result = async {
        let user = store
            .user_by_email(email.trim())
            .await?
            .with_context(|| format!("no user {email}"))?;
        store
            .create_token(user.id, &secret_hash(&token), expires)
            .await?;
        anyhow::Ok(())
    }
    .await;
    store.close().await?;
    result?;
    println!("{token}");
    match expires {
        Some(at) => match chrono::DateTime::from_timestamp_millis(at.as_millis()) {
            Some(at) => eprintln!("expires {}", at.to_rfc3339()),
            None => eprintln!("expires at {} ms", at.as_millis()),
        },
        None => eprintln!("never expires"),
    }
    Ok(())
}

/// When a new token expires: `--expires` (a time or `never`), else the
/// configured default lifetime from `now` (the server's rule for tokens
/// made through the API), 365 days unless configured, 0 days meaning never.
fn expiry(
    expires: Option<&str>,
    lifetime_days: Option<u64>,
    now: Timestamp,
) -> anyhow::Result<Option<Timestamp>> {
    match expires.map(str::trim) {
        Some("never") => Ok(None),
        Some(text) => parse_time(text).map(Some),
        None => {
            let days = lifetime_days.unwrap_or(DEFAULT_LIFETIME_DAYS);
            if days == 0 {
                return Ok(None);
            }
            let millis = i64::try_from(days)
                .unwrap_or(i64::MAX)
                .saturating_mul(86_400_000);
            Ok(Some(Timestamp::from_millis(
                now.as_millis().saturating_add(millis),
            )))
        }
    }
}

/// As the server's `token_default_lifetime_days` default.
const DEFAULT_LIFETIME_DAYS: u64 = 365;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_expire_after_the_default_lifetime_unless_told() {
        let now = Timestamp::from_millis(1_000);
        let year = 365 * 86_400_000;
        assert_eq!(
            expiry(None, None, now).unwrap(),
            Some(Timestamp::from_millis(1_000 + year))
        );
        assert_eq!(
            expiry(None, Some(2), now).unwrap(),
            Some(Timestamp::from_millis(1_000 + 2 * 86_400_000))
        );
        assert_eq!(expiry(None, Some(0), now).unwrap(), None);
        assert_eq!(expiry(Some("never"), Some(2), now).unwrap(), None);
        assert_eq!(
            expiry(Some("1970-01-02"), None, now).unwrap(),
            Some(Timestamp::from_millis(86_400_000))
        );
        assert!(expiry(Some("soon"), None, now).is_err());
    }
}
