//! Submissions to the Paymentwall-compatible Delivery Confirmation API: their rows and queries.

use sqlx::Row;

use crate::{Result, Store, Tx};

/// A Delivery Confirmation API submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PwDeliveryConfirmation {
    pub id: String,
    pub project_id: String,
    pub payment_ref: String,
    pub status: String,
    /// The submitted fields (JSON object).
    pub payload: String,
    pub created_at: i64,
}

impl Store {
    pub async fn pw_delivery_confirmations(
        &self,
        project_id: &str,
        payment_ref: &str,
    ) -> Result<Vec<PwDeliveryConfirmation>> {
        let rows = sqlx::query(
            "SELECT id, project_id, payment_ref, status, payload, created_at \
             FROM pw_delivery_confirmations WHERE project_id = $1 AND payment_ref = $2 \
             ORDER BY created_at, id",
        )
        .bind(project_id)
        .bind(payment_ref)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows
            .iter()
            .map(|r| PwDeliveryConfirmation {
                id: r.get("id"),
                project_id: r.get("project_id"),
                payment_ref: r.get("payment_ref"),
                status: r.get("status"),
                payload: r.get("payload"),
                created_at: r.get("created_at"),
            })
            .collect())
    }
}

impl Tx {
    pub async fn insert_pw_delivery_confirmation(
        &mut self,
        d: &PwDeliveryConfirmation,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO pw_delivery_confirmations \
             (id, project_id, payment_ref, status, payload, created_at) \
             VALUES ($1,$2,$3,$4,$5,$6)",
        )
        .bind(&d.id)
        .bind(&d.project_id)
        .bind(&d.payment_ref)
        .bind(&d.status)
        .bind(&d.payload)
        .bind(d.created_at)
        .execute(self.conn())
        .await?;
        Ok(())
    }
}
