//! The dashboard's Paymob tools: the callback testing tool (a signed sample processed callback
//! sent now to an integration's URL, with the merchant's answer) and the HMAC calculator (the
//! concatenated message and HMAC of a pasted callback or redirect, with the profile's secret,
//! which never leaves the server).

use std::time::{Duration, Instant};

use kassa_paymob::hmac::{self as pm_hmac, QUERY_FIELDS};
use kassa_paymob::request::Item;
use kassa_store::{now_ms, PmOrder, PmProfile};
use serde_json::{json, Map, Value};

use super::accounts::country_of;
use super::orders::{KeyClaims, OrderDoc};
use super::{IntegrationKind, PmError, PmResult};
use crate::Paymob;

/// How long the tool waits for the merchant's answer.
pub const CALLBACK_TEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How much of the answer's body the tool shows.
const EXCERPT_CHARS: usize = 1000;
/// The largest text the HMAC calculator reads.
pub const HMAC_INPUT_MAX: usize = 64 * 1024;
/// The sample's amount, in the integration currency's minor units.
const SAMPLE_AMOUNT: i64 = 10_000;

/// What the callback testing tool sent and what came back.
#[derive(Debug, Clone)]
pub struct CallbackTest {
    pub integration_id: i64,
    /// The URL as called, `?hmac=` included.
    pub url: String,
    /// The 20 signed fields of the sample, concatenated.
    pub message: String,
    pub hmac: String,
    /// The JSON body as sent.
    pub body: String,
    /// The merchant's HTTP status, when an answer came.
    pub status: Option<u16>,
    /// The start of the answer's body.
    pub excerpt: String,
    /// Why no answer came (refused by the egress policy, timed out, could not connect).
    pub error: Option<String>,
    pub latency_ms: u64,
}

/// What the HMAC calculator found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HmacCalculation {
    /// What the input was read as.
    pub read_as: &'static str,
    pub message: String,
    pub hmac: String,
    /// The HMAC the input carried (a redirect's `hmac`, a subscription callback's `hmac`) or
    /// the one typed beside it, and whether it matches.
    pub given: Option<String>,
    pub matches: Option<bool>,
}

fn field_error(field: &str, msg: &str) -> PmError {
    PmError::fields(json!({ field: [msg] }))
}

impl Paymob<'_> {
    /// Sends a sample TRANSACTION callback, rendered and signed as a real one, to the processed
    /// callback URL of `integration_id` (one of `profile`'s) through the egress-guarded client,
    /// and reports the answer. `approved` picks an approved or a declined sample. Its order and
    /// transaction ids are fresh ones no real payment will have, and its merchant order id says
    /// it is a test, so a merchant's handler cannot mistake it for a real order. Audited as
    /// `paymob_profile.test_callback`.
    pub async fn test_callback(
        &self,
        profile: &PmProfile,
        integration_id: i64,
        approved: bool,
    ) -> PmResult<CallbackTest> {
        self.check_mode(profile.scope().mode())?;
        let integration = match self.integration(integration_id).await? {
            Some(i) if i.profile_id == profile.id => i,
            _ => return Err(PmError::not_found("Integration")),
        };
        let Some(url) = integration.doc.processed_callback_url.clone() else {
            return Err(field_error(
                "processed_callback_url",
                "This integration has no processed callback URL: set one first.",
            ));
        };
        self.pm_check_egress("processed_callback_url", Some(&url))
            .await?;

        let mut tx = self.store.begin().await?;
        let order_id = tx.pm_next_id("order").await?;
        let txn_id = tx.pm_next_id("transaction").await?;
        tx.commit().await?;

        let now = now_ms();
        let stamp = kassa_paymob::time::timestamp(now, country_of(profile));
        let currency = integration.doc.currency.clone();
        let order = PmOrder {
            id: order_id,
            profile_id: profile.id,
            merchant_order_id: Some(format!("kassa-test-callback-{txn_id}")),
            intention_id: None,
            doc: String::new(),
            created_at: now,
            updated_at: now,
        };
        let od = OrderDoc {
            amount_cents: SAMPLE_AMOUNT,
            currency: currency.clone(),
            delivery_needed: false,
            items: vec![Item {
                name: "Test item".into(),
                amount: SAMPLE_AMOUNT,
                description: "Kassa callback test".into(),
                quantity: 1,
                image: None,
            }],
            shipping_data: None,
            created_at: stamp.clone(),
            paid_amount_cents: if approved { SAMPLE_AMOUNT } else { 0 },
            api_source: "OTHER".into(),
            lock_when_paid: true,
        };
        let mut billing = Map::new();
        for (k, v) in [
            ("first_name", "Test"),
            ("last_name", "Customer"),
            ("email", "test.customer@example.com"),
            ("phone_number", "+201000000000"),
        ] {
            billing.insert(k.into(), json!(v));
        }
        let claims = KeyClaims {
            user_id: profile.id,
            amount_cents: SAMPLE_AMOUNT,
            currency: currency.clone(),
            integration_id: integration.id,
            order_id,
            billing_data: billing,
            lock_order_when_paid: true,
            extra: json!({}),
            single_payment_attempt: false,
            next_payment_intention: None,
            exp: now / 1000 + 3600,
            card_token_id: None,
        };
        // The renderer of real transactions, then the answer as `settle` writes it.
        let mut obj = self.initial_obj(
            profile,
            &integration,
            &order,
            &od,
            &claims,
            txn_id,
            "OTHER",
            now,
        );
        let kind = integration.doc.kind;
        match kind {
            IntegrationKind::Wallet => obj.set_wallet("0101"),
            k if k.is_card() => {
                obj.set_card("MasterCard", Some("512345"), "2346");
                obj.is_3d_secure = integration.doc.three_d_secure && k != IntegrationKind::Moto;
            }
            _ => {}
        }
        if approved {
            obj.approve(kind.subtype());
            obj.is_auth = kind == IntegrationKind::CardAuth;
        } else {
            let (code, acq) = super::pay::decline_codes("card_declined", None);
            obj.answer(false, code, acq, "Declined");
        }
        obj.data.message = format!("{} (Kassa test callback)", obj.data.message);
        obj.updated_at = stamp;
        let obj = obj.to_json();

        let secret = self.hmac_secret(profile)?;
        let message = pm_hmac::transaction_message(&obj);
        let hmac = pm_hmac::transaction_hmac(&secret, &obj);
        // The envelope `queue_callback` wraps a real transaction callback in.
        let body = json!({"type": "TRANSACTION", "obj": obj, "issuer_bank": null,
                          "transaction_processed_callback_responses": ""})
        .to_string();
        let sep = if url.contains('?') { '&' } else { '?' };
        let target = format!("{url}{sep}hmac={hmac}");

        let started = Instant::now();
        let sent = self
            .notifier
            .egress()
            .post(&target)
            .header("content-type", "application/json")
            .header("user-agent", "Kassa Callback")
            .timeout(CALLBACK_TEST_TIMEOUT)
            .body(body.clone())
            .send()
            .await;
        let (status, excerpt, error) = match sent {
            Ok(mut resp) => {
                let status = resp.status().as_u16();
                // A character is at most 4 bytes: this is enough for the excerpt.
                let mut buf: Vec<u8> = Vec::new();
                while buf.len() < EXCERPT_CHARS * 4 {
                    match resp.chunk().await {
                        Ok(Some(chunk)) => buf.extend_from_slice(&chunk),
                        _ => break,
                    }
                }
                let text: String = String::from_utf8_lossy(&buf)
                    .chars()
                    .take(EXCERPT_CHARS)
                    .collect();
                (Some(status), text, None)
            }
            Err(e) => {
                let why = match e.to_string().as_str() {
                    "timed out" => {
                        format!("no answer within {} s", CALLBACK_TEST_TIMEOUT.as_secs())
                    }
                    other => other.to_string(),
                };
                (None, String::new(), Some(why))
            }
        };
        let latency_ms = started.elapsed().as_millis() as u64;

        let mut tx = self.store.begin().await?;
        crate::audit::record(
            &mut tx,
            &profile.scope(),
            "paymob_profile.test_callback",
            Some(&profile.id.to_string()),
            &json!({"integration": integration.id, "url": url, "transaction": txn_id,
                    "approved": approved, "status": status, "error": error}),
        )
        .await?;
        tx.commit().await?;

        Ok(CallbackTest {
            integration_id: integration.id,
            url: target,
            message,
            hmac,
            body,
            status,
            excerpt,
            error,
            latency_ms,
        })
    }

    /// The concatenated message and HMAC, with `profile`'s secret, of what a merchant pasted:
    /// a processed or token callback's JSON body (or only its `obj`), a subscription callback's
    /// body, or a response callback's query string (a whole redirect URL will do). `given` is
    /// an HMAC to compare with when the input does not carry one itself.
    pub fn calculate_hmac(
        &self,
        profile: &PmProfile,
        input: &str,
        given: Option<&str>,
    ) -> PmResult<HmacCalculation> {
        let input = input.trim();
        if input.is_empty() {
            return Err(field_error(
                "input",
                "Paste a callback's JSON body or a redirect's query string.",
            ));
        }
        if input.len() > HMAC_INPUT_MAX {
            return Err(field_error(
                "input",
                &format!("That is more than {} KB.", HMAC_INPUT_MAX / 1024),
            ));
        }
        let secret = self.hmac_secret(profile)?;
        let given = given.map(str::trim).filter(|g| !g.is_empty());
        let (read_as, message, hmac, carried) = if input.starts_with('{') {
            let v: Value = serde_json::from_str(input)
                .map_err(|e| field_error("input", &format!("That is not valid JSON: {e}.")))?;
            read_json(&secret, &v)?
        } else {
            read_query(&secret, input)?
        };
        let given = given.map(str::to_string).or(carried);
        let matches = given.as_deref().map(|g| pm_hmac::verify_hex(&hmac, g));
        Ok(HmacCalculation {
            read_as,
            message,
            hmac,
            given,
            matches,
        })
    }
}

type Reading = (&'static str, String, String, Option<String>);

fn read_json(secret: &str, v: &Value) -> PmResult<Reading> {
    if !v.is_object() {
        return Err(field_error("input", "Paste a JSON object."));
    }
    if let (Some(trigger), Some(id)) = (
        v.get("trigger_type").and_then(Value::as_str),
        v.pointer("/subscription_data/id").and_then(Value::as_i64),
    ) {
        return Ok((
            "subscription callback",
            format!("{trigger}for{id}"),
            pm_hmac::subscription_hmac(secret, trigger, id),
            v.get("hmac").and_then(Value::as_str).map(str::to_string),
        ));
    }
    let (kind, obj) = match v.get("obj") {
        Some(obj) if obj.is_object() => (v.get("type").and_then(Value::as_str), obj),
        // Only the `obj` was pasted.
        _ => (None, v),
    };
    match kind {
        Some("TOKEN") => Ok((
            "card token callback (TOKEN)",
            pm_hmac::token_message(obj),
            pm_hmac::token_hmac(secret, obj),
            None,
        )),
        None | Some("TRANSACTION") => Ok((
            "processed callback (TRANSACTION)",
            pm_hmac::transaction_message(obj),
            pm_hmac::transaction_hmac(secret, obj),
            None,
        )),
        Some(other) => Err(field_error(
            "input",
            &format!(
                "Callbacks of type {} are not signed this way (TRANSACTION and TOKEN are).",
                other.chars().take(40).collect::<String>()
            ),
        )),
    }
}

fn read_query(secret: &str, input: &str) -> PmResult<Reading> {
    // A whole redirect URL, or its query with or without the `?`.
    let query = match input.split_once('?') {
        Some((_, q)) => q,
        None => input,
    };
    let query = query.split('#').next().unwrap_or(query);
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if !pairs
        .iter()
        .any(|(k, _)| QUERY_FIELDS.contains(&k.as_str()))
    {
        return Err(field_error(
            "input",
            "No signed parameter (amount_cents, id, success, …) was found: paste a callback's \
             JSON body or a redirect's query string.",
        ));
    }
    let carried = pairs
        .iter()
        .find(|(k, _)| k == "hmac")
        .map(|(_, v)| v.clone());
    let signed: Vec<(String, String)> = pairs.into_iter().filter(|(k, _)| k != "hmac").collect();
    Ok((
        "response callback (redirect query)",
        pm_hmac::query_message(&signed),
        pm_hmac::query_hmac(secret, &signed),
        carried,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_redirect_url_and_its_bare_query_read_the_same() {
        let q = "amount_cents=100&id=7&success=true&order=9&hmac=abc";
        let a = read_query("S", q).unwrap();
        let b = read_query("S", &format!("https://shop.example/done?{q}#x")).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.1, "10079true");
        assert_eq!(a.3.as_deref(), Some("abc"));
        assert!(read_query("S", "foo=bar").is_err());
    }

    #[test]
    fn json_is_read_by_its_type() {
        let obj = json!({"id": 5, "success": true, "order": {"id": 77}});
        let whole = read_json("S", &json!({"type": "TRANSACTION", "obj": obj})).unwrap();
        let bare = read_json("S", &obj).unwrap();
        assert_eq!(whole, bare);
        assert_eq!(whole.1, pm_hmac::transaction_message(&obj));
        let token = read_json("S", &json!({"type": "TOKEN", "obj": {"token": "t"}})).unwrap();
        assert_eq!(token.0, "card token callback (TOKEN)");
        let sub = read_json(
            "S",
            &json!({"trigger_type": "created", "subscription_data": {"id": 3}, "hmac": "h"}),
        )
        .unwrap();
        assert_eq!(sub.1, "createdfor3");
        assert_eq!(sub.2, pm_hmac::subscription_hmac("S", "created", 3));
        assert!(read_json("S", &json!({"type": "DELIVERY_STATUS", "obj": {}})).is_err());
        assert!(read_json("S", &json!([1])).is_err());
    }
}
