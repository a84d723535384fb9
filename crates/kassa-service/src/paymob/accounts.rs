//! Paymob accounts ("profiles"), their integrations and credentials: the secret key and public
//! key of the Intention API, the legacy API key and its one-hour auth tokens, and the HMAC
//! secret callbacks are signed with.

use crate::Paymob;
use kassa_core::secret::{derive_key, hash_api_key};
use kassa_paymob::keys::{self, Country, KeyKind};
use kassa_paymob::token;
use kassa_store::{now_ms, PmIntegration, PmProfile};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{to_text, Integration, IntegrationDoc, IntegrationKind, PmError, PmResult};
use crate::check_return_url;

/// How long an auth token from `POST /api/auth/tokens` is good for.
pub const AUTH_TOKEN_SECONDS: i64 = 3600;

#[derive(Debug, Clone, Default)]
pub struct ProfileInput {
    pub name: Option<String>,
    /// Country prefix: `egy`, `are`, `sau`, `omn` or `pak` (default `egy`).
    pub country: Option<String>,
    pub live: bool,
    /// Integrations to create; empty means one of each kind in the country's currency.
    pub integrations: Vec<IntegrationInput>,
    /// Sites that may frame the profile's pages (CSP sources); `None` or `""`: none.
    pub frame_ancestors: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct IntegrationInput {
    pub kind: String,
    pub name: Option<String>,
    pub currency: Option<String>,
    pub processed_callback_url: Option<String>,
    pub response_callback_url: Option<String>,
    pub three_d_secure: Option<bool>,
}

/// A new profile with its credentials, shown once.
#[derive(Debug, Clone)]
pub struct NewProfile {
    pub profile: PmProfile,
    pub integrations: Vec<Integration>,
    pub secret_key: String,
    pub api_key: String,
    pub hmac_secret: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ProfileDoc {
    pub name: String,
}

fn invalid(param: &str, msg: impl Into<String>) -> PmError {
    PmError::new(400, json!({ param: [msg.into()] }))
}

impl Paymob<'_> {
    fn key(&self, purpose: &str) -> [u8; 32] {
        derive_key(&self.fingerprint_key, purpose)
    }
    pub(crate) fn auth_key(&self) -> [u8; 32] {
        self.key("paymob auth token")
    }
    pub(crate) fn payment_key(&self) -> [u8; 32] {
        self.key("paymob payment key")
    }
    pub(crate) fn page_key(&self) -> [u8; 32] {
        self.key("paymob page")
    }

    /// The profile's HMAC secret.
    pub(crate) fn hmac_secret(&self, p: &PmProfile) -> PmResult<String> {
        self.secrets.open(&p.hmac_enc).ok_or_else(|| {
            tracing::error!(
                profile = p.id,
                "the HMAC secret does not open under this master key"
            );
            PmError::detail(500, "A server error occurred.")
        })
    }

    pub(crate) fn company_name(p: &PmProfile) -> String {
        serde_json::from_str::<ProfileDoc>(&p.doc)
            .map(|d| d.name)
            .unwrap_or_default()
    }

    fn check_integration(
        country: Country,
        live: bool,
        input: &IntegrationInput,
    ) -> PmResult<(String, IntegrationDoc)> {
        let kind = IntegrationKind::parse(&input.kind).ok_or_else(|| {
            invalid(
                "kind",
                format!(
                    "\"{}\" is not a valid choice (card, card_auth, moto, wallet, kiosk, cash).",
                    input.kind.chars().take(40).collect::<String>()
                ),
            )
        })?;
        let currency = input
            .currency
            .clone()
            .unwrap_or_else(|| country.default_currency().to_string())
            .to_ascii_uppercase();
        if kassa_paymob::money::exponent(&currency).is_none() {
            return Err(invalid(
                "currency",
                format!("\"{currency}\" is not a valid choice (EGP, SAR, AED, PKR, OMR)."),
            ));
        }
        let url = |u: &Option<String>, field: &str| -> PmResult<Option<String>> {
            u.as_deref()
                .filter(|s| !s.is_empty())
                .map(|s| check_return_url(s).map_err(|_| invalid(field, "Enter a valid URL.")))
                .transpose()
        };
        let name = input
            .name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| kind.default_name().to_string());
        if name.len() > 100 {
            return Err(invalid(
                "name",
                "Ensure this field has no more than 100 characters.",
            ));
        }
        Ok((
            name,
            IntegrationDoc {
                kind,
                currency,
                processed_callback_url: url(
                    &input.processed_callback_url,
                    "processed_callback_url",
                )?,
                response_callback_url: url(&input.response_callback_url, "response_callback_url")?,
                three_d_secure: input.three_d_secure.unwrap_or(matches!(
                    kind,
                    IntegrationKind::Card | IntegrationKind::CardAuth
                )),
                live,
            },
        ))
    }

    /// Creates a Paymob account for a merchant, with its integrations.
    pub async fn create_profile(
        &self,
        merchant_id: &str,
        input: ProfileInput,
    ) -> PmResult<NewProfile> {
        if input.live {
            self.check_mode(kassa_core::scope::Mode::Live)?;
        }
        let country_code = input
            .country
            .as_deref()
            .unwrap_or("egy")
            .to_ascii_lowercase();
        let country = Country::parse(&country_code)
            .ok_or_else(|| invalid("country", "Must be one of egy, are, sau, omn, pak."))?;
        let name = input
            .name
            .clone()
            .unwrap_or_else(|| "Kassa merchant".into());
        if name.trim().is_empty() || name.len() > 200 {
            return Err(invalid("name", "Give a name of 1 to 200 characters."));
        }
        let mut wanted = input.integrations.clone();
        if wanted.is_empty() {
            wanted = ["card", "card_auth", "moto", "wallet", "kiosk", "cash"]
                .iter()
                .map(|k| IntegrationInput {
                    kind: k.to_string(),
                    ..Default::default()
                })
                .collect();
        }
        let checked = wanted
            .iter()
            .map(|i| Self::check_integration(country, input.live, i))
            .collect::<PmResult<Vec<_>>>()?;
        for (_, d) in &checked {
            self.pm_check_egress(
                "processed_callback_url",
                d.processed_callback_url.as_deref(),
            )
            .await?;
        }
        let frame_ancestors = match input.frame_ancestors.as_deref() {
            Some(fa) => super::pages::check_frame_ancestors(fa)?,
            None => None,
        };

        let now = now_ms();
        let secret_key = keys::secret_key(country, input.live);
        let public_key = keys::public_key(country, input.live);
        let hmac_secret = keys::hmac_secret();
        let mut tx = self.store.begin().await?;
        let id = tx.pm_next_id("profile").await?;
        let iframe_id = tx.pm_next_id("iframe").await?;
        let api_key = token::encode(
            &json!({"class": "Merchant", "profile_pk": id, "name": "initial",
                    "key": kassa_paymob::keys::request_id()}),
            &self.key("paymob api key"),
        );
        let profile = PmProfile {
            id,
            merchant_id: merchant_id.to_string(),
            country: country.prefix().to_string(),
            live: input.live,
            secret_key_hash: hash_api_key(&secret_key),
            public_key,
            api_key_hash: hash_api_key(&api_key),
            hmac_enc: self.secrets.seal(&hmac_secret),
            iframe_id,
            doc: to_text(&ProfileDoc { name }),
            created_at: now,
            frame_ancestors,
        };
        tx.insert_pm_profile(&profile).await?;
        let mut integrations = Vec::new();
        for (name, d) in checked {
            let row = PmIntegration {
                id: tx.pm_next_id("integration").await?,
                profile_id: id,
                name,
                doc: to_text(&d),
                created_at: now,
            };
            tx.insert_pm_integration(&row).await?;
            integrations.push(Integration::from_row(&row)?);
        }
        let audited: Vec<_> = integrations
            .iter()
            .map(|i| serde_json::json!({"id": i.id, "name": i.name, "doc": i.doc}))
            .collect();
        crate::audit::record(
            &mut tx,
            &profile.scope(),
            "paymob_profile.create",
            Some(&profile.id.to_string()),
            &serde_json::json!({
                "country": profile.country,
                "live": profile.live,
                "name": Self::company_name(&profile),
                "integrations": audited,
            }),
        )
        .await?;
        tx.commit().await?;
        Ok(NewProfile {
            profile,
            integrations,
            secret_key,
            api_key,
            hmac_secret,
        })
    }

    /// A merchant's own profile (another merchant's is not found).
    pub async fn profile_of(&self, merchant_id: &str, id: i64) -> PmResult<PmProfile> {
        match self.store.pm_profile(id).await? {
            Some(p) if p.merchant_id == merchant_id => Ok(p),
            _ => Err(PmError::not_found("Profile")),
        }
    }

    /// A merchant's own profile of `scope`'s mode (a live profile is not found with a test key).
    pub async fn profile_in(&self, scope: &kassa_store::Scope, id: i64) -> PmResult<PmProfile> {
        match self.store.pm_profile(id).await? {
            Some(p) if p.scope() == *scope => Ok(p),
            _ => Err(PmError::not_found("Profile")),
        }
    }

    pub async fn integrations(&self, profile_id: i64) -> PmResult<Vec<Integration>> {
        self.store
            .pm_integrations_of(profile_id)
            .await?
            .iter()
            .map(Integration::from_row)
            .collect()
    }

    pub(crate) async fn integration(&self, id: i64) -> PmResult<Option<Integration>> {
        self.store
            .pm_integration(id)
            .await?
            .as_ref()
            .map(Integration::from_row)
            .transpose()
    }

    pub async fn add_integration(
        &self,
        profile: &PmProfile,
        input: IntegrationInput,
    ) -> PmResult<Integration> {
        let country = Country::parse(&profile.country).unwrap_or(Country::Egy);
        let (name, d) = Self::check_integration(country, profile.live, &input)?;
        self.pm_check_egress(
            "processed_callback_url",
            d.processed_callback_url.as_deref(),
        )
        .await?;
        let mut tx = self.store.begin().await?;
        let row = PmIntegration {
            id: tx.pm_next_id("integration").await?,
            profile_id: profile.id,
            name,
            doc: to_text(&d),
            created_at: now_ms(),
        };
        tx.insert_pm_integration(&row).await?;
        crate::audit::record(
            &mut tx,
            &profile.scope(),
            "paymob_integration.create",
            Some(&row.id.to_string()),
            &serde_json::from_str(&row.doc).unwrap_or_default(),
        )
        .await?;
        tx.commit().await?;
        Integration::from_row(&row)
    }

    /// Changes an integration's name, callback URLs or 3-D Secure setting (`None` keeps).
    pub async fn update_integration(
        &self,
        profile: &PmProfile,
        id: i64,
        input: IntegrationInput,
    ) -> PmResult<Integration> {
        let stored = match self.store.pm_integration(id).await? {
            Some(i) if i.profile_id == profile.id => i,
            _ => return Err(PmError::not_found("Integration")),
        };
        let current = Integration::from_row(&stored)?;
        let country = Country::parse(&profile.country).unwrap_or(Country::Egy);
        let changed_callback = input.processed_callback_url.is_some();
        let merged = IntegrationInput {
            kind: current.doc.kind.as_str().to_string(),
            name: input.name.or(Some(current.name.clone())),
            currency: Some(current.doc.currency.clone()),
            processed_callback_url: input
                .processed_callback_url
                .or(current.doc.processed_callback_url.clone()),
            response_callback_url: input
                .response_callback_url
                .or(current.doc.response_callback_url.clone()),
            three_d_secure: input.three_d_secure.or(Some(current.doc.three_d_secure)),
        };
        let (name, d) = Self::check_integration(country, profile.live, &merged)?;
        if changed_callback {
            self.pm_check_egress(
                "processed_callback_url",
                d.processed_callback_url.as_deref(),
            )
            .await?;
        }
        let row = PmIntegration {
            id,
            profile_id: profile.id,
            name,
            doc: to_text(&d),
            created_at: stored.created_at,
        };
        let mut tx = self.store.begin().await?;
        tx.update_pm_integration(&row).await?;
        crate::audit::record(
            &mut tx,
            &profile.scope(),
            "paymob_integration.update",
            Some(&row.id.to_string()),
            &serde_json::from_str(&row.doc).unwrap_or_default(),
        )
        .await?;
        tx.commit().await?;
        Integration::from_row(&row)
    }

    /// The profile a credential belongs to: a secret key (`egy_sk_test_…`) or an auth token
    /// from `POST /api/auth/tokens`. `None` when the credential is missing.
    /// A live profile's credential is refused while live mode is off on this server.
    pub async fn authenticate_profile(&self, credential: Option<&str>) -> PmResult<PmProfile> {
        let profile = self.profile_of_credential(credential).await?;
        self.check_mode(profile.scope().mode())?;
        Ok(profile)
    }

    async fn profile_of_credential(&self, credential: Option<&str>) -> PmResult<PmProfile> {
        let Some(cred) = credential.map(str::trim).filter(|c| !c.is_empty()) else {
            return Err(PmError::unauthenticated());
        };
        if let Some(info) = keys::parse(cred) {
            if info.kind != KeyKind::Secret {
                return Err(PmError::detail(401, "Invalid secret key."));
            }
            return self
                .store
                .pm_profile_by_secret_hash(&hash_api_key(cred))
                .await?
                .ok_or_else(|| PmError::detail(401, "Invalid secret key."));
        }
        let claims = token::decode(cred, &self.auth_key(), now_ms() / 1000).map_err(|e| {
            PmError::detail(
                401,
                match e {
                    token::TokenError::Expired => "Token has expired.",
                    _ => "Invalid token.",
                },
            )
        })?;
        let id = claims["profile_pk"]
            .as_i64()
            .ok_or_else(|| PmError::detail(401, "Invalid token."))?;
        let profile = self
            .store
            .pm_profile(id)
            .await?
            .ok_or_else(|| PmError::detail(401, "Invalid token."))?;
        // A token stops working when the API key it was issued for is recreated.
        let issued_for = claims["key"].as_str().unwrap_or("");
        if !kassa_core::secret::constant_time_eq(
            issued_for.as_bytes(),
            api_key_tag(&profile.api_key_hash).as_bytes(),
        ) {
            return Err(PmError::detail(401, "Invalid token."));
        }
        Ok(profile)
    }

    /// `POST /api/auth/tokens`: an auth token for the legacy API key.
    pub async fn auth_token(&self, body: &Value) -> PmResult<Value> {
        let Some(api_key) = body.get("api_key").and_then(Value::as_str) else {
            return Err(PmError::fields(
                json!({"api_key": ["This field is required."]}),
            ));
        };
        let profile = self
            .store
            .pm_profile_by_api_key_hash(&hash_api_key(api_key.trim()))
            .await?
            .ok_or_else(|| PmError::detail(403, "Incorrect authentication credentials."))?;
        let lifetime = match body.get("expiration") {
            None | Some(Value::Null) => AUTH_TOKEN_SECONDS,
            Some(v) => kassa_paymob::lenient::int(v)
                .filter(|s| (60..=86_400).contains(s))
                .ok_or_else(|| {
                    PmError::fields(
                        json!({"expiration": ["Give a whole number of seconds from 60 to 86400."]}),
                    )
                })?,
        };
        let now = now_ms() / 1000;
        let token = token::encode(
            &json!({"class": "Merchant", "profile_pk": profile.id, "exp": now + lifetime,
                    "key": api_key_tag(&profile.api_key_hash)}),
            &self.auth_key(),
        );
        Ok(json!({"token": token, "profile": self.profile_json(&profile)}))
    }

    /// The `profile` object of the auth-token answer.
    pub(crate) fn profile_json(&self, p: &PmProfile) -> Value {
        let company = Self::company_name(p);
        let created = kassa_paymob::time::timestamp(
            p.created_at,
            Country::parse(&p.country).unwrap_or(Country::Egy),
        );
        json!({
            "id": p.id,
            "user": {"id": p.id, "username": format!("{}", p.id), "first_name": "", "last_name": "",
                     "date_joined": created, "email": "", "is_active": true, "is_staff": false,
                     "is_superuser": false, "last_login": null, "groups": [], "user_permissions": []},
            "created_at": created,
            "active": true,
            "profile_type": "Merchant",
            "phones": [],
            "company_emails": [],
            "company_name": company,
            "state": "",
            "country": p.country.to_ascii_uppercase(),
            "city": "",
            "postal_code": "",
            "street": "",
            "email_notification": false,
            "is_live": p.live,
        })
    }

    /// The native API's view of a profile (credentials only on creation).
    pub fn profile_native_json(&self, p: &PmProfile, integrations: &[Integration]) -> Value {
        json!({
            "id": p.id,
            "object": "paymob_profile",
            "name": Self::company_name(p),
            "country": p.country,
            "live": p.live,
            "public_key": p.public_key,
            "iframe_id": p.iframe_id,
            "frame_ancestors": super::frame_ancestors_of(p),
            "integrations": integrations.iter().map(Integration::to_json).collect::<Vec<_>>(),
            "created": p.created_at / 1000,
        })
    }
}

/// The profile's country (defaults to Egypt for a value this version does not know).
pub(crate) fn country_of(p: &PmProfile) -> Country {
    Country::parse(&p.country).unwrap_or(Country::Egy)
}

/// What an auth token carries of the API key it was issued for: the start of the key's hash
/// (the key itself never; the tag only ties the token to that key, so recreating the key ends
/// its tokens).
fn api_key_tag(api_key_hash: &str) -> String {
    api_key_hash.chars().take(16).collect()
}
