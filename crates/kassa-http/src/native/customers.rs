//! `/v1/customers`.

use axum::extract::{Path, State};
use axum::{Extension, Json};
use kassa_core::intent::Metadata;
use kassa_service::{CustomerParams, Idem};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::{cursor_not_found, list_body, page_limit, Caller};
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery};
use crate::AppState;

/// The fields of a create or an update. An empty string clears a field; metadata merges (an
/// empty value removes its key).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerFields {
    /// Where the customer is reached; exact-match searchable with `GET /v1/customers?email=`.
    pub email: Option<String>,
    /// Full name, at most 256 characters.
    pub name: Option<String>,
    /// Digits with an optional leading `+`, spaces, dashes, dots or parentheses (4 to 20 digits).
    pub phone: Option<String>,
    /// At most 1000 characters.
    pub description: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Metadata>,
    /// On create only: attach the customer to a test clock (`clock_…`); its subscriptions then
    /// live at the clock's time.
    pub test_clock: Option<String>,
}

impl From<CustomerFields> for CustomerParams {
    fn from(f: CustomerFields) -> Self {
        CustomerParams {
            email: f.email,
            name: f.name,
            phone: f.phone,
            description: f.description,
            metadata: f.metadata,
            test_clock: f.test_clock,
        }
    }
}

/// A customer as the API answers it.
// Describes the answer in the OpenAPI document; the unit test below pins it to the object
// the handler answers (the fields are read only there).
#[allow(dead_code)]
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerObject {
    /// `cus_…`
    pub id: String,
    /// Always `customer`.
    pub object: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub description: Option<String>,
    #[schema(value_type = Object)]
    pub metadata: Metadata,
    /// The test clock the customer is attached to.
    pub test_clock: Option<String>,
    /// Unix seconds.
    pub created: i64,
    /// True for live-mode data (made with a live key), false for test data.
    pub livemode: bool,
}

/// What deleting a customer answers.
// Describes the answer in the OpenAPI document; the unit test below pins it to the object
// the handler answers (the fields are read only there).
#[allow(dead_code)]
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeletedCustomer {
    pub id: String,
    /// Always `customer`.
    pub object: String,
    /// Always true.
    pub deleted: bool,
}

/// A page of customers.
// Describes the answer in the OpenAPI document; the unit test below pins it to the object
// the handler answers (the fields are read only there).
#[allow(dead_code)]
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerList {
    /// Always `list`.
    pub object: String,
    pub url: String,
    pub has_more: bool,
    pub data: Vec<CustomerObject>,
}

/// `limit`, `starting_after` and an `email` filter.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CustomerListParams {
    /// 1 to 100, default 10.
    pub limit: Option<i64>,
    /// Id of the last customer of the previous page.
    pub starting_after: Option<String>,
    /// Only customers with exactly this email address.
    pub email: Option<String>,
}

/// Create a customer.
#[utoipa::path(post, path = "/v1/customers", request_body = CustomerFields,
    responses((status = 200, description = "The new customer", body = CustomerObject), (status = 400, description = "A field is not valid")),
    security(("bearer" = [])), tag = "customers")]
pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    idem: Option<Extension<Idem>>,
    ApiJson(req): ApiJson<CustomerFields>,
) -> Result<Json<Value>, ApiError> {
    caller.require_secret()?;
    let c = state
        .svc
        .customers()
        .create_customer(&caller.scope, req.into(), idem.as_ref().map(|e| &e.0))
        .await?;
    Ok(Json(c.to_json()))
}

/// Retrieve a customer.
#[utoipa::path(get, path = "/v1/customers/{id}", params(("id" = String, Path)),
    responses((status = 200, description = "The customer", body = CustomerObject), (status = 404, description = "No such customer (or it was deleted)")),
    security(("bearer" = [])), tag = "customers")]
pub async fn retrieve(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require_secret()?;
    Ok(Json(
        state
            .svc
            .customers()
            .customer(&caller.scope, &id)
            .await?
            .to_json(),
    ))
}

/// Update a customer: only the fields sent change.
#[utoipa::path(post, path = "/v1/customers/{id}", params(("id" = String, Path)), request_body = CustomerFields,
    responses((status = 200, description = "The customer", body = CustomerObject), (status = 400, description = "A field is not valid"), (status = 404, description = "No such customer")),
    security(("bearer" = [])), tag = "customers")]
pub async fn update(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    idem: Option<Extension<Idem>>,
    ApiJson(req): ApiJson<CustomerFields>,
) -> Result<Json<Value>, ApiError> {
    caller.require_secret()?;
    let c = state
        .svc
        .customers()
        .update_customer(&caller.scope, &id, req.into(), idem.as_ref().map(|e| &e.0))
        .await?;
    Ok(Json(c.to_json()))
}

/// Delete a customer for good.
#[utoipa::path(delete, path = "/v1/customers/{id}", params(("id" = String, Path)),
    responses((status = 200, description = "The deleted stub", body = DeletedCustomer), (status = 404, description = "No such customer")),
    security(("bearer" = [])), tag = "customers")]
pub async fn delete(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    idem: Option<Extension<Idem>>,
) -> Result<Json<Value>, ApiError> {
    caller.require_secret()?;
    Ok(Json(
        state
            .svc
            .customers()
            .delete_customer(&caller.scope, &id, idem.as_ref().map(|e| &e.0))
            .await?,
    ))
}

/// List customers, newest first.
#[utoipa::path(get, path = "/v1/customers", params(CustomerListParams),
    responses((status = 200, description = "A page of customers", body = CustomerList)),
    security(("bearer" = [])), tag = "customers")]
pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiQuery(q): ApiQuery<CustomerListParams>,
) -> Result<Json<Value>, ApiError> {
    caller.require_secret()?;
    let limit = page_limit(q.limit)?;
    let items = state
        .svc
        .customers()
        .list_customers(
            &caller.scope,
            limit + 1,
            q.starting_after.as_deref(),
            q.email.as_deref(),
        )
        .await?
        .ok_or_else(|| cursor_not_found(q.starting_after.as_deref().unwrap_or_default()))?;
    let items = items.iter().map(|c| c.to_json()).collect();
    Ok(Json(list_body("/v1/customers", items, limit)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kassa_core::customer::Customer;

    /// The documented schemas are the objects the handlers answer (unknown fields refused).
    #[test]
    fn schemas_match_the_objects() {
        let mut c = Customer {
            id: "cus_1".into(),
            merchant_id: "acct_1".into(),
            livemode: false,
            email: Some("a@b.co".into()),
            name: Some("Ada".into()),
            phone: None,
            description: None,
            metadata: Metadata::new(),
            test_clock: None,
            created: 1_700_000_000_000,
            updated: 1_700_000_000_000,
        };
        c.metadata.insert("k".into(), "v".into());
        let o: CustomerObject = serde_json::from_value(c.to_json()).unwrap();
        assert_eq!((o.id.as_str(), o.created), ("cus_1", 1_700_000_000));
        let d: DeletedCustomer = serde_json::from_value(c.deleted_json()).unwrap();
        assert!(d.deleted);
        let l: CustomerList =
            serde_json::from_value(list_body("/v1/customers", vec![c.to_json()], 10)).unwrap();
        assert_eq!(l.data.len(), 1);
    }
}
