//! `trackd token create`: an API token for a user, for scripts and
//! integrations (Home Assistant) that should not hold a password.

use anyhow::Context;
use clap::Subcommand;
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
        /// When the token stops working [default: never].
        #[arg(long)]
        expires: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
}

pub(crate) async fn run(command: TokenCommand) -> anyhow::Result<()> {
    let TokenCommand::Create {
        email,
        expires,
        store,
    } = command;
    let expires = expires.as_deref().map(parse_time).transpose()?;
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
    Ok(())
}
