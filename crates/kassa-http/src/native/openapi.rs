//! The OpenAPI 3.1 document of the native API, generated from the handlers' annotations.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{
    branding, customers, intents, payment_methods, paymentwall, paymob, refunds, subscriptions,
    test_clocks, webhooks,
};

#[derive(OpenApi)]
#[openapi(
    info(title = "Kassa native API", description = "Payment intents, refunds, customers and their saved payment methods, subscriptions, invoices and test clocks, webhook endpoints, events, Paymentwall projects, subscriptions and payments, Paymob profiles, and the payer pages' branding. Authenticate with `Authorization: Bearer sk_test_…`. Every POST accepts an `Idempotency-Key` header."),
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
        paymentwall::create_project, paymentwall::list_projects, paymentwall::retrieve_project, paymentwall::update_project,
        paymentwall::test_pingback, paymentwall::project_subscriptions, paymentwall::retrieve_subscription,
        paymentwall::cancel_subscription, paymentwall::advance_clock, paymentwall::retrieve_payment, paymentwall::chargeback,
        paymob::create_profile, paymob::list_profiles, paymob::retrieve_profile, paymob::update_profile,
        paymob::add_integration,
        paymob::update_integration, paymob::sandbox_settle, paymob::advance_clock,
        branding::retrieve, branding::modify, branding::upload_logo, branding::delete_logo,
    ),
    modifiers(&Bearer, &FormBodies)
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
/// nested fields in brackets), with the same schema.
struct FormBodies;

impl Modify for FormBodies {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
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

pub async fn serve() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
