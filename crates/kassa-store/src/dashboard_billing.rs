//! The dashboard's look-ups of customers, subscriptions and test clocks that the API has no
//! query for: a subscription list filtered by status, what lives on one test clock, and
//! customers found by e-mail without regard to case.
//!
//! Each answers ids in the list's order (newest first); the caller reads the rows through the
//! ordinary look-ups ([`Store::customer`], [`Store::subscription`]), so there is one place
//! that turns a row into a customer or a subscription.

use sqlx::Row;

use crate::{Result, Scope, Store};

impl Store {
    /// A page of subscription ids, newest first, after `starting_after` (keyset), only those in
    /// `status` when given. `None` when the cursor is not one of the listed subscriptions (it
    /// may have changed status since the page before was shown).
    pub async fn dashboard_subscription_ids(
        &self,
        scope: &Scope,
        status: Option<&str>,
        limit: i64,
        starting_after: Option<&str>,
    ) -> Result<Option<Vec<String>>> {
        let rows = self
            .page_where(
                "subscriptions",
                "id",
                scope,
                status.map(|s| ("status", s)),
                limit,
                starting_after,
            )
            .await?;
        Ok(rows.map(|rows| rows.iter().map(|r| r.get::<String, _>(0)).collect()))
    }

    /// The newest `limit` subscriptions living on test clock `clock`.
    pub async fn dashboard_clock_subscription_ids(
        &self,
        scope: &Scope,
        clock: &str,
        limit: i64,
    ) -> Result<Vec<String>> {
        let rows = self
            .page_where(
                "subscriptions",
                "id",
                scope,
                Some(("test_clock", clock)),
                limit,
                None,
            )
            .await?;
        Ok(rows
            .unwrap_or_default()
            .iter()
            .map(|r| r.get::<String, _>(0))
            .collect())
    }

    /// The newest `limit` customers attached to test clock `clock`.
    pub async fn dashboard_clock_customer_ids(
        &self,
        scope: &Scope,
        clock: &str,
        limit: i64,
    ) -> Result<Vec<String>> {
        let rows = self
            .page_where(
                "customers",
                "id",
                scope,
                Some(("test_clock", clock)),
                limit,
                None,
            )
            .await?;
        Ok(rows
            .unwrap_or_default()
            .iter()
            .map(|r| r.get::<String, _>(0))
            .collect())
    }

    /// The newest `limit` customers whose e-mail is `email`, in any case (the
    /// `customers_merchant_email_lower` index answers it).
    pub async fn dashboard_customer_ids_by_email(
        &self,
        scope: &Scope,
        email: &str,
        limit: i64,
    ) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT id FROM customers WHERE merchant_id = $1 AND livemode = $2 \
             AND lower(email) = lower($3) AND email IS NOT NULL \
             ORDER BY created_at DESC, id DESC LIMIT $4",
        )
        .bind(&scope.merchant_id)
        .bind(i64::from(scope.livemode))
        .bind(email)
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.iter().map(|r| r.get::<String, _>(0)).collect())
    }
}
