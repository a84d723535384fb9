//! Paymob-compatible accounts: profiles, integrations, orders, intentions and transactions;
//! saved cards, subscription plans and subscriptions are in `billing`. JSON documents stay
//! JSON text here; the service gives them meaning.

use sqlx::any::AnyRow;
use sqlx::Row;

use crate::{Result, Scope, Store, Tx};

pub use billing::{PmCardToken, PmPlan, PmSubscription};

/// A column's value as its Rust field type (booleans are BIGINT 0/1 in both databases).
trait Col: Sized {
    fn get(r: &AnyRow, name: &str) -> Self;
}

macro_rules! plain_col {
    ($($t:ty),*) => {$(
        impl Col for $t {
            fn get(r: &AnyRow, name: &str) -> Self {
                r.get::<$t, _>(name)
            }
        }
    )*};
}
plain_col!(i64, String, Option<i64>, Option<String>);

impl Col for bool {
    fn get(r: &AnyRow, name: &str) -> Self {
        r.get::<i64, _>(name) != 0
    }
}

/// Declares a row struct, its column list and its `from_row`. Booleans are stored as BIGINT.
macro_rules! pm_row {
    ($(#[$m:meta])* $name:ident, $cols:ident = $table:literal { $($field:ident : $ty:ty),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name { $(pub $field: $ty),* }
        const $cols: &str = pm_row!(@cols $($field),*);
        impl $name {
            fn from_row(r: &AnyRow) -> Self {
                $name { $($field: <$ty as Col>::get(r, stringify!($field))),* }
            }
        }
    };
    (@cols $first:ident $(, $rest:ident)*) => { concat!(stringify!($first) $(, ", ", stringify!($rest))*) };
}

pm_row!(
    /// A merchant's Paymob account. `id` is Paymob's profile id (`owner` of transactions).
    PmProfile, PROFILE_COLUMNS = "pm_profiles" {
        id: i64, merchant_id: String, country: String, live: bool, secret_key_hash: String,
        public_key: String, api_key_hash: String, hmac_enc: String, iframe_id: i64, doc: String,
        created_at: i64,
        // The CSP `frame-ancestors` of the profile's pages; `None` is `'none'`.
        frame_ancestors: Option<String>,
    }
);
pm_row!(PmIntegration, INTEGRATION_COLUMNS = "pm_integrations" {
    id: i64, profile_id: i64, name: String, doc: String, created_at: i64,
});
pm_row!(PmOrder, ORDER_COLUMNS = "pm_orders" {
    id: i64, profile_id: i64, merchant_order_id: Option<String>, intention_id: Option<String>,
    doc: String, created_at: i64, updated_at: i64,
});
pm_row!(PmIntention, INTENTION_COLUMNS = "pm_intentions" {
    id: String, profile_id: i64, client_secret: String, order_id: i64, expires_at: i64,
    doc: String, created_at: i64, updated_at: i64,
});
pm_row!(
    /// A payment attempt or a refund, void or capture of one (`parent_id`).
    PmTransaction, TRANSACTION_COLUMNS = "pm_transactions" {
        id: i64, profile_id: i64, order_id: i64, intent_id: Option<String>, parent_id: Option<i64>,
        kind: String, obj: String, extra: String, created_at: i64, updated_at: i64,
    }
);

fn placeholders(n: usize) -> String {
    (1..=n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn count(cols: &str) -> usize {
    cols.split(',').count()
}

/// One lookup: `SELECT <cols> FROM <table> WHERE <column> = $1`, on the reader or in `tx`.
macro_rules! by {
    ($exec:expr, $ty:ident, $cols:ident, $table:literal, $col:literal, $val:expr) => {{
        let row = sqlx::query(
            concat!("SELECT ", "{cols}", " FROM ", $table, " WHERE ", $col, " = $1")
                .replace("{cols}", $cols)
                .as_str(),
        )
        .bind($val)
        .fetch_optional($exec)
        .await?;
        Ok(row.map(|r| $ty::from_row(&r)))
    }};
}

macro_rules! all_by {
    ($exec:expr, $ty:ident, $cols:ident, $table:literal, $col:literal, $val:expr, $order:literal) => {{
        let rows = sqlx::query(
            concat!(
                "SELECT {cols} FROM ",
                $table,
                " WHERE ",
                $col,
                " = $1 ORDER BY ",
                $order
            )
            .replace("{cols}", $cols)
            .as_str(),
        )
        .bind($val)
        .fetch_all($exec)
        .await?;
        Ok(rows.iter().map($ty::from_row).collect())
    }};
}

// After the macros above: `billing` uses them.
mod billing;

impl Store {
    pub async fn pm_profile(&self, id: i64) -> Result<Option<PmProfile>> {
        by!(
            &self.reader,
            PmProfile,
            PROFILE_COLUMNS,
            "pm_profiles",
            "id",
            id
        )
    }
    pub async fn pm_profile_by_secret_hash(&self, hash: &str) -> Result<Option<PmProfile>> {
        by!(
            &self.reader,
            PmProfile,
            PROFILE_COLUMNS,
            "pm_profiles",
            "secret_key_hash",
            hash
        )
    }
    pub async fn pm_profile_by_api_key_hash(&self, hash: &str) -> Result<Option<PmProfile>> {
        by!(
            &self.reader,
            PmProfile,
            PROFILE_COLUMNS,
            "pm_profiles",
            "api_key_hash",
            hash
        )
    }
    pub async fn pm_profile_by_public_key(&self, key: &str) -> Result<Option<PmProfile>> {
        by!(
            &self.reader,
            PmProfile,
            PROFILE_COLUMNS,
            "pm_profiles",
            "public_key",
            key
        )
    }
    pub async fn pm_profile_by_iframe(&self, iframe_id: i64) -> Result<Option<PmProfile>> {
        by!(
            &self.reader,
            PmProfile,
            PROFILE_COLUMNS,
            "pm_profiles",
            "iframe_id",
            iframe_id
        )
    }
    pub async fn pm_profiles_of(&self, merchant_id: &str) -> Result<Vec<PmProfile>> {
        all_by!(
            &self.reader,
            PmProfile,
            PROFILE_COLUMNS,
            "pm_profiles",
            "merchant_id",
            merchant_id,
            "id"
        )
    }
    pub async fn pm_integration(&self, id: i64) -> Result<Option<PmIntegration>> {
        by!(
            &self.reader,
            PmIntegration,
            INTEGRATION_COLUMNS,
            "pm_integrations",
            "id",
            id
        )
    }
    pub async fn pm_integrations_of(&self, profile_id: i64) -> Result<Vec<PmIntegration>> {
        all_by!(
            &self.reader,
            PmIntegration,
            INTEGRATION_COLUMNS,
            "pm_integrations",
            "profile_id",
            profile_id,
            "id"
        )
    }
    pub async fn pm_order(&self, id: i64) -> Result<Option<PmOrder>> {
        by!(&self.reader, PmOrder, ORDER_COLUMNS, "pm_orders", "id", id)
    }
    pub async fn pm_order_by_merchant_order_id(
        &self,
        profile_id: i64,
        merchant_order_id: &str,
    ) -> Result<Option<PmOrder>> {
        let row = sqlx::query(&format!(
            "SELECT {ORDER_COLUMNS} FROM pm_orders WHERE profile_id = $1 AND merchant_order_id = $2"
        ))
        .bind(profile_id)
        .bind(merchant_order_id)
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.map(|r| PmOrder::from_row(&r)))
    }
    pub async fn pm_intention(&self, id: &str) -> Result<Option<PmIntention>> {
        by!(
            &self.reader,
            PmIntention,
            INTENTION_COLUMNS,
            "pm_intentions",
            "id",
            id
        )
    }
    pub async fn pm_intention_by_client_secret(&self, cs: &str) -> Result<Option<PmIntention>> {
        by!(
            &self.reader,
            PmIntention,
            INTENTION_COLUMNS,
            "pm_intentions",
            "client_secret",
            cs
        )
    }
    pub async fn pm_transaction(&self, id: i64) -> Result<Option<PmTransaction>> {
        by!(
            &self.reader,
            PmTransaction,
            TRANSACTION_COLUMNS,
            "pm_transactions",
            "id",
            id
        )
    }
    pub async fn pm_transaction_by_intent(&self, intent_id: &str) -> Result<Option<PmTransaction>> {
        by!(
            &self.reader,
            PmTransaction,
            TRANSACTION_COLUMNS,
            "pm_transactions",
            "intent_id",
            intent_id
        )
    }
    pub async fn pm_transactions_of_order(&self, order_id: i64) -> Result<Vec<PmTransaction>> {
        all_by!(
            &self.reader,
            PmTransaction,
            TRANSACTION_COLUMNS,
            "pm_transactions",
            "order_id",
            order_id,
            "id"
        )
    }
    pub async fn pm_children(&self, parent_id: i64) -> Result<Vec<PmTransaction>> {
        all_by!(
            &self.reader,
            PmTransaction,
            TRANSACTION_COLUMNS,
            "pm_transactions",
            "parent_id",
            parent_id,
            "id"
        )
    }
}

impl Tx {
    /// The next id of a kind (`profile`, `order`, `transaction`, …).
    pub async fn pm_next_id(&mut self, kind: &str) -> Result<i64> {
        let row = sqlx::query(
            "UPDATE pm_counters SET next_value = next_value + 1 WHERE name = $1 \
             RETURNING next_value - 1 AS id",
        )
        .bind(kind)
        .fetch_one(self.conn())
        .await?;
        Ok(row.get::<i64, _>("id"))
    }

    pub async fn insert_pm_profile(&mut self, p: &PmProfile) -> Result<()> {
        sqlx::query(&format!(
            "INSERT INTO pm_profiles ({PROFILE_COLUMNS}) VALUES ({})",
            placeholders(count(PROFILE_COLUMNS))
        ))
        .bind(p.id)
        .bind(&p.merchant_id)
        .bind(&p.country)
        .bind(p.live as i64)
        .bind(&p.secret_key_hash)
        .bind(&p.public_key)
        .bind(&p.api_key_hash)
        .bind(&p.hmac_enc)
        .bind(p.iframe_id)
        .bind(&p.doc)
        .bind(p.created_at)
        .bind(&p.frame_ancestors)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Stores a profile's changeable settings: its document (name) and `frame_ancestors`.
    pub async fn update_pm_profile(&mut self, p: &PmProfile) -> Result<()> {
        sqlx::query("UPDATE pm_profiles SET doc = $2, frame_ancestors = $3 WHERE id = $1")
            .bind(p.id)
            .bind(&p.doc)
            .bind(&p.frame_ancestors)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    pub async fn insert_pm_integration(&mut self, i: &PmIntegration) -> Result<()> {
        sqlx::query(&format!(
            "INSERT INTO pm_integrations ({INTEGRATION_COLUMNS}) VALUES ({})",
            placeholders(count(INTEGRATION_COLUMNS))
        ))
        .bind(i.id)
        .bind(i.profile_id)
        .bind(&i.name)
        .bind(&i.doc)
        .bind(i.created_at)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    pub async fn update_pm_integration(&mut self, i: &PmIntegration) -> Result<()> {
        sqlx::query("UPDATE pm_integrations SET name = $2, doc = $3 WHERE id = $1")
            .bind(i.id)
            .bind(&i.name)
            .bind(&i.doc)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Inserts an order; `false` when the profile already has one with this merchant order id.
    /// A transaction inserting the same one concurrently is waited for (PostgreSQL): `false`
    /// if it commits, as on SQLite, rather than a unique-violation error.
    pub async fn insert_pm_order(&mut self, o: &PmOrder) -> Result<bool> {
        let n = sqlx::query(&format!(
            "INSERT INTO pm_orders ({ORDER_COLUMNS}) VALUES ({}) \
             ON CONFLICT (profile_id, merchant_order_id) DO NOTHING",
            placeholders(count(ORDER_COLUMNS))
        ))
        .bind(o.id)
        .bind(o.profile_id)
        .bind(&o.merchant_order_id)
        .bind(&o.intention_id)
        .bind(&o.doc)
        .bind(o.created_at)
        .bind(o.updated_at)
        .execute(self.conn())
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    pub async fn pm_order(&mut self, id: i64) -> Result<Option<PmOrder>> {
        by!(self.conn(), PmOrder, ORDER_COLUMNS, "pm_orders", "id", id)
    }

    /// Rewrites an order's document (and merchant order id); `false` when that id is taken,
    /// also by a transaction that committed it meanwhile (on PostgreSQL the transaction can then
    /// only be rolled back).
    pub async fn update_pm_order(&mut self, o: &PmOrder) -> Result<bool> {
        if let Some(moid) = &o.merchant_order_id {
            let taken = sqlx::query(
                "SELECT 1 FROM pm_orders WHERE profile_id = $1 AND merchant_order_id = $2 AND id <> $3",
            )
            .bind(o.profile_id)
            .bind(moid)
            .bind(o.id)
            .fetch_optional(self.conn())
            .await?;
            if taken.is_some() {
                return Ok(false);
            }
        }
        let done = sqlx::query(
            "UPDATE pm_orders SET merchant_order_id = $2, intention_id = $3, doc = $4, \
             updated_at = $5 WHERE id = $1",
        )
        .bind(o.id)
        .bind(&o.merchant_order_id)
        .bind(&o.intention_id)
        .bind(&o.doc)
        .bind(o.updated_at)
        .execute(self.conn())
        .await;
        match done {
            Ok(_) => Ok(true),
            // The only unique index an update can break: the merchant order id was taken by a
            // transaction that committed after the check above.
            Err(sqlx::Error::Database(d)) if d.is_unique_violation() => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn insert_pm_intention(&mut self, i: &PmIntention) -> Result<()> {
        sqlx::query(&format!(
            "INSERT INTO pm_intentions ({INTENTION_COLUMNS}) VALUES ({})",
            placeholders(count(INTENTION_COLUMNS))
        ))
        .bind(&i.id)
        .bind(i.profile_id)
        .bind(&i.client_secret)
        .bind(i.order_id)
        .bind(i.expires_at)
        .bind(&i.doc)
        .bind(i.created_at)
        .bind(i.updated_at)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    pub async fn pm_intention(&mut self, id: &str) -> Result<Option<PmIntention>> {
        by!(
            self.conn(),
            PmIntention,
            INTENTION_COLUMNS,
            "pm_intentions",
            "id",
            id
        )
    }

    pub async fn update_pm_intention(&mut self, i: &PmIntention) -> Result<()> {
        sqlx::query(
            "UPDATE pm_intentions SET expires_at = $2, doc = $3, updated_at = $4 WHERE id = $1",
        )
        .bind(&i.id)
        .bind(i.expires_at)
        .bind(&i.doc)
        .bind(i.updated_at)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    pub async fn insert_pm_transaction(&mut self, t: &PmTransaction) -> Result<()> {
        sqlx::query(&format!(
            "INSERT INTO pm_transactions ({TRANSACTION_COLUMNS}) VALUES ({})",
            placeholders(count(TRANSACTION_COLUMNS))
        ))
        .bind(t.id)
        .bind(t.profile_id)
        .bind(t.order_id)
        .bind(&t.intent_id)
        .bind(t.parent_id)
        .bind(&t.kind)
        .bind(&t.obj)
        .bind(&t.extra)
        .bind(t.created_at)
        .bind(t.updated_at)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    pub async fn pm_transaction(&mut self, id: i64) -> Result<Option<PmTransaction>> {
        by!(
            self.conn(),
            PmTransaction,
            TRANSACTION_COLUMNS,
            "pm_transactions",
            "id",
            id
        )
    }

    pub async fn pm_transaction_by_intent(
        &mut self,
        intent_id: &str,
    ) -> Result<Option<PmTransaction>> {
        by!(
            self.conn(),
            PmTransaction,
            TRANSACTION_COLUMNS,
            "pm_transactions",
            "intent_id",
            intent_id
        )
    }

    /// Locks an order's row until the transaction ends (PostgreSQL; SQLite has one writer),
    /// so two payments of one order are decided one after the other.
    pub async fn lock_pm_order(&mut self, id: i64) -> Result<()> {
        sqlx::query("UPDATE pm_orders SET updated_at = updated_at WHERE id = $1")
            .bind(id)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    pub async fn pm_transactions_of_order(&mut self, order_id: i64) -> Result<Vec<PmTransaction>> {
        all_by!(
            self.conn(),
            PmTransaction,
            TRANSACTION_COLUMNS,
            "pm_transactions",
            "order_id",
            order_id,
            "id"
        )
    }

    pub async fn pm_children(&mut self, parent_id: i64) -> Result<Vec<PmTransaction>> {
        all_by!(
            self.conn(),
            PmTransaction,
            TRANSACTION_COLUMNS,
            "pm_transactions",
            "parent_id",
            parent_id,
            "id"
        )
    }

    pub async fn update_pm_transaction(&mut self, t: &PmTransaction) -> Result<()> {
        sqlx::query(
            "UPDATE pm_transactions SET obj = $2, extra = $3, updated_at = $4 WHERE id = $1",
        )
        .bind(t.id)
        .bind(&t.obj)
        .bind(&t.extra)
        .bind(t.updated_at)
        .execute(self.conn())
        .await?;
        Ok(())
    }
}

impl PmProfile {
    /// The merchant and mode of everything made with this profile's keys: a live profile
    /// (`egy_sk_live_…`) works in live mode.
    pub fn scope(&self) -> Scope {
        Scope {
            merchant_id: self.merchant_id.clone(),
            livemode: self.live,
        }
    }
}
