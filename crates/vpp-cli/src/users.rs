//! Users from the command line: the first admin, and `vpp user …`.

use std::sync::Arc;

use anyhow::Context;
use vpp_store::{Page, Store};

use crate::args::UserCommand;
use crate::config::Config;

/// Creates the first admin if there are no users; prints a generated password once.
pub(crate) async fn bootstrap_admin(store: &Store, config: &Config) -> anyhow::Result<Option<String>> {
    let configured = config.admin_password.as_ref().map(|s| s.0.as_str());
    let generated = vpp_app::users::bootstrap_admin(store, &config.admin_username, configured)
        .await
        .map_err(|e| anyhow::anyhow!("creating the first admin: {e}"))?;
    if let Some(password) = &generated {
        eprintln!("Created the first admin `{}` with the one-time password: {password}", config.admin_username);
        eprintln!("Change it with `vpp user reset-password {}`.", config.admin_username);
    }
    Ok(generated)
}

pub(crate) fn read_password(from_stdin: bool) -> anyhow::Result<(String, bool)> {
    if !from_stdin {
        return Ok((vpp_app::users::random_token(18), true));
    }
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).context("reading the password from standard input")?;
    Ok((line.trim_end_matches(['\r', '\n']).to_string(), false))
}

pub(crate) async fn user_command(store: &Arc<Store>, cmd: UserCommand) -> anyhow::Result<()> {
    use vpp_domain::auth::{Role, UserRequest};
    let invalid = |e: vpp_domain::Invalid| anyhow::anyhow!("{e}");
    match cmd {
        UserCommand::Add { username, role, asset_owner, password_stdin } => {
            let role = Role::parse(&role).with_context(|| {
                format!("unknown role `{role}`: use admin, operator, trader, analyst, viewer or asset_owner")
            })?;
            let (password, generated) = read_password(password_stdin)?;
            let request = UserRequest { username: username.clone(), password: password.clone(), role, asset_owner };
            request.validate().map_err(invalid)?;
            let hash = vpp_app::users::hash_password(&password).map_err(|e| anyhow::anyhow!(e))?;
            let user = store.create_bound_user(&username, &hash, role, request.asset_owner.as_deref()).await?;
            println!("created {} ({}) with id {}", user.username, role.as_str(), user.id);
            if generated {
                println!("password: {password}");
            }
        }
        UserCommand::List => {
            let users = store.list_users(Page { page: 1, size: 1000 }).await?;
            for u in users.items {
                let state = if !u.active {
                    "disabled"
                } else if u.locked_until.is_some_and(|t| t > jiff::Timestamp::now()) {
                    "locked"
                } else {
                    "active"
                };
                println!("{:<24} {:<9} {:<9} {}", u.username, u.role.as_str(), state, u.id);
            }
        }
        UserCommand::Disable { username } => {
            let user = store.get_user_by_name(&username).await?;
            store.update_user(&user.id, None, Some(false)).await?;
            println!("disabled {username}; their tokens stop working within seconds");
        }
        UserCommand::Enable { username } => {
            let user = store.get_user_by_name(&username).await?;
            store.update_user(&user.id, None, Some(true)).await?;
            println!("enabled {username}");
        }
        UserCommand::ResetPassword { username, password_stdin } => {
            let user = store.get_user_by_name(&username).await?;
            let (password, generated) = read_password(password_stdin)?;
            let mut errors = vpp_domain::error::Errors::default();
            vpp_domain::auth::check_password(&mut errors, "password", &password);
            errors.finish(()).map_err(invalid)?;
            let hash = vpp_app::users::hash_password(&password).map_err(|e| anyhow::anyhow!(e))?;
            store.set_password(&user.id, &hash).await?;
            println!("password of {username} reset; every session of theirs ended");
            if generated {
                println!("password: {password}");
            }
        }
    }
    Ok(())
}
