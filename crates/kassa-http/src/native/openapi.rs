//! The OpenAPI 3.1 document of the native API, generated from the handlers' annotations.

use std::collections::HashMap;

use axum::http::Method;
use axum::Json;
use serde_json::{json, Value};
use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, Ref, RefOr, Required, Response};
use utoipa::{Modify, OpenApi};

use super::{
    audit, branding, customers, intents, payment_methods, paymentwall, paymob, processor_accounts,
    refunds, subscriptions, test_clocks, webhooks,
};

#[derive(OpenApi)]
#[openapi(
    info(title = "Kassa native API", description = "Payment intents, refunds, customers and their saved payment methods, subscriptions, invoices and test clocks, webhook endpoints, events, processor accounts (where live payments go), the audit log, Paymentwall projects, subscriptions and payments, Paymob profiles, and the payer pages' branding. Authenticate with `Authorization: Bearer sk_test_…` (test mode) or `sk_live_…` (live mode: the key decides the mode of everything it reads and writes). Every POST accepts an `Idempotency-Key` header."),
    paths(
        intents::create, intents::retrieve, intents::list, intents::confirm, intents::capture, intents::cancel,
        refunds::create, refunds::retrieve, refunds::list,
        customers::create, customers::retrieve, customers::update, customers::delete, customers::list,
        payment_methods::retrieve, payment_methods::detach, payment_methods::list_for_customer,
        subscriptions::create, subscriptions::retrieve, subscriptions::update, subscriptions::cancel,
        subscriptions::pause, subscriptions::resume, subscriptions::list,
        subscriptions::retrieve_invoice, subscriptions::list_invoices,
        test_clocks::create, test_clocks::retrieve, test_clocks::list, test_clocks::advance, test_clocks::delete,
        webhooks::create, webhooks::list, webhooks::retrieve, webhooks::update, webhooks::delete, webhooks::rotate,
        webhooks::list_events, webhooks::retrieve_event, webhooks::event_deliveries, webhooks::resend,
        processor_accounts::create, processor_accounts::list, processor_accounts::retrieve, processor_accounts::delete,
        paymentwall::create_project, paymentwall::list_projects, paymentwall::retrieve_project, paymentwall::update_project,
        paymentwall::test_pingback, paymentwall::project_subscriptions, paymentwall::retrieve_subscription,
        paymentwall::cancel_subscription, paymentwall::advance_clock, paymentwall::retrieve_payment, paymentwall::chargeback,
        paymob::create_profile, paymob::list_profiles, paymob::retrieve_profile, paymob::update_profile,
        paymob::add_integration,
        paymob::update_integration, paymob::sandbox_settle, paymob::advance_clock,
        branding::retrieve, branding::modify, branding::upload_logo, branding::delete_logo,
        audit::list,
    ),
    modifiers(&Bearer, &FormBodies, &CommonAnswers, &UniqueOperationIds)
)]
pub struct ApiDoc;

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Every JSON request body may also be sent form-encoded (`application/x-www-form-urlencoded`,
/// nested fields in brackets), with the same schema. The server reads both for every
/// operation; the document leaves form out where the body is a list of objects (a
/// subscription's `items`): OpenAPI cannot say how such a list is form-encoded, and client
/// generators given both content types with one schema send the form, which then loses the
/// items.
struct FormBodies;

/// Paths whose request bodies are documented as JSON only (see [`FormBodies`]).
const JSON_ONLY_BODIES: &[&str] = &["/v1/subscriptions"];

impl Modify for FormBodies {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            if JSON_ONLY_BODIES.contains(&path.as_str()) {
                continue;
            }
            for op in [&mut item.post, &mut item.put, &mut item.patch]
                .into_iter()
                .flatten()
            {
                if let Some(body) = op.request_body.as_mut() {
                    if let Some(json) = body.content.get("application/json").cloned() {
                        body.content
                            .insert("application/x-www-form-urlencoded".to_string(), json);
                    }
                }
            }
        }
    }
}

/// What any operation may answer before or besides its handler, added where the operation does
/// not document it already: the authentication middleware's 401 and 403 (a publishable key
/// outside retrieving and confirming an intent) and its 429; the request parsers' 400 for a
/// malformed query or body; a 404 for an unknown id in the path; and for a POST the
/// `Idempotency-Key` header with its 409 (its first request still runs, or a concurrent change)
/// and 422 (reused for another request). Every error answer is an `ErrorBody`.
struct CommonAnswers;

impl CommonAnswers {
    fn add(op: &mut Operation, status: &str, description: &str) {
        op.responses
            .responses
            .entry(status.to_string())
            .or_insert_with(|| RefOr::T(Response::new(description)));
    }
}

impl Modify for CommonAnswers {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            for (method, op) in [
                (Method::GET, &mut item.get),
                (Method::POST, &mut item.post),
                (Method::DELETE, &mut item.delete),
            ] {
                let Some(op) = op.as_mut() else { continue };
                let has_query = op
                    .parameters
                    .iter()
                    .flatten()
                    .any(|p| matches!(p.parameter_in, ParameterIn::Query));
                Self::add(op, "401", "No API key, or not a valid one");
                if !super::publishable_may(&method, path) {
                    Self::add(
                        op,
                        "403",
                        "A publishable key cannot do this; use the secret key",
                    );
                }
                Self::add(
                    op,
                    "429",
                    "Too many requests with this key; retry after `Retry-After` seconds",
                );
                // A POST's input includes its Idempotency-Key header.
                if has_query || op.request_body.is_some() || method == Method::POST {
                    Self::add(op, "400", "A malformed, ill-typed or unknown parameter");
                }
                if path.contains('{') {
                    Self::add(op, "404", "No such object");
                }
                if method == Method::POST {
                    let key = ParameterBuilder::new()
                        .name("Idempotency-Key")
                        .parameter_in(ParameterIn::Header)
                        .required(Required::False)
                        .description(Some(
                            "Makes a retry safe: a POST repeated with the same key within 24 hours \
                             answers what the first answered (`Idempotent-Replayed: true`) and \
                             takes effect once. 1 to 255 printable ASCII characters.",
                        ))
                        .schema(Some(
                            ObjectBuilder::new()
                                .schema_type(Type::String)
                                .min_length(Some(1))
                                .max_length(Some(255))
                                .pattern(Some("^[\\x20-\\x7e]+$")),
                        ))
                        .build();
                    op.parameters.get_or_insert_with(Vec::new).push(key);
                    Self::add(op, "409", "The Idempotency-Key's first request is still running, or a concurrent request changed the object; retry");
                    Self::add(
                        op,
                        "422",
                        "The Idempotency-Key was used with a different request",
                    );
                }
                for (status, answer) in op.responses.responses.iter_mut() {
                    let RefOr::T(answer) = answer else { continue };
                    if status.starts_with('4') && answer.content.is_empty() && status != "413" {
                        answer.content.insert(
                            "application/json".to_string(),
                            Content::new(Some(Ref::from_schema_name("ErrorBody"))),
                        );
                    }
                }
            }
        }
    }
}

/// Operation ids are unique in the document: a handler named only by its verb (`create`,
/// `retrieve`) whose name another operation shares is qualified by its tag
/// (`customers_retrieve`).
struct UniqueOperationIds;

impl Modify for UniqueOperationIds {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let ops = || {
            openapi
                .paths
                .paths
                .values()
                .flat_map(|i| [&i.get, &i.post, &i.delete, &i.put, &i.patch])
                .flatten()
        };
        let mut seen: HashMap<String, usize> = HashMap::new();
        for op in ops() {
            if let Some(id) = &op.operation_id {
                *seen.entry(id.clone()).or_default() += 1;
            }
        }
        for item in openapi.paths.paths.values_mut() {
            for op in [
                &mut item.get,
                &mut item.post,
                &mut item.delete,
                &mut item.put,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                let (Some(id), Some(tag)) = (&op.operation_id, op.tags.iter().flatten().next())
                else {
                    continue;
                };
                if seen.get(id).copied().unwrap_or(0) > 1 {
                    op.operation_id = Some(format!("{tag}_{id}"));
                }
            }
        }
    }
}

/// An answer's id used by a later call: (operation, its path) → (next operation, its path, path
/// parameters, request body), each value a runtime expression.
type LinkSpec = (
    (&'static str, &'static str),
    (&'static str, &'static str),
    &'static [(&'static str, &'static str)],
    Option<(&'static str, &'static str)>,
);

const ID: &[(&str, &str)] = &[("id", "$response.body#/id")];
const PI: &str = "/v1/payment_intents/{id}";
const PI_REFUND: Option<(&str, &str)> = Some(("payment_intent", "$response.body#/id"));

/// Where an object a call answers is used next: a client (and schemathesis' stateful tests)
/// can follow a created intent to its confirmation, capture and refund, a created endpoint to
/// its update, and so on.
const LINKS: &[LinkSpec] = &[
    (("post", "/v1/payment_intents"), ("get", PI), ID, None),
    (
        ("post", "/v1/payment_intents"),
        ("post", "/v1/payment_intents/{id}/confirm"),
        ID,
        None,
    ),
    (
        ("post", "/v1/payment_intents"),
        ("post", "/v1/payment_intents/{id}/capture"),
        ID,
        None,
    ),
    (
        ("post", "/v1/payment_intents"),
        ("post", "/v1/payment_intents/{id}/cancel"),
        ID,
        None,
    ),
    (
        ("post", "/v1/payment_intents"),
        ("post", "/v1/refunds"),
        &[],
        PI_REFUND,
    ),
    (
        ("post", "/v1/payment_intents/{id}/confirm"),
        ("post", "/v1/payment_intents/{id}/capture"),
        ID,
        None,
    ),
    (
        ("post", "/v1/payment_intents/{id}/confirm"),
        ("post", "/v1/payment_intents/{id}/cancel"),
        ID,
        None,
    ),
    (
        ("post", "/v1/payment_intents/{id}/confirm"),
        ("post", "/v1/refunds"),
        &[],
        PI_REFUND,
    ),
    (
        ("post", "/v1/payment_intents/{id}/capture"),
        ("post", "/v1/refunds"),
        &[],
        PI_REFUND,
    ),
    (
        ("post", "/v1/refunds"),
        ("get", "/v1/refunds/{id}"),
        ID,
        None,
    ),
    (
        ("post", "/v1/customers"),
        ("get", "/v1/customers/{id}"),
        ID,
        None,
    ),
    (
        ("post", "/v1/customers"),
        ("post", "/v1/customers/{id}"),
        ID,
        None,
    ),
    (
        ("post", "/v1/customers"),
        ("delete", "/v1/customers/{id}"),
        ID,
        None,
    ),
    (
        ("post", "/v1/customers"),
        ("get", "/v1/customers/{id}/payment_methods"),
        ID,
        None,
    ),
    (
        ("post", "/v1/webhook_endpoints"),
        ("get", "/v1/webhook_endpoints/{id}"),
        ID,
        None,
    ),
    (
        ("post", "/v1/webhook_endpoints"),
        ("post", "/v1/webhook_endpoints/{id}"),
        ID,
        None,
    ),
    (
        ("post", "/v1/webhook_endpoints"),
        ("delete", "/v1/webhook_endpoints/{id}"),
        ID,
        None,
    ),
    (
        ("post", "/v1/webhook_endpoints"),
        ("post", "/v1/webhook_endpoints/{id}/rotate_secret"),
        ID,
        None,
    ),
    (
        ("post", "/v1/paymentwall/projects"),
        ("get", "/v1/paymentwall/projects/{id}"),
        ID,
        None,
    ),
    (
        ("post", "/v1/paymentwall/projects"),
        ("post", "/v1/paymentwall/projects/{id}"),
        ID,
        None,
    ),
    (
        ("post", "/v1/paymentwall/projects"),
        ("post", "/v1/paymentwall/projects/{id}/test_pingback"),
        ID,
        None,
    ),
    (
        ("post", "/v1/paymentwall/projects"),
        ("get", "/v1/paymentwall/projects/{id}/subscriptions"),
        ID,
        None,
    ),
    (
        ("post", "/v1/paymob/profiles"),
        ("get", "/v1/paymob/profiles/{id}"),
        ID,
        None,
    ),
    (
        ("post", "/v1/paymob/profiles"),
        ("post", "/v1/paymob/profiles/{id}"),
        ID,
        None,
    ),
    (
        ("post", "/v1/paymob/profiles"),
        ("post", "/v1/paymob/profiles/{id}/integrations"),
        ID,
        None,
    ),
    (
        ("post", "/v1/paymob/profiles/{id}/integrations"),
        (
            "post",
            "/v1/paymob/profiles/{id}/integrations/{integration}",
        ),
        &[
            ("id", "$request.path.id"),
            ("integration", "$response.body#/id"),
        ],
        None,
    ),
];

/// The document as served: utoipa's, with the [`LINKS`] on each operation's 200 answer, named
/// and pointing by operation id. (They are added to the JSON because utoipa 5.5 writes a link's
/// `operationId` and `requestBody` in snake case, which no client reads.)
pub fn document() -> Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).expect("the document serializes");
    for ((from_method, from_path), (to_method, to_path), params, body) in LINKS {
        let target = doc["paths"][*to_path][*to_method]["operationId"].clone();
        assert!(
            target.is_string(),
            "a link names {to_method} {to_path}, which is not documented"
        );
        let mut link = json!({"operationId": target});
        if !params.is_empty() {
            link["parameters"] = params
                .iter()
                .map(|(k, v)| (k.to_string(), json!(v)))
                .collect();
        }
        if let Some((field, expr)) = body {
            link["requestBody"] = json!({ *field: *expr });
        }
        let ok = &mut doc["paths"][*from_path][*from_method]["responses"]["200"];
        assert!(
            ok.is_object(),
            "a link starts at {from_method} {from_path}, which has no 200"
        );
        let name = target.as_str().unwrap_or_default().to_string();
        ok["links"][name] = link;
    }
    doc
}

pub async fn serve() -> Json<Value> {
    Json(document())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every answer of every operation names a schema (no free-form `body = Object`), every
    /// error answer is an `ErrorBody`, operation ids are unique and every link leads somewhere.
    #[test]
    fn every_answer_has_a_schema() {
        let doc = document();
        let mut ids = std::collections::HashSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let id = op["operationId"].as_str().unwrap();
                assert!(ids.insert(id.to_string()), "{id} twice");
                for (status, answer) in op["responses"].as_object().unwrap() {
                    let schema = &answer["content"]["application/json"]["schema"];
                    if status == "413" {
                        continue;
                    }
                    let name = schema["$ref"].as_str().unwrap_or_else(|| {
                        panic!("{method} {path} answers {status} without a named schema: {answer}")
                    });
                    if !status.starts_with('2') {
                        assert_eq!(name, "#/components/schemas/ErrorBody", "{method} {path}");
                    }
                }
                for link in op["responses"]["200"]["links"]
                    .as_object()
                    .into_iter()
                    .flatten()
                {
                    assert!(
                        link.1["operationId"].is_string(),
                        "{method} {path}: {link:?}"
                    );
                }
            }
        }
        assert!(ids.contains("create_payment_intent"));
    }
}
