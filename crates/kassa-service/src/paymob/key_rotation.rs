//! "Recreate" for a Paymob profile's credentials, as Paymob's dashboard offers it: a new secret
//! key, legacy API key or HMAC secret, shown once. The old value stops working when the change
//! commits: credentials are looked up by hash (secret and API key) or opened from the row (HMAC
//! secret) on every request, so nothing cached keeps the old one alive.
//!
//! Also the audit record of a profile created for a dashboard user.

use kassa_core::secret::{derive_key, hash_api_key};
use kassa_paymob::keys;
use kassa_store::{PmCredentialColumn, PmProfile};
use serde_json::json;

use super::accounts::country_of;
use super::{PmError, PmResult};
use crate::Paymob;

/// A credential of a profile that can be recreated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PmCredential {
    /// `egy_sk_test_…`: the Intention API's secret key.
    SecretKey,
    /// The legacy API key (`POST /api/auth/tokens`).
    ApiKey,
    /// The secret callbacks and redirects are signed with.
    HmacSecret,
}

impl PmCredential {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "secret_key" => Self::SecretKey,
            "api_key" => Self::ApiKey,
            "hmac_secret" => Self::HmacSecret,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::SecretKey => "secret_key",
            Self::ApiKey => "api_key",
            Self::HmacSecret => "hmac_secret",
        }
    }

    /// How a person calls it.
    pub fn label(self) -> &'static str {
        match self {
            Self::SecretKey => "Secret key",
            Self::ApiKey => "API key",
            Self::HmacSecret => "HMAC secret",
        }
    }
}

impl Paymob<'_> {
    /// Replaces one credential of `profile` and returns the new value (shown once; only its
    /// hash, or for the HMAC secret its sealed form, is kept). Audited as
    /// `paymob_profile.recreate_<credential>`, without the value.
    pub async fn recreate_credential(
        &self,
        profile: &PmProfile,
        which: PmCredential,
    ) -> PmResult<String> {
        self.check_mode(profile.scope().mode())?;
        let (column, old, value, stored) = match which {
            PmCredential::SecretKey => {
                let v = keys::secret_key(country_of(profile), profile.live);
                let h = hash_api_key(&v);
                (
                    PmCredentialColumn::SecretKeyHash,
                    &profile.secret_key_hash,
                    v,
                    h,
                )
            }
            PmCredential::ApiKey => {
                // The same form as the key made with the profile (a signed token naming the
                // profile); only its hash is looked up, the random `key` makes it new.
                let v = kassa_paymob::token::encode(
                    &json!({"class": "Merchant", "profile_pk": profile.id, "name": "recreated",
                            "key": keys::request_id()}),
                    &derive_key(&self.fingerprint_key, "paymob api key"),
                );
                let h = hash_api_key(&v);
                (PmCredentialColumn::ApiKeyHash, &profile.api_key_hash, v, h)
            }
            PmCredential::HmacSecret => {
                let v = keys::hmac_secret();
                let sealed = self.secrets.seal(&v);
                (PmCredentialColumn::HmacEnc, &profile.hmac_enc, v, sealed)
            }
        };
        let mut tx = self.store.begin().await?;
        if !tx
            .replace_pm_credential(profile.id, column, old, &stored)
            .await?
        {
            // Someone recreated it meanwhile: what they were shown is the one in force.
            return Err(PmError::message(
                409,
                "This credential was changed meanwhile; reload the page and try again.",
            ));
        }
        crate::audit::record(
            &mut tx,
            &profile.scope(),
            &format!("paymob_profile.recreate_{}", which.as_str()),
            Some(&profile.id.to_string()),
            &json!({"credential": which.as_str()}),
        )
        .await?;
        tx.commit().await?;
        Ok(value)
    }
}
