//! A project's test secret key, regenerated on request (the dashboard's Keys page): the test
//! project key stays, the secret is new, and the old one stops working at once (links, REST API
//! calls and pingback signatures all read the secret from the database each time). The live
//! pair has its own command, `new_live_keys`.

use kassa_core::scope::Scope;
use rand::Rng;

use super::projects::Project;
use crate::{Paymentwall, Result, ServiceError};

fn random_hex32() -> String {
    let bytes: [u8; 16] = rand::thread_rng().gen();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Paymentwall<'_> {
    /// A new test secret key for project `id`; the answer carries it, to be shown this once.
    /// Audited as `paymentwall_project.regenerate_secret` (without the secret).
    pub async fn regenerate_secret(&self, merchant_id: &str, id: &str) -> Result<Project> {
        let mut p = self.project(merchant_id, id).await?;
        let secret = random_hex32();
        let enc = self.secrets.seal(&secret);
        let hash = kassa_core::secret::hash_api_key(&secret);
        let mut tx = self.store.begin().await?;
        if !tx
            .set_pw_project_secret(merchant_id, id, &enc, &hash)
            .await?
        {
            return Err(ServiceError::not_found("paymentwall project", id));
        }
        crate::audit::record(
            &mut tx,
            &Scope::test(merchant_id),
            "paymentwall_project.regenerate_secret",
            Some(id),
            &serde_json::json!({"project_key": p.row.project_key}),
        )
        .await?;
        tx.commit().await?;
        p.row.secret_enc = enc;
        p.row.secret_hash = Some(hash);
        p.secret = secret;
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn new_secrets_are_32_lowercase_hex() {
        let s = super::random_hex32();
        assert_eq!(s.len(), 32);
        assert!(s
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        assert_ne!(s, super::random_hex32());
    }
}
