//! Deleting a merchant's test data (`kassa test-data purge`): its test-mode payments, events,
//! customers, billing and face objects go; its live data and configuration stay. See
//! [`kassa_store::Tx::purge_test_data`] for exactly what goes.

use kassa_store::PurgeCounts;

use crate::{Result, ServiceError, Services};

impl Services {
    /// Deletes the merchant's test data in one transaction and returns how many rows of each
    /// kind went. An unknown merchant is `NotFound`. Background work on a deleted row (a
    /// delivery being sent, a subscription being billed) finds it gone and does nothing more.
    pub async fn purge_test_data(&self, merchant_id: &str) -> Result<PurgeCounts> {
        if self.store.merchant(merchant_id).await?.is_none() {
            return Err(ServiceError::not_found("merchant", merchant_id));
        }
        let mut tx = self.store.begin().await?;
        let counts = tx.purge_test_data(merchant_id).await?;
        tx.commit().await?;
        tracing::info!(
            merchant = %merchant_id,
            deleted = counts.total(),
            "test data purged"
        );
        Ok(counts)
    }
}
