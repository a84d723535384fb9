//! Customer rows.

use kassa_core::customer::Customer;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::{from_json, to_json, Backend, Result, Scope, Store, Tx};

const COLUMNS: &str = "id, merchant_id, email, name, phone, description, metadata, created_at, \
    updated_at, test_clock, livemode";

fn from_row(r: &AnyRow) -> Result<Customer> {
    Ok(Customer {
        id: r.get("id"),
        merchant_id: r.get("merchant_id"),
        livemode: r.get::<i64, _>("livemode") != 0,
        email: r.get("email"),
        name: r.get("name"),
        phone: r.get("phone"),
        description: r.get("description"),
        metadata: from_json(&r.get::<String, _>("metadata"))?,
        test_clock: r.get("test_clock"),
        created: r.get("created_at"),
        updated: r.get("updated_at"),
    })
}

impl Store {
    pub async fn customer(&self, scope: &Scope, id: &str) -> Result<Option<Customer>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM (SELECT * FROM customers WHERE id = $1 LIMIT 1) t WHERE merchant_id = $2 AND livemode = $3"
        ))
        .bind(id)
        .bind(&scope.merchant_id)
        .bind(i64::from(scope.livemode))
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Newest first, `limit` at most, after the customer `starting_after` (keyset pagination);
    /// only those with exactly this `email` when given. `None` when the cursor is not one of
    /// the merchant's customers.
    pub async fn list_customers(
        &self,
        scope: &Scope,
        limit: i64,
        starting_after: Option<&str>,
        email: Option<&str>,
    ) -> Result<Option<Vec<Customer>>> {
        // With no cursor every row comes before (i64::MAX, "~"): ids are letters, digits and `_`.
        let (after_created, after_id) = match starting_after {
            None => (i64::MAX, "~".to_string()),
            Some(cursor) => {
                let anchor = sqlx::query(
                    "SELECT created_at FROM (SELECT * FROM customers WHERE id = $1 LIMIT 1) t WHERE merchant_id = $2 AND livemode = $3",
                )
                .bind(cursor)
                .bind(&scope.merchant_id)
                .bind(i64::from(scope.livemode))
                .fetch_optional(&self.reader)
                .await?;
                let Some(anchor) = anchor else {
                    return Ok(None);
                };
                (anchor.get::<i64, _>(0), cursor.to_string())
            }
        };
        // Before the cursor in (created_at DESC, id DESC) order.
        let keyset = "(created_at < $2 OR (created_at = $2 AND id < $3))";
        let rows = match email {
            Some(email) => {
                sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM customers WHERE merchant_id = $1 AND livemode = $6 AND {keyset} \
                     AND email = $5 ORDER BY created_at DESC, id DESC LIMIT $4"
                ))
                .bind(&scope.merchant_id)
                .bind(after_created)
                .bind(&after_id)
                .bind(limit)
                .bind(email)
                .bind(i64::from(scope.livemode))
                .fetch_all(&self.reader)
                .await?
            }
            None => {
                sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM customers WHERE merchant_id = $1 AND livemode = $5 AND {keyset} \
                     ORDER BY created_at DESC, id DESC LIMIT $4"
                ))
                .bind(&scope.merchant_id)
                .bind(after_created)
                .bind(&after_id)
                .bind(limit)
                .bind(i64::from(scope.livemode))
                .fetch_all(&self.reader)
                .await?
            }
        };
        rows.iter().map(from_row).collect::<Result<_>>().map(Some)
    }
}

impl Tx {
    pub async fn insert_customer(&mut self, c: &Customer) -> Result<()> {
        sqlx::query(&format!(
            "INSERT INTO customers ({COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)"
        ))
        .bind(&c.id)
        .bind(&c.merchant_id)
        .bind(c.email.clone())
        .bind(c.name.clone())
        .bind(c.phone.clone())
        .bind(c.description.clone())
        .bind(to_json(&c.metadata)?)
        .bind(c.created)
        .bind(c.updated)
        .bind(c.test_clock.clone())
        .bind(i64::from(c.livemode))
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// The customer, locked for this transaction's update (PostgreSQL; SQLite's writer is
    /// already exclusive).
    pub async fn customer_for_update(
        &mut self,
        scope: &Scope,
        id: &str,
    ) -> Result<Option<Customer>> {
        let lock = match self.backend {
            Backend::Postgres => " FOR UPDATE",
            Backend::Sqlite => "",
        };
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM customers WHERE id = $1 AND merchant_id = $2 AND livemode = $3{lock}"
        ))
        .bind(id)
        .bind(&scope.merchant_id)
        .bind(i64::from(scope.livemode))
        .fetch_optional(&mut *self.tx)
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    pub async fn update_customer(&mut self, c: &Customer) -> Result<()> {
        sqlx::query(
            "UPDATE customers SET email = $1, name = $2, phone = $3, description = $4, \
             metadata = $5, updated_at = $6 WHERE id = $7 AND merchant_id = $8 AND livemode = $9",
        )
        .bind(c.email.clone())
        .bind(c.name.clone())
        .bind(c.phone.clone())
        .bind(c.description.clone())
        .bind(to_json(&c.metadata)?)
        .bind(c.updated)
        .bind(&c.id)
        .bind(&c.merchant_id)
        .bind(i64::from(c.livemode))
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Deletes the customer; false when there was none.
    pub async fn delete_customer(&mut self, scope: &Scope, id: &str) -> Result<bool> {
        let done = sqlx::query(
            "DELETE FROM customers WHERE id = $1 AND merchant_id = $2 AND livemode = $3",
        )
        .bind(id)
        .bind(&scope.merchant_id)
        .bind(i64::from(scope.livemode))
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected() > 0)
    }
}
