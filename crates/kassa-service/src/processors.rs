//! Processor accounts and routing: which processor moves a payment's money.
//!
//! Test mode always uses the sandbox. Live mode uses the merchant's active processor account: a
//! connector (`stripe`, …) and its credentials, sealed under the master key when added and never
//! shown again (only a masked form). A payment remembers the account that took it, so its
//! capture, void and refunds go there even after the merchant configured another account.

use std::collections::BTreeMap;
use std::sync::Arc;

use kassa_core::ids::new_id;
use kassa_core::intent::PaymentIntent;
use kassa_core::scope::{Mode, Scope};
use kassa_processor::{
    Capabilities, ConnectorEnv, ConnectorError, Credentials, Currencies, Processor, ThreeDsStyle,
};
use kassa_store::{now_ms, ProcessorAccount};
use serde_json::{json, Value};

use crate::{Processors, Result, ServiceError, Services};

/// Id prefix of processor accounts.
pub const ACCOUNT_PREFIX: &str = "pa";

/// Longest credential value accepted (a key, a secret).
const MAX_CREDENTIAL_LEN: usize = 512;

/// What adding an account takes.
#[derive(Debug, Clone, Default)]
pub struct AccountParams {
    /// The connector's name, e.g. `stripe`.
    pub connector: String,
    /// Field name → value, as the connector's credential schema asks.
    pub credentials: BTreeMap<String, String>,
}

/// Built processors by account id (accounts never change, they are only removed).
#[derive(Default)]
pub(crate) struct ProcessorCache(
    std::sync::Mutex<std::collections::HashMap<String, Arc<dyn Processor>>>,
);

impl Services {
    /// The processor for a new payment in `scope`, and the account it belongs to (`None` for
    /// the sandbox). Live mode needs an active processor account; nothing live ever goes to
    /// the sandbox.
    pub async fn route(&self, scope: &Scope) -> Result<(Option<String>, Arc<dyn Processor>)> {
        if !scope.livemode {
            return Ok((None, self.sandbox.clone()));
        }
        self.check_mode(Mode::Live)?;
        let account = self
            .store
            .active_processor_account(scope)
            .await?
            .ok_or_else(|| ServiceError::LiveMode {
                code: "processor_account_missing",
                message: "No processor account is configured for live mode: live payments need \
                          one (a connector and its credentials) before they can be taken."
                    .into(),
            })?;
        let processor = self.account_processor(&account)?;
        Ok((Some(account.id), processor))
    }

    /// The processor for an existing payment: the account that took it, else (a payment not yet
    /// sent anywhere) the scope's route.
    pub async fn processor_of(&self, pi: &PaymentIntent) -> Result<Arc<dyn Processor>> {
        let scope = pi.scope();
        match &pi.processor_account {
            Some(id) if scope.livemode => {
                self.check_mode(Mode::Live)?;
                let account = self
                    .store
                    .processor_account(&scope, id)
                    .await?
                    .ok_or_else(|| ServiceError::Processor(format!("no processor account {id}")))?;
                self.account_processor(&account)
            }
            _ => Ok(self.route(&scope).await?.1),
        }
    }

    /// Builds (once) the processor of a stored account from its sealed credentials.
    pub(crate) fn account_processor(
        &self,
        account: &ProcessorAccount,
    ) -> Result<Arc<dyn Processor>> {
        if let Some(p) = self
            .processor_cache
            .0
            .lock()
            .ok()
            .and_then(|m| m.get(&account.id).cloned())
        {
            return Ok(p);
        }
        let creds = self.open_credentials(account)?;
        let env = ConnectorEnv {
            livemode: account.livemode,
        };
        let processor = self
            .connectors
            .build(&account.connector, &creds, env)
            .map_err(|e| {
                ServiceError::Processor(format!("processor account {}: {e}", account.id))
            })?;
        let processor = self.processor_metrics.wrap(processor);
        if let Ok(mut m) = self.processor_cache.0.lock() {
            m.insert(account.id.clone(), processor.clone());
        }
        Ok(processor)
    }

    pub(crate) fn open_credentials(&self, account: &ProcessorAccount) -> Result<Credentials> {
        let plain = self.secrets.open(&account.credentials_enc).ok_or_else(|| {
            ServiceError::Processor(format!(
                "the credentials of processor account {} cannot be opened (was the master key changed?)",
                account.id
            ))
        })?;
        let map: BTreeMap<String, String> = serde_json::from_str(&plain)
            .map_err(|_| ServiceError::Processor("stored credentials are corrupt".into()))?;
        Ok(map.into_iter().collect())
    }
}

impl Processors<'_> {
    /// Adds the scope's processor account after checking the credentials against the
    /// connector's schema and building its processor. Live mode only: test mode always uses
    /// the sandbox.
    pub async fn add_account(&self, scope: &Scope, p: AccountParams) -> Result<Value> {
        if !scope.livemode {
            return Err(ServiceError::invalid(
                "connector",
                "Test mode always uses the sandbox: processor accounts are for live mode. Add \
                 one with a live key (sk_live_…) or `kassa processor add --mode live`.",
            ));
        }
        self.check_mode(Mode::Live)?;
        let connector = self
            .connectors
            .get(&p.connector)
            .map_err(|e| ServiceError::invalid("connector", e.to_string()))?
            .clone();
        for (name, value) in &p.credentials {
            if value.len() > MAX_CREDENTIAL_LEN || value.chars().any(char::is_control) {
                return Err(ServiceError::invalid(
                    "credentials",
                    format!("credentials[{name}] must be at most {MAX_CREDENTIAL_LEN} printable characters."),
                ));
            }
            if !connector.credential_schema().iter().any(|f| f.name == name) {
                return Err(ServiceError::invalid(
                    "credentials",
                    format!(
                        "{} takes no credential `{}`; it takes {}.",
                        connector.name(),
                        name.chars().take(40).collect::<String>(),
                        connector
                            .credential_schema()
                            .iter()
                            .map(|f| format!("`{}`", f.name))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
        }
        let creds: Credentials = p.credentials.clone().into_iter().collect();
        self.connectors
            .build(connector.name(), &creds, ConnectorEnv { livemode: true })
            .map_err(|e| credentials_error(&e))?;
        let display: BTreeMap<&str, String> = connector
            .credential_schema()
            .iter()
            .filter_map(|f| {
                let v = p.credentials.get(f.name)?;
                Some((f.name, if f.secret { mask(v) } else { v.clone() }))
            })
            .collect();
        let account = ProcessorAccount {
            id: new_id(ACCOUNT_PREFIX),
            merchant_id: scope.merchant_id.clone(),
            livemode: scope.livemode,
            connector: connector.name().to_string(),
            credentials_enc: self.secrets.seal(
                &serde_json::to_string(&p.credentials)
                    .map_err(|e| ServiceError::Processor(e.to_string()))?,
            ),
            display: serde_json::to_string(&display)
                .map_err(|e| ServiceError::Processor(e.to_string()))?,
            status: "active".into(),
            created_at: now_ms(),
            removed_at: None,
        };
        let mut tx = self.store.begin().await?;
        match tx.insert_processor_account(&account).await {
            Err(kassa_store::StoreError::Conflict) => {
                return Err(ServiceError::State(
                    "Live mode already has an active processor account: remove it first.".into(),
                ))
            }
            other => other?,
        }
        crate::audit::record(
            &mut tx,
            scope,
            "processor_account.add",
            Some(&account.id),
            &json!({"connector": account.connector, "credentials": display}),
        )
        .await?;
        tx.commit().await?;
        Ok(self.account_json(&account))
    }

    /// The scope's accounts, newest first (removed ones included).
    pub async fn accounts(&self, scope: &Scope) -> Result<Vec<Value>> {
        let rows = self.store.processor_accounts(scope).await?;
        Ok(rows.iter().map(|a| self.account_json(a)).collect())
    }

    pub async fn account(&self, scope: &Scope, id: &str) -> Result<Value> {
        let a = self
            .store
            .processor_account(scope, id)
            .await?
            .ok_or_else(|| ServiceError::not_found("processor_account", id))?;
        Ok(self.account_json(&a))
    }

    /// Removes the account: new live payments are refused until another is added; payments it
    /// took keep using it for capture, void and refunds.
    pub async fn remove_account(&self, scope: &Scope, id: &str) -> Result<Value> {
        let mut tx = self.store.begin().await?;
        if !tx.remove_processor_account(scope, id, now_ms()).await? {
            return Err(ServiceError::not_found("processor_account", id));
        }
        crate::audit::record(
            &mut tx,
            scope,
            "processor_account.remove",
            Some(id),
            &json!({}),
        )
        .await?;
        tx.commit().await?;
        self.account(scope, id).await
    }

    /// The connectors an account may name, each with the credential fields its form asks for.
    pub fn connector_forms(&self) -> Vec<(&'static str, Vec<kassa_processor::CredentialField>)> {
        self.connectors
            .names()
            .into_iter()
            .filter_map(|n| {
                let c = self.connectors.get(n).ok()?;
                Some((n, c.credential_schema().to_vec()))
            })
            .collect()
    }

    /// The API object: never the credentials, only their masked form.
    pub fn account_json(&self, a: &ProcessorAccount) -> Value {
        let display: Value = serde_json::from_str(&a.display).unwrap_or(json!({}));
        let caps = self
            .connectors
            .get(&a.connector)
            .map(|c| capabilities_json(&c.capabilities()))
            .unwrap_or(Value::Null);
        json!({
            "id": a.id,
            "object": "processor_account",
            "connector": a.connector,
            "livemode": a.livemode,
            "status": a.status,
            "credentials": display,
            "capabilities": caps,
            "webhook_url": format!("{}/v1/processor_webhooks/{}", self.base_url, a.id),
            "created": a.created_at / 1000,
            "removed": a.removed_at.map(|t| t / 1000),
        })
    }
}

/// What a payment asks of its processor that the processor cannot do, refused before anything
/// is written: a method it does not take, a manual capture it cannot hold, a currency it does
/// not settle.
pub(crate) fn check_capabilities(
    caps: &Capabilities,
    method: &kassa_processor::PaymentMethodInput,
    capture: kassa_core::intent::CaptureMethod,
    currency: kassa_core::money::Currency,
) -> Result<()> {
    let kind = method.kind();
    if !caps.methods.contains(&kind) {
        return Err(ServiceError::invalid(
            "payment_method",
            format!(
                "This account's processor does not take {kind} payments; it takes {}.",
                caps.methods.join(", ")
            ),
        ));
    }
    if capture == kassa_core::intent::CaptureMethod::Manual && !caps.manual_capture {
        return Err(ServiceError::invalid(
            "capture_method",
            "This account's processor captures at once: create the payment with capture_method automatic.",
        ));
    }
    if !caps.currencies.accepts(currency.code()) {
        return Err(ServiceError::invalid(
            "currency",
            format!(
                "This account's processor does not take {} payments.",
                currency.code().to_uppercase()
            ),
        ));
    }
    Ok(())
}

/// A capture or refund of part of a payment where the processor only does whole ones.
pub(crate) fn check_partial(
    caps: &Capabilities,
    what: &str,
    amount: i64,
    whole: i64,
) -> Result<()> {
    let allowed = match what {
        "capture" => caps.partial_capture,
        _ => caps.partial_refund,
    };
    if amount < whole && !allowed {
        let param = if what == "capture" {
            "amount_to_capture"
        } else {
            "amount"
        };
        return Err(ServiceError::invalid(
            param,
            format!(
                "This account's processor does not do partial {what}s: {what} the whole amount."
            ),
        ));
    }
    Ok(())
}

fn credentials_error(e: &ConnectorError) -> ServiceError {
    ServiceError::invalid("credentials", e.to_string())
}

/// `sk_live_…abcd`: a key's well-known prefix (its kind and mode, `whsec_`) and its last four
/// characters; nothing in between.
fn mask(v: &str) -> String {
    const PREFIXES: [&str; 7] = [
        "sk_live_", "sk_test_", "rk_live_", "rk_test_", "pk_live_", "pk_test_", "whsec_",
    ];
    let head = PREFIXES
        .iter()
        .find(|p| v.starts_with(*p))
        .copied()
        .or_else(|| v.find('_').filter(|i| *i < 8).map(|i| &v[..=i]))
        .unwrap_or("");
    let tail = if v.len() >= head.len() + 12 {
        &v[v.len() - 4..]
    } else {
        ""
    };
    format!("{head}…{tail}")
}

fn capabilities_json(c: &Capabilities) -> Value {
    json!({
        "methods": c.methods,
        "manual_capture": c.manual_capture,
        "partial_capture": c.partial_capture,
        "partial_refund": c.partial_refund,
        "void": c.void,
        "three_d_secure": match c.three_d_secure {
            ThreeDsStyle::None => "none",
            ThreeDsStyle::KassaHosted => "kassa_hosted",
            ThreeDsStyle::ProcessorRedirect => "processor_redirect",
        },
        "saved_cards": c.saved_cards,
        "async_refunds": c.async_refunds,
        "webhooks": c.webhooks,
        "currencies": match c.currencies {
            Currencies::Any => json!("any"),
            Currencies::Only(list) => json!(list),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn intent(
        capture: kassa_core::intent::CaptureMethod,
        currency: &str,
    ) -> (
        kassa_core::intent::CaptureMethod,
        kassa_core::money::Currency,
    ) {
        (
            capture,
            kassa_core::money::Currency::parse(currency).unwrap(),
        )
    }

    fn check(
        caps: &Capabilities,
        m: &kassa_processor::PaymentMethodInput,
        (capture, currency): (
            kassa_core::intent::CaptureMethod,
            kassa_core::money::Currency,
        ),
    ) -> Result<()> {
        check_capabilities(caps, m, capture, currency)
    }

    #[test]
    fn a_processor_is_not_asked_what_it_cannot_do() {
        use kassa_core::intent::CaptureMethod::{Automatic, Manual};
        use kassa_processor::PaymentMethodInput as M;
        let cards_only = Capabilities {
            currencies: Currencies::Only(&["usd", "eur"]),
            ..Capabilities::MINIMAL
        };
        let wallet = M::Wallet {
            phone: "+201000000000".into(),
        };
        let token = M::TestToken("pm_card_visa".into());
        assert!(check(&cards_only, &token, intent(Automatic, "usd")).is_ok());
        let e = check(&cards_only, &wallet, intent(Automatic, "usd")).unwrap_err();
        assert!(e.to_string().contains("does not take wallet"), "{e}");
        let e = check(&cards_only, &token, intent(Manual, "usd")).unwrap_err();
        assert!(e.to_string().contains("captures at once"), "{e}");
        let e = check(&cards_only, &token, intent(Automatic, "jpy")).unwrap_err();
        assert!(e.to_string().contains("JPY"), "{e}");
        assert!(check_partial(&cards_only, "refund", 100, 1000).is_err());
        assert!(check_partial(&cards_only, "refund", 1000, 1000).is_ok());
        assert!(check_partial(&cards_only, "capture", 100, 1000).is_err());
        let all = kassa_processor::SandboxProcessor.capabilities();
        assert!(check(&all, &wallet, intent(Manual, "jpy")).is_ok());
        assert!(check_partial(&all, "refund", 1, 1000).is_ok());
    }

    #[test]
    fn a_secret_is_shown_by_its_prefix_and_last_four_only() {
        assert_eq!(mask("sk_live_51Habcdefghijkl1234"), "sk_live_…1234");
        assert_eq!(mask("sk_live_kassa_interop_0001"), "sk_live_…0001");
        assert_eq!(mask("whsec_0123456789abcdef"), "whsec_…cdef");
        assert_eq!(mask("acct_0123456789abcdef"), "acct_…cdef");
        // Too short to show any of the secret part.
        assert_eq!(mask("abc"), "…");
        assert_eq!(mask("sk_live_x"), "sk_live_…");
        assert_eq!(mask("verylongprefix_0123456789abcdef"), "…cdef");
    }
}
