//! OCPP charging stations' credentials: one way to register a station for
//! the API, the demo, `vpp simulate` and `vpp bench ocpp`.

use vpp_store::{OcppStation, StationCredential, Store};

use crate::error::AppResult;

/// Registers an EV charger as a charging station under its external id.
/// With `password_ref` the password is read from that secret reference at
/// each connection; without, a password is generated, stored as an argon2
/// hash and returned (the only time it is seen). Any previous password
/// stops working.
pub async fn register_station(
    store: &Store,
    resource_id: &str,
    password_ref: Option<String>,
) -> AppResult<(OcppStation, Option<String>)> {
    let (credential, password) = match password_ref {
        Some(reference) => (StationCredential::Reference(reference), None),
        None => {
            let password = crate::users::random_token(18);
            (StationCredential::Hash(crate::users::hash_password_async(&password).await?), Some(password))
        }
    };
    Ok((store.put_ocpp_station(resource_id, &credential).await?, password))
}
