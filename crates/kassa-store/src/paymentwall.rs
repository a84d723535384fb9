//! Paymentwall-compatible projects and the orders opened from their signed links.
//! The subscriptions those orders start and the Delivery Confirmation submissions are in
//! child modules.

use sqlx::any::AnyRow;
use sqlx::Row;

use crate::{Result, Scope, Store, Tx};
use kassa_core::scope::Mode;

mod delivery;
mod subscriptions;

pub use delivery::PwDeliveryConfirmation;
pub use subscriptions::PwSubscription;

const PROJECT_COLUMNS: &str = "id, merchant_id, name, project_key, secret_enc, api_type, \
    pingback_url, pingback_sign_version, widgets, payment_systems, test_method, custom_pingback, \
    frame_ancestors, created_at, settings, secret_hash, live_project_key, live_secret_enc, \
    live_secret_hash, live_pingback_url";

const ORDER_COLUMNS: &str = "id, project_id, merchant_id, payment_intent_id, uid, widget, params, \
    product, ref, is_test, created_at, link_hash, country, method, subscription_id, livemode";

/// A project as stored. JSON columns stay JSON text here; the service gives them meaning.
#[derive(Clone, PartialEq, Eq)]
pub struct PwProject {
    pub id: String,
    pub merchant_id: String,
    pub name: String,
    pub project_key: String,
    /// The project's secret key, encrypted under the master key.
    pub secret_enc: String,
    pub api_type: String,
    pub pingback_url: Option<String>,
    pub pingback_sign_version: i64,
    pub widgets: String,
    pub payment_systems: String,
    pub test_method: bool,
    pub custom_pingback: String,
    pub frame_ancestors: Option<String>,
    pub created_at: i64,
    /// Further settings (JSON object) the service gives meaning to.
    pub settings: String,
    /// SHA-256 (hex) of the secret key, for finding a project by its secret.
    pub secret_hash: Option<String>,
    /// The live project key (32 hex, like the test `project_key`); `None` for a project made
    /// before live keys existed that has not asked for them yet.
    pub live_project_key: Option<String>,
    /// The live secret key, encrypted under the master key.
    pub live_secret_enc: Option<String>,
    /// SHA-256 (hex) of the live secret key.
    pub live_secret_hash: Option<String>,
    /// Where live orders' pingbacks go; `None`: to `pingback_url`, as on Paymentwall.
    pub live_pingback_url: Option<String>,
}

impl std::fmt::Debug for PwProject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PwProject")
            .field("id", &self.id)
            .field("project_key", &self.project_key)
            .field("live_project_key", &self.live_project_key)
            .field("api_type", &self.api_type)
            .finish_non_exhaustive()
    }
}

impl PwProject {
    fn from_row(r: &AnyRow) -> Self {
        PwProject {
            id: r.get("id"),
            merchant_id: r.get("merchant_id"),
            name: r.get("name"),
            project_key: r.get("project_key"),
            secret_enc: r.get("secret_enc"),
            api_type: r.get("api_type"),
            pingback_url: r.get("pingback_url"),
            pingback_sign_version: r.get("pingback_sign_version"),
            widgets: r.get("widgets"),
            payment_systems: r.get("payment_systems"),
            test_method: r.get::<i64, _>("test_method") != 0,
            custom_pingback: r.get("custom_pingback"),
            frame_ancestors: r.get("frame_ancestors"),
            created_at: r.get("created_at"),
            settings: r.get("settings"),
            secret_hash: r.get("secret_hash"),
            live_project_key: r.get("live_project_key"),
            live_secret_enc: r.get("live_secret_enc"),
            live_secret_hash: r.get("live_secret_hash"),
            live_pingback_url: r.get("live_pingback_url"),
        }
    }
}

/// A payment page opened from a signed link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PwOrder {
    pub id: String,
    pub project_id: String,
    pub merchant_id: String,
    pub payment_intent_id: String,
    pub uid: String,
    pub widget: String,
    /// The link's decoded parameters (JSON array of pairs), for custom pingback parameters.
    pub params: String,
    /// What is being bought (JSON), as the dialect understood the link.
    pub product: String,
    /// The Paymentwall-style transaction reference, set when paid.
    pub r#ref: Option<String>,
    /// Paymentwall's own test flag (`is_test=1` in pingbacks): the Test method, `test_mode=1`
    /// or `evaluation=1`. Never set on a live order.
    pub is_test: bool,
    pub created_at: i64,
    /// SHA-256 of the signed link's query, so reopening the same link finds the same order.
    pub link_hash: Option<String>,
    /// The customer's country as the page resolved it.
    pub country: Option<String>,
    /// The payment system (`ps` id) the customer paid with.
    pub method: Option<String>,
    pub subscription_id: Option<String>,
    /// Opened from a link signed with the project's live key: a live payment.
    pub livemode: bool,
}

impl PwOrder {
    fn from_row(r: &AnyRow) -> Self {
        PwOrder {
            id: r.get("id"),
            project_id: r.get("project_id"),
            merchant_id: r.get("merchant_id"),
            payment_intent_id: r.get("payment_intent_id"),
            uid: r.get("uid"),
            widget: r.get("widget"),
            params: r.get("params"),
            product: r.get("product"),
            r#ref: r.get("ref"),
            is_test: r.get::<i64, _>("is_test") != 0,
            created_at: r.get("created_at"),
            link_hash: r.get("link_hash"),
            country: r.get("country"),
            method: r.get("method"),
            subscription_id: r.get("subscription_id"),
            livemode: r.get::<i64, _>("livemode") != 0,
        }
    }
}

impl Store {
    /// One project where `column` (a fixed column name, never input) equals `value`, optionally
    /// only if it belongs to `merchant_id`.
    async fn pw_project_where(
        &self,
        column: &str,
        value: &str,
        merchant_id: Option<&str>,
    ) -> Result<Option<PwProject>> {
        let row = sqlx::query(&format!(
            "SELECT {PROJECT_COLUMNS} FROM pw_projects WHERE {column} = $1 \
             AND ($2 IS NULL OR merchant_id = $2)"
        ))
        .bind(value)
        .bind(merchant_id)
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.map(|r| PwProject::from_row(&r)))
    }

    /// The project whose test or live secret has this hash (compare the row's `secret_hash`
    /// and `live_secret_hash` to learn which).
    pub async fn pw_project_by_secret_hash(&self, hash: &str) -> Result<Option<PwProject>> {
        match self.pw_project_where("secret_hash", hash, None).await? {
            Some(p) => Ok(Some(p)),
            None => self.pw_project_where("live_secret_hash", hash, None).await,
        }
    }

    /// The project whose test or live project key this is (compare the row's `project_key`
    /// and `live_project_key` to learn which).
    pub async fn pw_project_by_key(&self, key: &str) -> Result<Option<PwProject>> {
        match self.pw_project_where("project_key", key, None).await? {
            Some(p) => Ok(Some(p)),
            None => self.pw_project_where("live_project_key", key, None).await,
        }
    }

    /// A project of this merchant (another merchant's is `None`).
    pub async fn pw_project(&self, merchant_id: &str, id: &str) -> Result<Option<PwProject>> {
        self.pw_project_where("id", id, Some(merchant_id)).await
    }

    pub async fn pw_project_by_id(&self, id: &str) -> Result<Option<PwProject>> {
        self.pw_project_where("id", id, None).await
    }

    pub async fn pw_projects(&self, merchant_id: &str) -> Result<Vec<PwProject>> {
        let rows = sqlx::query(&format!(
            "SELECT {PROJECT_COLUMNS} FROM pw_projects WHERE merchant_id = $1 ORDER BY created_at, id"
        ))
        .bind(merchant_id)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.iter().map(PwProject::from_row).collect())
    }

    pub async fn pw_order_by_intent(&self, intent_id: &str) -> Result<Option<PwOrder>> {
        let row = sqlx::query(&format!(
            "SELECT {ORDER_COLUMNS} FROM pw_orders WHERE payment_intent_id = $1"
        ))
        .bind(intent_id)
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.map(|r| PwOrder::from_row(&r)))
    }

    /// A paid order of the project in one mode (an order of the other mode is `None`).
    pub async fn pw_order_by_ref(
        &self,
        project_id: &str,
        livemode: bool,
        r#ref: &str,
    ) -> Result<Option<PwOrder>> {
        let row = sqlx::query(&format!(
            "SELECT {ORDER_COLUMNS} FROM pw_orders WHERE project_id = $1 AND livemode = $2 \
             AND ref = $3"
        ))
        .bind(project_id)
        .bind(i64::from(livemode))
        .bind(r#ref)
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.map(|r| PwOrder::from_row(&r)))
    }
}

impl Tx {
    pub async fn insert_pw_project(&mut self, p: &PwProject) -> Result<()> {
        sqlx::query(&format!(
            "INSERT INTO pw_projects ({PROJECT_COLUMNS}) \
             VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20)"
        ))
        .bind(&p.id)
        .bind(&p.merchant_id)
        .bind(&p.name)
        .bind(&p.project_key)
        .bind(&p.secret_enc)
        .bind(&p.api_type)
        .bind(p.pingback_url.clone())
        .bind(p.pingback_sign_version)
        .bind(&p.widgets)
        .bind(&p.payment_systems)
        .bind(i64::from(p.test_method))
        .bind(&p.custom_pingback)
        .bind(p.frame_ancestors.clone())
        .bind(p.created_at)
        .bind(&p.settings)
        .bind(p.secret_hash.clone())
        .bind(p.live_project_key.clone())
        .bind(p.live_secret_enc.clone())
        .bind(p.live_secret_hash.clone())
        .bind(p.live_pingback_url.clone())
        .execute(self.conn())
        .await?;
        Ok(())
    }

    pub async fn update_pw_project(&mut self, p: &PwProject) -> Result<()> {
        sqlx::query(
            "UPDATE pw_projects SET name = $1, api_type = $2, pingback_url = $3, \
             pingback_sign_version = $4, widgets = $5, payment_systems = $6, test_method = $7, \
             custom_pingback = $8, frame_ancestors = $9, secret_enc = $10, settings = $11, \
             live_pingback_url = $12 WHERE id = $13 AND merchant_id = $14",
        )
        .bind(&p.name)
        .bind(&p.api_type)
        .bind(p.pingback_url.clone())
        .bind(p.pingback_sign_version)
        .bind(&p.widgets)
        .bind(&p.payment_systems)
        .bind(i64::from(p.test_method))
        .bind(&p.custom_pingback)
        .bind(p.frame_ancestors.clone())
        .bind(&p.secret_enc)
        .bind(&p.settings)
        .bind(p.live_pingback_url.clone())
        .bind(&p.id)
        .bind(&p.merchant_id)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Gives a project a new live key pair (or, with `live_project_key` unchanged, a new live
    /// secret). Key, sealed secret and hash are written together.
    pub async fn set_pw_project_live_keys(
        &mut self,
        merchant_id: &str,
        id: &str,
        live_project_key: &str,
        live_secret_enc: &str,
        live_secret_hash: &str,
    ) -> Result<bool> {
        let n = sqlx::query(
            "UPDATE pw_projects SET live_project_key = $1, live_secret_enc = $2, \
             live_secret_hash = $3 WHERE id = $4 AND merchant_id = $5",
        )
        .bind(live_project_key)
        .bind(live_secret_enc)
        .bind(live_secret_hash)
        .bind(id)
        .bind(merchant_id)
        .execute(self.conn())
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    pub async fn insert_pw_order(&mut self, o: &PwOrder) -> Result<()> {
        sqlx::query(&format!(
            "INSERT INTO pw_orders ({ORDER_COLUMNS}) \
             VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16)"
        ))
        .bind(&o.id)
        .bind(&o.project_id)
        .bind(&o.merchant_id)
        .bind(&o.payment_intent_id)
        .bind(&o.uid)
        .bind(&o.widget)
        .bind(&o.params)
        .bind(&o.product)
        .bind(o.r#ref.clone())
        .bind(i64::from(o.is_test))
        .bind(o.created_at)
        .bind(o.link_hash.clone())
        .bind(o.country.clone())
        .bind(o.method.clone())
        .bind(o.subscription_id.clone())
        .bind(i64::from(o.livemode))
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Gives a paid order its reference, once.
    pub async fn set_pw_order_ref(&mut self, order_id: &str, r#ref: &str) -> Result<bool> {
        let n = sqlx::query("UPDATE pw_orders SET ref = $1 WHERE id = $2 AND ref IS NULL")
            .bind(r#ref)
            .bind(order_id)
            .execute(self.conn())
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    pub async fn pw_order_by_intent(&mut self, intent_id: &str) -> Result<Option<PwOrder>> {
        let row = sqlx::query(&format!(
            "SELECT {ORDER_COLUMNS} FROM pw_orders WHERE payment_intent_id = $1"
        ))
        .bind(intent_id)
        .fetch_optional(self.conn())
        .await?;
        Ok(row.map(|r| PwOrder::from_row(&r)))
    }

    pub async fn pw_project_by_id(&mut self, id: &str) -> Result<Option<PwProject>> {
        let row = sqlx::query(&format!(
            "SELECT {PROJECT_COLUMNS} FROM pw_projects WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.conn())
        .await?;
        Ok(row.map(|r| PwProject::from_row(&r)))
    }
}

impl Store {
    pub async fn pw_order(&self, id: &str) -> Result<Option<PwOrder>> {
        let row = sqlx::query(&format!(
            "SELECT {ORDER_COLUMNS} FROM pw_orders WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.map(|r| PwOrder::from_row(&r)))
    }

    /// The newest unpaid order of one mode opened from the same signed link, if any.
    pub async fn pw_open_order_by_link(
        &self,
        project_id: &str,
        livemode: bool,
        link_hash: &str,
    ) -> Result<Option<PwOrder>> {
        let row = sqlx::query(&format!(
            "SELECT {ORDER_COLUMNS} FROM pw_orders WHERE project_id = $1 AND livemode = $2 \
             AND link_hash = $3 AND ref IS NULL ORDER BY created_at DESC, id DESC LIMIT 1"
        ))
        .bind(project_id)
        .bind(i64::from(livemode))
        .bind(link_hash)
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.map(|r| PwOrder::from_row(&r)))
    }

    /// Paid orders of one end user in one mode, newest first.
    pub async fn pw_paid_orders_by_uid(
        &self,
        project_id: &str,
        livemode: bool,
        uid: &str,
        limit: i64,
    ) -> Result<Vec<PwOrder>> {
        let rows = sqlx::query(&format!(
            "SELECT {ORDER_COLUMNS} FROM pw_orders WHERE project_id = $1 AND livemode = $2 \
             AND uid = $3 AND ref IS NOT NULL ORDER BY created_at DESC, id DESC LIMIT $4"
        ))
        .bind(project_id)
        .bind(i64::from(livemode))
        .bind(uid)
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.iter().map(PwOrder::from_row).collect())
    }

    /// The newest paid order of a subscription.
    pub async fn pw_last_paid_order_of_subscription(
        &self,
        sub_id: &str,
    ) -> Result<Option<PwOrder>> {
        let row = sqlx::query(&format!(
            "SELECT {ORDER_COLUMNS} FROM pw_orders WHERE subscription_id = $1 AND ref IS NOT NULL \
             ORDER BY created_at DESC, id DESC LIMIT 1"
        ))
        .bind(sub_id)
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.map(|r| PwOrder::from_row(&r)))
    }
}

impl Tx {
    /// Is this reference already used by any order?
    pub async fn pw_ref_taken(&mut self, r#ref: &str) -> Result<bool> {
        let row = sqlx::query("SELECT 1 AS one FROM pw_orders WHERE ref = $1")
            .bind(r#ref)
            .fetch_optional(self.conn())
            .await?;
        Ok(row.is_some())
    }

    pub async fn pw_order(&mut self, id: &str) -> Result<Option<PwOrder>> {
        let row = sqlx::query(&format!(
            "SELECT {ORDER_COLUMNS} FROM pw_orders WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.conn())
        .await?;
        Ok(row.map(|r| PwOrder::from_row(&r)))
    }

    /// Records the payment system chosen on the page (the Test method makes the order a test).
    pub async fn set_pw_order_method(
        &mut self,
        order_id: &str,
        method: &str,
        is_test: bool,
    ) -> Result<()> {
        sqlx::query("UPDATE pw_orders SET method = $1, is_test = $2 WHERE id = $3")
            .bind(method)
            .bind(i64::from(is_test))
            .bind(order_id)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    pub async fn set_pw_order_subscription(&mut self, order_id: &str, sub_id: &str) -> Result<()> {
        sqlx::query("UPDATE pw_orders SET subscription_id = $1 WHERE id = $2")
            .bind(sub_id)
            .bind(order_id)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    pub async fn pw_last_paid_order_of_subscription(
        &mut self,
        sub_id: &str,
    ) -> Result<Option<PwOrder>> {
        let row = sqlx::query(&format!(
            "SELECT {ORDER_COLUMNS} FROM pw_orders WHERE subscription_id = $1 AND ref IS NOT NULL \
             ORDER BY created_at DESC, id DESC LIMIT 1"
        ))
        .bind(sub_id)
        .fetch_optional(self.conn())
        .await?;
        Ok(row.map(|r| PwOrder::from_row(&r)))
    }
}

impl PwProject {
    /// The mode `key` (a test or live project key of this project) works in; `None` when it is
    /// neither.
    pub fn mode_of_key(&self, key: &str) -> Option<Mode> {
        if self.project_key == key {
            Some(Mode::Test)
        } else if self.live_project_key.as_deref() == Some(key) {
            Some(Mode::Live)
        } else {
            None
        }
    }

    /// The mode of the secret whose hash is `hash`; `None` when it is neither.
    pub fn mode_of_secret_hash(&self, hash: &str) -> Option<Mode> {
        if self.secret_hash.as_deref() == Some(hash) {
            Some(Mode::Test)
        } else if self.live_secret_hash.as_deref() == Some(hash) {
            Some(Mode::Live)
        } else {
            None
        }
    }

    /// The merchant and mode of the project's payments in `mode`.
    pub fn scope(&self, mode: Mode) -> Scope {
        Scope::new(self.merchant_id.clone(), mode)
    }
}

impl PwOrder {
    /// The merchant and mode of the order's payment.
    pub fn scope(&self) -> Scope {
        Scope::new(self.merchant_id.clone(), Mode::from_livemode(self.livemode))
    }
}

impl PwSubscription {
    /// The merchant and mode of the subscription's payments.
    pub fn scope(&self) -> Scope {
        Scope::new(self.merchant_id.clone(), Mode::from_livemode(self.livemode))
    }
}
