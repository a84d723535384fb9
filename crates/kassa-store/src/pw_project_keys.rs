//! A Paymentwall project's test secret key, replaced on its own (the dashboard's "regenerate
//! secret"): the sealed secret and its lookup hash are written together, so the old secret
//! stops opening anything the moment the transaction commits.

use crate::{Result, Tx};

impl Tx {
    /// Gives project `id` of `merchant_id` a new test secret (sealed and hashed by the caller).
    /// `false` when no such project belongs to the merchant.
    pub async fn set_pw_project_secret(
        &mut self,
        merchant_id: &str,
        id: &str,
        secret_enc: &str,
        secret_hash: &str,
    ) -> Result<bool> {
        let n = sqlx::query(
            "UPDATE pw_projects SET secret_enc = $1, secret_hash = $2 \
             WHERE id = $3 AND merchant_id = $4",
        )
        .bind(secret_enc)
        .bind(secret_hash)
        .bind(id)
        .bind(merchant_id)
        .execute(self.conn())
        .await?
        .rows_affected();
        Ok(n == 1)
    }
}
