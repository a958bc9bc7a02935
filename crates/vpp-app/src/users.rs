//! Users: the first admin of a new database, password hashing (Argon2id,
//! off the async runtime) and random tokens. The HTTP layer and the CLI
//! create users through these.

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, SaltString};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use vpp_domain::auth::{Role, UserRequest};
use vpp_store::{Store, StoreError};

use crate::error::{AppError, AppResult};

/// Creates the first admin if there are no users. Returns the generated
/// password when none was configured, for the caller to print once.
pub async fn bootstrap_admin(store: &Store, username: &str, password: Option<&str>) -> AppResult<Option<String>> {
    if store.count_users().await? > 0 {
        return Ok(None);
    }
    let generated = password.is_none().then(|| random_token(18));
    let password = password.map(String::from).or(generated.clone()).unwrap_or_default();
    UserRequest { username: username.into(), password: password.clone(), role: Role::Admin, asset_owner: None }
        .validate()?;
    let hash = hash_password_async(&password).await?;
    match store.create_user(username, &hash, Role::Admin).await {
        Ok(_) | Err(StoreError::Duplicate { .. }) => Ok(generated),
        Err(e) => Err(e.into()),
    }
}

/// Hashes a password with argon2id (default parameters: 19 MiB, 2 passes).
pub fn hash_password(password: &str) -> Result<String, String> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|e| e.to_string())
}

/// Hashes a password off the async runtime.
pub async fn hash_password_async(password: &str) -> AppResult<String> {
    let password = password.to_string();
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(AppError::internal)?
        .map_err(AppError::internal)
}

/// `n` random bytes, base64url.
pub fn random_token(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}
