//! Paymob saved cards, subscription plans and subscriptions: their rows and queries.

use sqlx::any::AnyRow;

use super::{count, placeholders, Col};
use crate::{Result, Store, Tx};

pm_row!(
    /// A saved card. The token itself is only stored encrypted (`token_enc`).
    PmCardToken, CARD_TOKEN_COLUMNS = "pm_card_tokens" {
        id: i64, profile_id: i64, token_hash: String, token_enc: String, order_id: i64,
        processor_ref: String, obj: String, created_at: i64,
        // The core customer and payment method this card is (none for a card saved before
        // migration 0014).
        customer_id: Option<String>, payment_method_id: Option<String>,
    }
);
pm_row!(PmPlan, PLAN_COLUMNS = "pm_plans" {
    id: i64, profile_id: i64, doc: String, created_at: i64, updated_at: i64,
});
pm_row!(
    /// A Paymob subscription: the face's fields of the core subscription `subscription_id`
    /// (none for one the old engine made before migration 0014).
    PmSubscription, SUBSCRIPTION_COLUMNS = "pm_subscriptions" {
        id: i64, profile_id: i64, plan_id: i64, subscription_id: Option<String>, version: i64,
        doc: String, created_at: i64, updated_at: i64,
    }
);

impl Store {
    pub async fn pm_card_token_by_hash(&self, hash: &str) -> Result<Option<PmCardToken>> {
        by!(
            &self.reader,
            PmCardToken,
            CARD_TOKEN_COLUMNS,
            "pm_card_tokens",
            "token_hash",
            hash
        )
    }
    pub async fn pm_card_token(&self, id: i64) -> Result<Option<PmCardToken>> {
        by!(
            &self.reader,
            PmCardToken,
            CARD_TOKEN_COLUMNS,
            "pm_card_tokens",
            "id",
            id
        )
    }
    pub async fn pm_card_tokens_of_order(&self, order_id: i64) -> Result<Vec<PmCardToken>> {
        all_by!(
            &self.reader,
            PmCardToken,
            CARD_TOKEN_COLUMNS,
            "pm_card_tokens",
            "order_id",
            order_id,
            "id"
        )
    }
    pub async fn pm_plan(&self, id: i64) -> Result<Option<PmPlan>> {
        by!(&self.reader, PmPlan, PLAN_COLUMNS, "pm_plans", "id", id)
    }
    pub async fn pm_plans_of(&self, profile_id: i64) -> Result<Vec<PmPlan>> {
        all_by!(
            &self.reader,
            PmPlan,
            PLAN_COLUMNS,
            "pm_plans",
            "profile_id",
            profile_id,
            "id"
        )
    }
    pub async fn pm_subscription(&self, id: i64) -> Result<Option<PmSubscription>> {
        by!(
            &self.reader,
            PmSubscription,
            SUBSCRIPTION_COLUMNS,
            "pm_subscriptions",
            "id",
            id
        )
    }
    pub async fn pm_subscriptions_of(&self, profile_id: i64) -> Result<Vec<PmSubscription>> {
        all_by!(
            &self.reader,
            PmSubscription,
            SUBSCRIPTION_COLUMNS,
            "pm_subscriptions",
            "profile_id",
            profile_id,
            "id"
        )
    }
}

impl Tx {
    pub async fn insert_pm_card_token(&mut self, c: &PmCardToken) -> Result<()> {
        sqlx::query(&format!(
            "INSERT INTO pm_card_tokens ({CARD_TOKEN_COLUMNS}) VALUES ({})",
            placeholders(count(CARD_TOKEN_COLUMNS))
        ))
        .bind(c.id)
        .bind(c.profile_id)
        .bind(&c.token_hash)
        .bind(&c.token_enc)
        .bind(c.order_id)
        .bind(&c.processor_ref)
        .bind(&c.obj)
        .bind(c.created_at)
        .bind(c.customer_id.clone())
        .bind(c.payment_method_id.clone())
        .execute(self.conn())
        .await?;
        Ok(())
    }

    pub async fn insert_pm_plan(&mut self, p: &PmPlan) -> Result<()> {
        sqlx::query(&format!(
            "INSERT INTO pm_plans ({PLAN_COLUMNS}) VALUES ({})",
            placeholders(count(PLAN_COLUMNS))
        ))
        .bind(p.id)
        .bind(p.profile_id)
        .bind(&p.doc)
        .bind(p.created_at)
        .bind(p.updated_at)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    pub async fn update_pm_plan(&mut self, p: &PmPlan) -> Result<()> {
        sqlx::query("UPDATE pm_plans SET doc = $2, updated_at = $3 WHERE id = $1")
            .bind(p.id)
            .bind(&p.doc)
            .bind(p.updated_at)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    pub async fn insert_pm_subscription(&mut self, s: &PmSubscription) -> Result<()> {
        sqlx::query(&format!(
            "INSERT INTO pm_subscriptions ({SUBSCRIPTION_COLUMNS}) VALUES ({})",
            placeholders(count(SUBSCRIPTION_COLUMNS))
        ))
        .bind(s.id)
        .bind(s.profile_id)
        .bind(s.plan_id)
        .bind(s.subscription_id.clone())
        .bind(s.version)
        .bind(&s.doc)
        .bind(s.created_at)
        .bind(s.updated_at)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    pub async fn pm_subscription(&mut self, id: i64) -> Result<Option<PmSubscription>> {
        by!(
            self.conn(),
            PmSubscription,
            SUBSCRIPTION_COLUMNS,
            "pm_subscriptions",
            "id",
            id
        )
    }

    pub async fn pm_card_token(&mut self, id: i64) -> Result<Option<PmCardToken>> {
        by!(
            self.conn(),
            PmCardToken,
            CARD_TOKEN_COLUMNS,
            "pm_card_tokens",
            "id",
            id
        )
    }

    /// The Paymob face of core subscription `id`, if it has one.
    pub async fn pm_subscription_of_core(&mut self, id: &str) -> Result<Option<PmSubscription>> {
        by!(
            self.conn(),
            PmSubscription,
            SUBSCRIPTION_COLUMNS,
            "pm_subscriptions",
            "subscription_id",
            id
        )
    }

    /// Writes a subscription read at `s.version`; `false` when another writer got there first.
    pub async fn update_pm_subscription(&mut self, s: &mut PmSubscription) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE pm_subscriptions SET doc = $3, updated_at = $4, version = version + 1 \
             WHERE id = $1 AND version = $2",
        )
        .bind(s.id)
        .bind(s.version)
        .bind(&s.doc)
        .bind(s.updated_at)
        .execute(self.conn())
        .await?
        .rows_affected()
            == 1;
        if done {
            s.version += 1;
        }
        Ok(done)
    }
}
