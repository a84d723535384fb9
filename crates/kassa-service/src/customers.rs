//! `/v1/customers`: create, retrieve, update, list and delete a merchant's customers; each
//! change writes its event (`customer.created|updated|deleted`) in the same transaction.

use crate::Customers;
use kassa_core::customer::{self, Customer};
use kassa_core::events::EventType;
use kassa_core::ids::{new_id, prefix};
use kassa_core::intent::Metadata;
use kassa_core::scope::Scope;
use kassa_store::now_ms;

use crate::payments::{check_email_as, check_metadata};
use crate::{Idem, Result, ServiceError};

/// The fields of a create or an update. `None` leaves a field as it is; an empty string clears
/// it. Metadata merges into the customer's: a key with an empty value is removed, as Stripe does.
#[derive(Debug, Clone, Default)]
pub struct CustomerParams {
    pub email: Option<String>,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub description: Option<String>,
    pub metadata: Option<Metadata>,
    /// Attach the new customer to this test clock (`clock_…`); only when creating.
    pub test_clock: Option<String>,
}

impl CustomerParams {
    /// Applies the fields to `c`, checking each one.
    fn apply(self, c: &mut Customer) -> Result<()> {
        let text = |v: &str, max, what: &str| {
            customer::text_field(v, max, what).map_err(|m| ServiceError::invalid(what, m))
        };
        if let Some(e) = self.email {
            c.email = match e.trim() {
                "" => None,
                e => Some(check_email_as("email", e)?),
            };
        }
        if let Some(n) = self.name {
            c.name = text(&n, customer::MAX_NAME, "name")?;
        }
        if let Some(p) = self.phone {
            c.phone = text(&p, customer::MAX_PHONE, "phone")?;
            if c.phone
                .as_deref()
                .is_some_and(|p| !customer::check_phone(p))
            {
                return Err(ServiceError::invalid(
                    "phone",
                    "phone must be a phone number: digits, with an optional leading + and spaces, dashes, dots or parentheses.",
                ));
            }
        }
        if let Some(d) = self.description {
            c.description = text(&d, customer::MAX_DESCRIPTION, "description")?;
        }
        if let Some(m) = self.metadata {
            for (k, v) in m {
                if v.is_empty() {
                    c.metadata.remove(&k);
                } else {
                    c.metadata.insert(k, v);
                }
            }
            check_metadata(&c.metadata)?;
        }
        Ok(())
    }
}

impl Customers<'_> {
    pub async fn create_customer(
        &self,
        scope: &Scope,
        mut p: CustomerParams,
        idem: Option<&Idem>,
    ) -> Result<Customer> {
        let now = now_ms();
        let mut c = Customer {
            id: new_id(prefix::CUSTOMER),
            merchant_id: scope.merchant_id.clone(),
            livemode: scope.livemode,
            email: None,
            name: None,
            phone: None,
            description: None,
            metadata: Metadata::new(),
            test_clock: None,
            created: now,
            updated: now,
        };
        if let Some(clock) = p.test_clock.take() {
            self.billing()
                .test_clock(scope, &clock)
                .await
                .map_err(|_| {
                    ServiceError::invalid(
                        "test_clock",
                        format!(
                            "No such test clock: '{}'.",
                            clock.chars().take(100).collect::<String>()
                        ),
                    )
                })?;
            c.test_clock = Some(clock);
        }
        p.apply(&mut c)?;
        let body = c.to_json();
        let mut tx = self.store.begin().await?;
        tx.insert_customer(&c).await?;
        let ev = self
            .payments()
            .new_event(scope, EventType::CustomerCreated, body.clone(), now);
        tx.insert_event(&ev, &c.id).await?;
        self.payments().finish(tx, idem, &body).await?;
        Ok(c)
    }

    pub async fn customer(&self, scope: &Scope, id: &str) -> Result<Customer> {
        self.store
            .customer(scope, id)
            .await?
            .ok_or_else(|| ServiceError::not_found("customer", id))
    }

    pub async fn update_customer(
        &self,
        scope: &Scope,
        id: &str,
        p: CustomerParams,
        idem: Option<&Idem>,
    ) -> Result<Customer> {
        let now = now_ms();
        let mut tx = self.store.begin().await?;
        let mut c = tx
            .customer_for_update(scope, id)
            .await?
            .ok_or_else(|| ServiceError::not_found("customer", id))?;
        let before = c.clone();
        if p.test_clock.is_some() {
            return Err(ServiceError::invalid(
                "test_clock",
                "A customer's test clock is set when the customer is created.",
            ));
        }
        p.apply(&mut c)?;
        let body = c.to_json();
        if c != before {
            c.updated = now;
            tx.update_customer(&c).await?;
            let ev =
                self.payments()
                    .new_event(scope, EventType::CustomerUpdated, body.clone(), now);
            tx.insert_event(&ev, &c.id).await?;
        }
        self.payments().finish(tx, idem, &body).await?;
        Ok(c)
    }

    /// Deletes a customer for good; answers (and the `customer.deleted` event carries) the
    /// deleted stub `{id, object, deleted: true}`.
    pub async fn delete_customer(
        &self,
        scope: &Scope,
        id: &str,
        idem: Option<&Idem>,
    ) -> Result<serde_json::Value> {
        let now = now_ms();
        let mut tx = self.store.begin().await?;
        let c = tx
            .customer_for_update(scope, id)
            .await?
            .ok_or_else(|| ServiceError::not_found("customer", id))?;
        self.payments()
            .detach_all_methods(&mut tx, scope, id, now)
            .await?;
        tx.delete_customer(scope, id).await?;
        let body = c.deleted_json();
        let ev = self
            .payments()
            .new_event(scope, EventType::CustomerDeleted, body.clone(), now);
        tx.insert_event(&ev, &c.id).await?;
        self.payments().finish(tx, idem, &body).await?;
        Ok(body)
    }

    /// A page of customers, newest first (`limit + 1` asked for so the caller can tell
    /// `has_more`); `None` when `starting_after` is not one of the merchant's customers.
    pub async fn list_customers(
        &self,
        scope: &Scope,
        limit: i64,
        starting_after: Option<&str>,
        email: Option<&str>,
    ) -> Result<Option<Vec<Customer>>> {
        let email = match email.map(str::trim) {
            None | Some("") => None,
            Some(e) => Some(check_email_as("email", e)?),
        };
        Ok(self
            .store
            .list_customers(scope, limit, starting_after, email.as_deref())
            .await?)
    }
}
