//! The merchant dashboard's Payments list: a merchant's payments filtered and paged newest
//! first, and the payments behind any id a merchant may hold (Kassa's own, Paymentwall's or
//! Paymob's).
//!
//! Both run on one merchant's possibly millions of payments, so every filter has an index that
//! leads with (merchant, mode) (migration 0022) and the queries are written so both databases
//! can use them. The SQL is assembled from fixed fragments; every value a user typed is a bound
//! parameter.

use sqlx::any::AnyArguments;
use sqlx::query::Query;

use super::*;

/// Which API made a payment: the native API, the Paymentwall-compatible one or the
/// Paymob-compatible one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Face {
    Native,
    Paymentwall,
    Paymob,
}

impl Face {
    /// The stored name (`payment_intents.face`).
    pub fn as_str(self) -> &'static str {
        match self {
            Face::Native => "native",
            Face::Paymentwall => "paymentwall",
            Face::Paymob => "paymob",
        }
    }

    pub fn parse(s: &str) -> Option<Face> {
        [Face::Native, Face::Paymentwall, Face::Paymob]
            .into_iter()
            .find(|f| f.as_str() == s)
    }
}

/// The face that made a new payment, stored with it (it never changes). A Paymentwall payment
/// carries its order's key from the start. A Paymob payment carries the `paymob_order` and
/// `paymob_transaction` metadata the Paymob face writes on every payment it makes (its own
/// callbacks key on them too), and its order is already stored, in one of the merchant's
/// profiles of the payment's mode: checking the order keeps a native payment whose creator
/// chose those metadata keys native.
pub(crate) async fn face_of_new_intent(
    conn: &mut sqlx::AnyConnection,
    pi: &PaymentIntent,
) -> Result<Face> {
    if pi
        .order_key
        .as_deref()
        .is_some_and(|k| k.starts_with("paymentwall:"))
    {
        return Ok(Face::Paymentwall);
    }
    let order = pi
        .metadata
        .get("paymob_order")
        .filter(|_| pi.metadata.contains_key("paymob_transaction"))
        .and_then(|o| paymob_id(o));
    if let Some(order) = order {
        let found = sqlx::query(
            "SELECT 1 FROM pm_orders o JOIN pm_profiles p ON p.id = o.profile_id \
             WHERE o.id = $1 AND p.merchant_id = $2 AND p.live = $3",
        )
        .bind(order)
        .bind(&pi.merchant_id)
        .bind(i64::from(pi.livemode))
        .fetch_optional(conn)
        .await?;
        if found.is_some() {
            return Ok(Face::Paymob);
        }
    }
    Ok(Face::Native)
}

/// What the dashboard's Payments list is narrowed to; every field given must hold (AND).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PaymentFilter {
    /// An intent status (`succeeded`, `requires_capture`, …); any other text matches nothing.
    pub status: Option<String>,
    pub face: Option<Face>,
    /// A currency code, in either case.
    pub currency: Option<String>,
    /// Smallest amount, in minor units, inclusive.
    pub amount_min: Option<i64>,
    /// Largest amount, in minor units, inclusive.
    pub amount_max: Option<i64>,
    /// Created at or after (Unix milliseconds).
    pub created_from: Option<i64>,
    /// Created before (Unix milliseconds, exclusive).
    pub created_to: Option<i64>,
    /// A customer id (`cus_…`), or an e-mail address matched without regard to case against
    /// the payment's receipt e-mail and its customer's e-mail.
    pub customer: Option<String>,
    /// The last four digits of the card (or wallet phone number) that paid.
    pub last4: Option<String>,
}

/// The longest text [`Store::find_payments_by_reference`] looks up; no id Kassa, Paymentwall or
/// Paymob gives out comes close.
const MAX_REFERENCE_LEN: usize = 255;

/// At most this many payments answer one reference (a Paymob order paid again and again is the
/// only id that names more than one).
const MAX_REFERENCE_MATCHES: i64 = 100;

/// At most this many of a merchant's customers share one e-mail address for the customer
/// filter; more than that is not a search a page can answer.
const MAX_CUSTOMERS_PER_EMAIL: i64 = 50;

/// A bound value of a query assembled at run time.
enum Arg {
    Int(i64),
    Text(String),
}

/// SQL assembled from fixed fragments, and the values its `$n` placeholders stand for.
#[derive(Default)]
struct Sql {
    text: String,
    args: Vec<Arg>,
}

impl Sql {
    /// Adds `value` to the bound values and returns its placeholder.
    fn arg(&mut self, value: Arg) -> String {
        self.args.push(value);
        format!("${}", self.args.len())
    }

    fn int(&mut self, v: i64) -> String {
        self.arg(Arg::Int(v))
    }

    fn text(&mut self, v: &str) -> String {
        self.arg(Arg::Text(v.to_string()))
    }

    fn push(&mut self, fragment: &str) {
        self.text.push_str(fragment);
    }

    /// The query, its values bound in order. Not kept as a prepared statement: the text changes
    /// with the filters given (each shape would stay cached on every connection), and on
    /// PostgreSQL a one-off statement is planned knowing its values, so a rare status or a
    /// narrow amount range gets the index that suits it, where a cached generic plan would
    /// guess once for every value.
    fn query(&self) -> Query<'_, Any, AnyArguments<'_>> {
        let mut q = sqlx::query(&self.text).persistent(false);
        for a in &self.args {
            q = match a {
                Arg::Int(v) => q.bind(*v),
                Arg::Text(v) => q.bind(v.as_str()),
            };
        }
        q
    }
}

/// `Some` positive number when `q` is one (Paymob's ids are).
fn paymob_id(q: &str) -> Option<i64> {
    if q.is_empty() || !q.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    q.parse::<i64>().ok().filter(|&n| n > 0)
}

impl Store {
    /// One page of the scope's payments that pass `f`, newest first (by creation time, then
    /// id). `starting_after` is the last payment of the previous page; it only has to be one
    /// of the scope's payments, not to pass `f` still (a payment that changed status between
    /// two pages keeps its place). `None` when it names no payment of the scope.
    pub async fn dashboard_payments(
        &self,
        scope: &Scope,
        f: &PaymentFilter,
        limit: i64,
        starting_after: Option<&str>,
    ) -> Result<Option<Vec<PaymentIntent>>> {
        let livemode = i64::from(scope.livemode);
        let anchor = match starting_after {
            None => None,
            Some(cursor) => {
                let row = sqlx::query(
                    "SELECT created_at FROM (SELECT created_at, merchant_id, livemode \
                     FROM payment_intents WHERE id = $1 LIMIT 1) t \
                     WHERE merchant_id = $2 AND livemode = $3",
                )
                .bind(cursor)
                .bind(&scope.merchant_id)
                .bind(livemode)
                .fetch_optional(&self.reader)
                .await?;
                let Some(row) = row else {
                    return Ok(None);
                };
                Some((row.get::<i64, _>(0), cursor))
            }
        };
        // An e-mail address also names the merchant's customers who have it; their ids are
        // read first so the payments query stays a plain OR of two indexed conditions.
        let customer = match f.customer.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(c) if c.starts_with("cus_") => Some((c.to_string(), None)),
            Some(email) => {
                let rows = sqlx::query(
                    "SELECT id FROM customers WHERE merchant_id = $1 AND livemode = $2 \
                     AND lower(email) = lower($3) ORDER BY id LIMIT $4",
                )
                .bind(&scope.merchant_id)
                .bind(livemode)
                .bind(email)
                .bind(MAX_CUSTOMERS_PER_EMAIL)
                .fetch_all(&self.reader)
                .await?;
                let ids: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
                Some((email.to_string(), Some(ids)))
            }
        };

        let mut sql = Sql::default();
        let merchant = sql.text(&scope.merchant_id);
        let mode = sql.int(livemode);
        sql.push(&format!(
            "SELECT {INTENT_COLUMNS} FROM payment_intents \
             WHERE merchant_id = {merchant} AND livemode = {mode}"
        ));
        if let Some((created, id)) = anchor {
            // A row comparison is one range over the index's (created_at, id) columns.
            let (c, i) = (sql.int(created), sql.text(id));
            sql.push(&format!(" AND (created_at, id) < ({c}, {i})"));
        }
        if let Some(status) = &f.status {
            let p = sql.text(status);
            sql.push(&format!(" AND status = {p}"));
        }
        if let Some(currency) = &f.currency {
            // Stored as the upper-case ISO code.
            let p = sql.text(&currency.trim().to_ascii_uppercase());
            sql.push(&format!(" AND currency = {p}"));
        }
        if let Some(min) = f.amount_min {
            let p = sql.int(min);
            sql.push(&format!(" AND amount >= {p}"));
        }
        if let Some(max) = f.amount_max {
            let p = sql.int(max);
            sql.push(&format!(" AND amount <= {p}"));
        }
        if let Some(from) = f.created_from {
            let p = sql.int(from);
            sql.push(&format!(" AND created_at >= {p}"));
        }
        if let Some(to) = f.created_to {
            let p = sql.int(to);
            sql.push(&format!(" AND created_at < {p}"));
        }
        match customer {
            None => {}
            Some((id, None)) => {
                let p = sql.text(&id);
                sql.push(&format!(" AND customer_id = {p}"));
            }
            Some((email, Some(customer_ids))) => {
                let p = sql.text(&email);
                sql.push(&format!(" AND (lower(receipt_email) = lower({p})"));
                if !customer_ids.is_empty() {
                    let list: Vec<String> = customer_ids.iter().map(|c| sql.text(c)).collect();
                    sql.push(&format!(" OR customer_id IN ({})", list.join(", ")));
                }
                sql.push(")");
            }
        }
        if let Some(last4) = &f.last4 {
            let p = sql.text(last4.trim());
            sql.push(&format!(" AND card_last4 = {p}"));
        }
        if let Some(face) = f.face {
            let p = sql.text(face.as_str());
            sql.push(&format!(" AND face = {p}"));
        }
        let limit = sql.int(limit.max(0));
        sql.push(&format!(" ORDER BY created_at DESC, id DESC LIMIT {limit}"));
        let rows = sql.query().fetch_all(&self.reader).await?;
        rows.iter()
            .map(intent_from_row)
            .collect::<Result<Vec<_>>>()
            .map(Some)
    }

    /// The scope's payments named by `q`, newest first: whatever id of a payment the merchant
    /// holds — the payment's (`pi_…`), one of its refunds' (`re_…`), the processor's reference
    /// of one of its attempts, a Paymentwall order's id or `ref`, or Paymob's order id,
    /// transaction id (of the payment or of one of its refunds, voids or captures), merchant
    /// order id, intention id or intention client secret. Another
    /// merchant's or the other mode's payments are never found.
    pub async fn find_payments_by_reference(
        &self,
        scope: &Scope,
        q: &str,
    ) -> Result<Vec<PaymentIntent>> {
        let q = q.trim();
        if q.is_empty() || q.len() > MAX_REFERENCE_LEN {
            return Ok(Vec::new());
        }
        // Each branch reads one row (or one order's transactions) through a primary key or a
        // unique index; the payments are then read by id and checked against the scope, so a
        // branch needs no scope of its own except to reach an index.
        let mut sql = Sql::default();
        let merchant = sql.text(&scope.merchant_id);
        let mode = sql.int(i64::from(scope.livemode));
        let text = sql.text(q);
        sql.push(&format!(
            "SELECT {INTENT_COLUMNS} FROM payment_intents \
             WHERE merchant_id = {merchant} AND livemode = {mode} AND id IN ( \
             SELECT {text} \
             UNION ALL SELECT payment_intent_id FROM refunds WHERE id = {text} \
             UNION ALL SELECT payment_intent_id FROM payment_attempts WHERE processor_ref = {text} \
             UNION ALL SELECT payment_intent_id FROM pw_orders WHERE id = {text} \
             UNION ALL SELECT payment_intent_id FROM pw_orders WHERE ref = {text} \
             UNION ALL SELECT t.intent_id FROM pm_orders o \
                 JOIN pm_transactions t ON t.order_id = o.id \
                 WHERE o.merchant_order_id = {text} \
                 AND o.profile_id IN (SELECT id FROM pm_profiles WHERE merchant_id = {merchant}) \
             UNION ALL SELECT t.intent_id FROM pm_intentions i \
                 JOIN pm_transactions t ON t.order_id = i.order_id WHERE i.id = {text} \
             UNION ALL SELECT t.intent_id FROM pm_intentions i \
                 JOIN pm_transactions t ON t.order_id = i.order_id WHERE i.client_secret = {text}"
        ));
        if let Some(n) = paymob_id(q) {
            // A refund, void or capture transaction names no payment itself: its parent does.
            let n = sql.int(n);
            sql.push(&format!(
                " UNION ALL SELECT intent_id FROM pm_transactions WHERE order_id = {n} \
                 UNION ALL SELECT COALESCE(t.intent_id, p.intent_id) FROM pm_transactions t \
                     LEFT JOIN pm_transactions p ON p.id = t.parent_id WHERE t.id = {n}"
            ));
        }
        let limit = sql.int(MAX_REFERENCE_MATCHES);
        sql.push(&format!(
            ") ORDER BY created_at DESC, id DESC LIMIT {limit}"
        ));
        let rows = sql.query().fetch_all(&self.reader).await?;
        rows.iter().map(intent_from_row).collect()
    }
}
