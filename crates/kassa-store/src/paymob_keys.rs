//! Replacing one credential of a Paymob profile (the dashboard's "Recreate"): the secret key's
//! hash, the legacy API key's hash or the sealed HMAC secret.

use crate::{Result, Tx};

/// Which stored credential of a profile to replace. The column name comes from this closed
/// list, never from the caller's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PmCredentialColumn {
    SecretKeyHash,
    ApiKeyHash,
    HmacEnc,
}

impl PmCredentialColumn {
    fn column(self) -> &'static str {
        match self {
            PmCredentialColumn::SecretKeyHash => "secret_key_hash",
            PmCredentialColumn::ApiKeyHash => "api_key_hash",
            PmCredentialColumn::HmacEnc => "hmac_enc",
        }
    }
}

impl Tx {
    /// Replaces a profile's credential with `new` if it is still `old`. `false` when another
    /// change came first (the caller then refuses rather than show a value that never took
    /// effect).
    pub async fn replace_pm_credential(
        &mut self,
        profile_id: i64,
        which: PmCredentialColumn,
        old: &str,
        new: &str,
    ) -> Result<bool> {
        let column = which.column();
        let done = sqlx::query(&format!(
            "UPDATE pm_profiles SET {column} = $2 WHERE id = $1 AND {column} = $3"
        ))
        .bind(profile_id)
        .bind(new)
        .bind(old)
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
