//! Dashboard users: single-use set-up links, Argon2id passwords, TOTP with recovery codes,
//! server-side sessions with idle and absolute expiry, step-up re-authentication, and login
//! throttling per account and address.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use kassa_core::ids::{new_id, prefix, random_token};
use kassa_core::roles::Role;
use kassa_core::secret::constant_time_eq;
use kassa_store::{now_ms, DashboardSession, User};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::audit;
use crate::{Result, Scope, ServiceError, Users};

/// A set-up or invitation link works this long.
pub const LINK_TTL_MS: i64 = 24 * 3600 * 1000;
/// A session ends after this long without a request…
pub const IDLE_TIMEOUT_MS: i64 = 30 * 60 * 1000;
/// …and this long after sign-in whatever happens.
pub const ABSOLUTE_TIMEOUT_MS: i64 = 12 * 3600 * 1000;
/// A half-open session (password given, second factor not yet) lasts this long.
const HALF_OPEN_MS: i64 = 5 * 60 * 1000;
/// Re-entering the password allows sensitive changes for this long.
pub const REAUTH_WINDOW_MS: i64 = 10 * 60 * 1000;
/// Failed logins are counted over this window…
pub const LOGIN_WINDOW_MS: i64 = 15 * 60 * 1000;
/// …and at most this many are allowed from one address for one account…
pub const LOGIN_FAILURES_PER_ADDRESS: i64 = 5;
/// …and this many from everywhere for one account.
pub const LOGIN_FAILURES_PER_ACCOUNT: i64 = 20;
/// A session is marked seen at most this often (not a write per page).
const TOUCH_EVERY_MS: i64 = 60 * 1000;
const RECOVERY_CODES: usize = 10;
pub const MIN_PASSWORD: usize = 10;
pub const MAX_PASSWORD: usize = 256;
const TOTP_STEP_SECS: u64 = 30;

/// The one answer to every failed sign-in, whatever failed.
pub const LOGIN_FAILED: &str = "The e-mail address or password is not right.";

/// A new user and the single-use link token that lets them set a password (shown once).
#[derive(Debug)]
pub struct NewUser {
    pub user: User,
    pub link_token: String,
}

/// A signed-in session: the cookie token (shown once) and the session.
#[derive(Debug)]
pub struct NewSession {
    pub token: String,
    pub session: DashboardSession,
}

/// An authenticator being set up: the secret (base32) and its `otpauth://` URL.
#[derive(Debug)]
pub struct TotpEnrolment {
    pub secret_base32: String,
    pub otpauth_url: String,
}

fn sha256_hex(s: &str) -> String {
    hex_lower(&Sha256::digest(s.as_bytes()))
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn argon2() -> Argon2<'static> {
    // OWASP's Argon2id settings: 19 MiB, 2 passes, 1 lane.
    let params = Params::new(19 * 1024, 2, 1, None).expect("valid Argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes off the async threads (Argon2 takes tens of milliseconds on purpose).
async fn hash_password(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        argon2()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
    })
    .await
    .map_err(|e| ServiceError::Internal(e.to_string()))?
    .map_err(|e| ServiceError::Internal(e.to_string()))
}

/// A hash of a password nobody has, verified when the e-mail is unknown so that answer takes
/// as long as a wrong password.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| {
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        argon2()
            .hash_password(random_token(24).as_bytes(), &salt)
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

async fn verify_password(password: String, hash: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| decoy_hash().to_string());
        let Ok(parsed) = PasswordHash::new(&hash) else {
            return false;
        };
        argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
            && known
    })
    .await
    .unwrap_or(false)
}

/// A normalised e-mail address, or an error naming the field.
pub fn normalise_email(email: &str) -> Result<String> {
    let e = email.trim().to_lowercase();
    let ok = e.len() <= 254
        && e.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.')
        })
        && !e.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(e)
    } else {
        Err(ServiceError::invalid(
            "email",
            "A valid e-mail address is required.",
        ))
    }
}

pub fn parse_role(role: &str) -> Result<Role> {
    role.parse().map_err(|_| {
        ServiceError::invalid(
            "role",
            "role must be one of owner, admin, developer, support, viewer.",
        )
    })
}

fn check_password(password: &str) -> Result<()> {
    let n = password.chars().count();
    if !(MIN_PASSWORD..=MAX_PASSWORD).contains(&n) {
        return Err(ServiceError::invalid(
            "password",
            format!("The password must be {MIN_PASSWORD} to {MAX_PASSWORD} characters long."),
        ));
    }
    Ok(())
}

fn totp_for(secret: &[u8], email: &str) -> Result<totp_rs::TOTP> {
    totp_rs::TOTP::new(
        totp_rs::Algorithm::SHA1,
        6,
        1,
        TOTP_STEP_SECS,
        secret.to_vec(),
        Some("Kassa".into()),
        email.to_string(),
    )
    .map_err(|e| ServiceError::Internal(format!("TOTP: {e}")))
}

/// The time step (±1 around now) whose code is `code`, compared in constant time.
fn totp_step_of(totp: &totp_rs::TOTP, code: &str, now_secs: u64) -> Option<i64> {
    let code = code.trim().replace(' ', "");
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let step = now_secs / TOTP_STEP_SECS;
    let mut found = None;
    for s in [step.saturating_sub(1), step, step + 1] {
        let expected = totp.generate(s * TOTP_STEP_SECS);
        if constant_time_eq(expected.as_bytes(), code.as_bytes()) {
            found = Some(s as i64);
        }
    }
    found
}

impl Users<'_> {
    /// Creates a user of the merchant with no password and a single-use link to set one.
    pub async fn create_user(&self, merchant_id: &str, email: &str, role: Role) -> Result<NewUser> {
        let email = normalise_email(email)?;
        if self.store.merchant(merchant_id).await?.is_none() {
            return Err(ServiceError::not_found("merchant", merchant_id));
        }
        if self.store.user_by_email(&email).await?.is_some() {
            return Err(ServiceError::invalid(
                "email",
                "A user with this e-mail address exists already.",
            ));
        }
        let now = now_ms();
        let user = User {
            id: new_id(prefix::USER),
            merchant_id: merchant_id.to_string(),
            email,
            role: role.as_str().to_string(),
            status: "invited".into(),
            password_hash: None,
            totp_secret_enc: None,
            totp_enabled_at: None,
            totp_last_step: None,
            created_at: now,
            updated_at: now,
        };
        let token = random_token(40);
        let mut tx = self.store.begin().await?;
        tx.insert_user(&user).await?;
        tx.insert_user_link(
            &sha256_hex(&token),
            &user.id,
            "setup",
            now,
            now + LINK_TTL_MS,
        )
        .await?;
        audit::record(
            &mut tx,
            &Scope::test(merchant_id),
            "user.create",
            Some(&user.id),
            &json!({"email": user.email, "role": user.role}),
        )
        .await?;
        tx.commit().await?;
        Ok(NewUser {
            user,
            link_token: token,
        })
    }

    /// The user a set-up link is for, while it is unused and unexpired.
    pub async fn setup_link(&self, token: &str) -> Result<User> {
        let gone = || ServiceError::not_found("link", "this link");
        if token.len() > 100 {
            return Err(gone());
        }
        let link = self
            .store
            .user_link(&sha256_hex(token))
            .await?
            .ok_or_else(gone)?;
        if link.used_at.is_some() || link.expires_at <= now_ms() {
            return Err(gone());
        }
        self.store.user(&link.user_id).await?.ok_or_else(gone)
    }

    /// Sets the password through a set-up link, which then stops working.
    pub async fn complete_setup(&self, token: &str, password: &str) -> Result<User> {
        check_password(password)?;
        let mut user = self.setup_link(token).await?;
        let hash = hash_password(password.to_string()).await?;
        let now = now_ms();
        let mut tx = self.store.begin().await?;
        if !tx.use_user_link(&sha256_hex(token), now).await? {
            return Err(ServiceError::not_found("link", "this link"));
        }
        user.password_hash = Some(hash);
        user.status = "active".into();
        user.updated_at = now;
        tx.update_user(&user).await?;
        audit::record(
            &mut tx,
            &Scope::test(&user.merchant_id),
            "user.password_set",
            Some(&user.id),
            &json!({}),
        )
        .await?;
        tx.commit().await?;
        Ok(user)
    }

    /// Signs in with e-mail and password. The session it opens still needs the second factor
    /// when the user has one. Every failure answers [`LOGIN_FAILED`], after as long as a wrong
    /// password takes; too many failures answer [`ServiceError::RateLimited`].
    pub async fn login(
        &self,
        email: &str,
        password: &str,
        ip: &str,
        user_agent: Option<&str>,
    ) -> Result<NewSession> {
        let email = email.trim().to_lowercase();
        let ip = ip.chars().take(64).collect::<String>();
        let email = email.chars().take(254).collect::<String>();
        let now = now_ms();
        let (here, total) = self
            .store
            .login_failures(&email, &ip, now - LOGIN_WINDOW_MS)
            .await?;
        if here >= LOGIN_FAILURES_PER_ADDRESS || total >= LOGIN_FAILURES_PER_ACCOUNT {
            return Err(ServiceError::RateLimited(
                "Too many failed sign-ins for this account: try again in 15 minutes.".into(),
            ));
        }
        let user = self.store.user_by_email(&email).await?;
        let usable = user.as_ref().filter(|u| u.status == "active");
        let ok = password.len() <= 4 * MAX_PASSWORD
            && verify_password(
                password.to_string(),
                usable.and_then(|u| u.password_hash.clone()),
            )
            .await;
        let Some(user) = usable.filter(|_| ok) else {
            self.store.record_login_failure(&email, &ip, now).await?;
            return Err(ServiceError::Unauthorized(LOGIN_FAILED.into()));
        };
        let token = random_token(43);
        let full = !user.has_totp();
        let session = DashboardSession {
            id: new_id(prefix::SESSION),
            token_hash: sha256_hex(&token),
            user_id: user.id.clone(),
            second_factor: full,
            csrf_secret: random_token(32),
            ip: Some(ip),
            user_agent: user_agent.map(|u| u.chars().take(300).collect()),
            created_at: now,
            last_seen_at: now,
            expires_at: now
                + if full {
                    ABSOLUTE_TIMEOUT_MS
                } else {
                    HALF_OPEN_MS
                },
            reauth_at: full.then_some(now),
            revoked_at: None,
        };
        let mut tx = self.store.begin().await?;
        tx.insert_session(&session).await?;
        tx.commit().await?;
        Ok(NewSession { token, session })
    }

    /// The session a cookie token names and its user, when the session is open (not revoked,
    /// within its idle and absolute expiry) and the user active. Marks it seen.
    pub async fn session(&self, token: &str) -> Result<Option<(DashboardSession, User)>> {
        if token.len() != 43 || !token.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Ok(None);
        }
        let Some(mut s) = self.store.session_by_token_hash(&sha256_hex(token)).await? else {
            return Ok(None);
        };
        let now = now_ms();
        if s.revoked_at.is_some() || s.expires_at <= now || s.last_seen_at <= now - IDLE_TIMEOUT_MS
        {
            return Ok(None);
        }
        let Some(user) = self.store.user(&s.user_id).await? else {
            return Ok(None);
        };
        if user.status != "active" {
            return Ok(None);
        }
        if now - s.last_seen_at >= TOUCH_EVERY_MS {
            if !self
                .store
                .touch_session(&s.id, now, now - IDLE_TIMEOUT_MS)
                .await?
            {
                return Ok(None);
            }
            s.last_seen_at = now;
        }
        Ok(Some((s, user)))
    }

    /// Completes a half-open session with a TOTP code or an unused recovery code.
    pub async fn second_factor(&self, session: &DashboardSession, code: &str) -> Result<()> {
        let user = self
            .store
            .user(&session.user_id)
            .await?
            .ok_or_else(|| ServiceError::Unauthorized(LOGIN_FAILED.into()))?;
        let now = now_ms();
        let mut tx = self.store.begin().await?;
        let ok = if let Some(step) = self.totp_step(&user, code)? {
            tx.accept_totp_step(&user.id, step).await?
        } else {
            let normal = code.trim().to_lowercase().replace([' ', '-'], "");
            normal.len() == 16
                && tx
                    .use_recovery_code(&user.id, &sha256_hex(&normal), now)
                    .await?
        };
        if !ok {
            drop(tx);
            let ip = session.ip.clone().unwrap_or_default();
            self.store
                .record_login_failure(&user.email, &ip, now)
                .await?;
            return Err(ServiceError::Unauthorized(
                "That code is not right (or was used already).".into(),
            ));
        }
        tx.complete_session(&session.id, now).await?;
        tx.commit().await?;
        Ok(())
    }

    fn totp_step(&self, user: &User, code: &str) -> Result<Option<i64>> {
        let Some(sealed) = &user.totp_secret_enc else {
            return Ok(None);
        };
        let secret = self
            .secrets
            .open(sealed)
            .ok_or_else(|| ServiceError::Internal("a TOTP secret cannot be opened".into()))?;
        let bytes = base32_decode(&secret)
            .ok_or_else(|| ServiceError::Internal("a stored TOTP secret is malformed".into()))?;
        let totp = totp_for(&bytes, &user.email)?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Ok(totp_step_of(&totp, code, now))
    }

    /// Starts setting up an authenticator: a fresh secret, kept sealed until a code confirms it.
    pub async fn begin_totp(&self, user: &User) -> Result<TotpEnrolment> {
        if user.has_totp() {
            return Err(ServiceError::State(
                "An authenticator is set up already.".into(),
            ));
        }
        let mut raw = [0u8; 20];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut raw);
        let totp = totp_for(&raw, &user.email)?;
        let secret_base32 = totp.get_secret_base32();
        let mut u = user.clone();
        u.totp_secret_enc = Some(self.secrets.seal(&secret_base32));
        u.updated_at = now_ms();
        let mut tx = self.store.begin().await?;
        tx.update_user(&u).await?;
        tx.commit().await?;
        Ok(TotpEnrolment {
            otpauth_url: totp.get_url(),
            secret_base32,
        })
    }

    /// The authenticator being set up, for showing again (the page is reloaded).
    pub fn pending_totp(&self, user: &User) -> Result<Option<TotpEnrolment>> {
        if user.has_totp() {
            return Ok(None);
        }
        let Some(sealed) = &user.totp_secret_enc else {
            return Ok(None);
        };
        let Some(secret) = self.secrets.open(sealed) else {
            return Ok(None);
        };
        let bytes = base32_decode(&secret)
            .ok_or_else(|| ServiceError::Internal("a stored TOTP secret is malformed".into()))?;
        let totp = totp_for(&bytes, &user.email)?;
        Ok(Some(TotpEnrolment {
            otpauth_url: totp.get_url(),
            secret_base32: secret,
        }))
    }

    /// Confirms the authenticator with a code from it; returns the recovery codes (shown once).
    pub async fn confirm_totp(&self, user: &User, code: &str) -> Result<Vec<String>> {
        if user.has_totp() {
            return Err(ServiceError::State(
                "An authenticator is set up already.".into(),
            ));
        }
        let Some(step) = self.totp_step(user, code)? else {
            return Err(ServiceError::invalid(
                "code",
                "That code is not right: check the clock of the device and try the next code.",
            ));
        };
        let now = now_ms();
        let codes: Vec<String> = (0..RECOVERY_CODES)
            .map(|_| random_token(16).to_lowercase())
            .collect();
        let hashes: Vec<String> = codes.iter().map(|c| sha256_hex(c)).collect();
        let mut u = user.clone();
        u.totp_enabled_at = Some(now);
        u.totp_last_step = Some(step);
        u.updated_at = now;
        let mut tx = self.store.begin().await?;
        tx.update_user(&u).await?;
        tx.replace_recovery_codes(&u.id, &hashes).await?;
        audit::record(
            &mut tx,
            &Scope::test(&u.merchant_id),
            "user.totp_enabled",
            Some(&u.id),
            &json!({}),
        )
        .await?;
        tx.commit().await?;
        Ok(codes
            .into_iter()
            .map(|c| format!("{}-{}-{}-{}", &c[0..4], &c[4..8], &c[8..12], &c[12..16]))
            .collect())
    }

    /// Step-up: the password again, allowing sensitive changes for [`REAUTH_WINDOW_MS`].
    pub async fn reauthenticate(
        &self,
        session: &DashboardSession,
        user: &User,
        password: &str,
    ) -> Result<()> {
        let ip = session.ip.clone().unwrap_or_default();
        let now = now_ms();
        let (here, total) = self
            .store
            .login_failures(&user.email, &ip, now - LOGIN_WINDOW_MS)
            .await?;
        if here >= LOGIN_FAILURES_PER_ADDRESS || total >= LOGIN_FAILURES_PER_ACCOUNT {
            return Err(ServiceError::RateLimited(
                "Too many failed attempts: try again in 15 minutes.".into(),
            ));
        }
        if !verify_password(password.to_string(), user.password_hash.clone()).await {
            self.store
                .record_login_failure(&user.email, &ip, now)
                .await?;
            return Err(ServiceError::Unauthorized(
                "The password is not right.".into(),
            ));
        }
        let mut tx = self.store.begin().await?;
        tx.set_session_reauth(&session.id, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Ends one of the user's sessions, or all of them but `keep`.
    pub async fn revoke_sessions(
        &self,
        user_id: &str,
        only: Option<&str>,
        keep: Option<&str>,
    ) -> Result<u64> {
        let mut tx = self.store.begin().await?;
        let n = tx.revoke_sessions(user_id, only, keep, now_ms()).await?;
        tx.commit().await?;
        Ok(n)
    }

    /// The merchant's users.
    pub async fn team(&self, merchant_id: &str) -> Result<Vec<User>> {
        Ok(self.store.users_of(merchant_id).await?)
    }

    /// Invites a user to the acting user's merchant with `role` (which the actor must be
    /// allowed to give).
    pub async fn invite(&self, actor: &User, email: &str, role: Role) -> Result<NewUser> {
        let actor_role: Role = actor.role.parse().unwrap_or(Role::Viewer);
        if !actor_role.may_assign(role) {
            return Err(ServiceError::Forbidden(format!(
                "A {actor_role} cannot give the role {role}."
            )));
        }
        self.create_user(&actor.merchant_id, email, role).await
    }

    /// Changes a team member's role; an actor cannot change their own.
    pub async fn change_role(&self, actor: &User, user_id: &str, role: Role) -> Result<User> {
        let actor_role: Role = actor.role.parse().unwrap_or(Role::Viewer);
        let mut target = self
            .store
            .user(user_id)
            .await?
            .filter(|u| u.merchant_id == actor.merchant_id)
            .ok_or_else(|| ServiceError::not_found("user", user_id))?;
        let current: Role = target.role.parse().unwrap_or(Role::Viewer);
        if target.id == actor.id {
            return Err(ServiceError::Forbidden(
                "You cannot change your own role.".into(),
            ));
        }
        if !actor_role.may_assign(role) || !actor_role.may_assign(current) {
            return Err(ServiceError::Forbidden(format!(
                "A {actor_role} cannot change a {current} to {role}."
            )));
        }
        target.role = role.as_str().into();
        target.updated_at = now_ms();
        let mut tx = self.store.begin().await?;
        tx.update_user(&target).await?;
        tx.revoke_sessions(&target.id, None, None, target.updated_at)
            .await?;
        audit::record(
            &mut tx,
            &Scope::test(&actor.merchant_id),
            "user.role_change",
            Some(&target.id),
            &json!({"email": target.email, "from": current.as_str(), "role": role.as_str()}),
        )
        .await?;
        tx.commit().await?;
        Ok(target)
    }
}

/// RFC 4648 base32 without padding, as authenticator apps use.
fn base32_decode(s: &str) -> Option<Vec<u8>> {
    totp_rs::Secret::Encoded(s.to_string()).to_bytes().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_is_accepted_one_step_either_side_and_no_further() {
        let secret = b"12345678901234567890".to_vec();
        let totp = totp_for(&secret, "a@b.example").unwrap();
        // RFC 6238's SHA-1 vector: T = 59 s gives 94287082 (8 digits); 6 digits: 287082.
        assert_eq!(totp.generate(59), "287082");
        assert_eq!(totp_step_of(&totp, "287082", 59), Some(1));
        assert_eq!(totp_step_of(&totp, "287082", 59 + 30), Some(1));
        assert_eq!(totp_step_of(&totp, "287 082", 59 - 30), Some(1));
        assert_eq!(totp_step_of(&totp, "287082", 59 + 60), None);
        assert_eq!(totp_step_of(&totp, "28708", 59), None);
        assert_eq!(totp_step_of(&totp, "abcdef", 59), None);
    }

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            normalise_email(" Ann@Shop.Example ").unwrap(),
            "ann@shop.example"
        );
        for bad in [
            "",
            "ann",
            "ann@",
            "@shop.example",
            "ann@shop",
            "a b@shop.example",
        ] {
            assert!(normalise_email(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn passwords_hash_with_argon2id_and_verify() {
        let h = hash_password("correct horse battery".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify_password("correct horse battery".into(), Some(h.clone())).await);
        assert!(!verify_password("wrong horse battery".into(), Some(h)).await);
        assert!(!verify_password("anything at all".into(), None).await);
    }
}
