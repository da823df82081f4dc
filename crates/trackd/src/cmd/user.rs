//! `trackd user add|passwd|list`: accounts from the command line (the first
//! administrator is made here; there is no default password).

use anyhow::{bail, Context};
use clap::Subcommand;
use trackd_model::UserFields;
use trackd_server::auth::hash_password;
use trackd_store::Store;

use crate::config::StoreArgs;

/// Environment variable that supplies a password without a prompt.
pub(crate) const PASSWORD_ENV: &str = "TRACKD_PASSWORD";

#[derive(Debug, Subcommand)]
pub(crate) enum UserCommand {
    /// Create a user (password from TRACKD_PASSWORD or a prompt).
    Add {
        /// Login email.
        #[arg(long)]
        email: String,
        /// Display name [default: the email].
        #[arg(long)]
        name: Option<String>,
        /// Make the user an administrator.
        #[arg(long)]
        admin: bool,
        /// Let the user manage this many users of its own (-1 unlimited).
        #[arg(long, default_value_t = 0)]
        user_limit: i32,
        /// Most devices the user may add (-1 unlimited).
        #[arg(long, default_value_t = -1)]
        device_limit: i32,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Set a user's password (from TRACKD_PASSWORD or a prompt).
    Passwd {
        /// Login email.
        #[arg(long)]
        email: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List users.
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
}

/// The password from the environment, or asked for twice on the terminal.
pub(crate) fn read_password() -> anyhow::Result<String> {
    if let Ok(password) = std::env::var(PASSWORD_ENV) {
        return check_password(password);
    }
    if !has_terminal() {
        bail!("no terminal to read the password from: set {PASSWORD_ENV} to the password");
    }
    let first = rpassword::prompt_password("password: ")
        .context("reading the password from the terminal")?;
    let second =
        rpassword::prompt_password("again: ").context("reading the password from the terminal")?;
    if first != second {
        bail!("passwords differ");
    }
    check_password(first)
}

/// Whether a password prompt can be shown: rpassword reads from the
/// controlling terminal (`/dev/tty`), which a service, a pipe or CI lacks.
fn has_terminal() -> bool {
    if cfg!(unix) {
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/tty")
            .is_ok()
    } else {
        std::io::IsTerminal::is_terminal(&std::io::stdin())
    }
}

fn check_password(password: String) -> anyhow::Result<String> {
    if password.chars().count() < 8 {
        bail!("password must be at least 8 characters");
    }
    Ok(password)
}

/// Argon2id hash off the async threads.
pub(crate) async fn hash(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await?
        .map_err(anyhow::Error::msg)
}

pub(crate) async fn run(command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Add {
            email,
            name,
            admin,
            user_limit,
            device_limit,
            store,
        } => {
            let email = email.trim().to_owned();
            if !email.contains('@') {
                bail!("--email must be an email address");
            }
            let password = read_password()?;
            let hash = hash(password).await?;
            let store = Store::open(&store.registry_store_config()?).await?;
            let fields = UserFields {
                name: name.unwrap_or_else(|| email.clone()),
                email,
                administrator: admin,
                user_limit,
                device_limit,
                ..UserFields::default()
            };
            let result = store.create_user(fields, Some(hash)).await;
            store.close().await?;
            let user = result?;
            println!(
                "added {} {} with id {}",
                if user.administrator {
                    "administrator"
                } else {
                    "user"
                },
                user.email,
                user.id
            );
        }
        UserCommand::Passwd { email, store } => {
            let password = read_password()?;
            let hash = hash(password).await?;
            let store = Store::open(&store.registry_store_config()?).await?;
            let result = async {
                let user = store
                    .user_by_email(email.trim())
                    .await?
                    .with_context(|| format!("no user {email}"))?;
                // Its sessions and API tokens end with the old password.
                let ended = store.change_password(user.id, &hash, None).await?;
                anyhow::Ok((user, ended))
            }
            .await;
            store.close().await?;
            let (user, ended) = result?;
            println!(
                "password of {} changed; {ended} sessions and API tokens ended",
                user.email
            );
        }
        UserCommand::List { store } => {
            let store = Store::open(&store.store_config(true)?).await?;
            let users = store.users().await;
            store.close().await?;
            for user in users? {
                let role = if user.administrator {
                    "admin"
                } else if user.is_manager() {
                    "manager"
                } else {
                    "user"
                };
                println!("{}\t{}\t{}\t{}", user.id, user.email, role, user.name);
            }
        }
    }
    Ok(())
}
