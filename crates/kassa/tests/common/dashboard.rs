//! Shared helpers for the dashboard's black-box tests: a cookie-keeping browser without
//! JavaScript, users created through `kassa user create`, and reading values out of pages.

use std::process::Command;

use axum::http::StatusCode;
use serde_json::Value;

use super::TestApp;

pub const BIN: &str = env!("CARGO_BIN_EXE_kassa");
pub const PASSWORD: &str = "correct horse battery staple";

/// `kassa user create … --json` against the app's database; the set-up link.
pub fn create_user(app: &TestApp, email: &str, role: &str) -> String {
    let out = Command::new(BIN)
        .args([
            "user",
            "create",
            "--merchant",
            &app.merchant_id,
            "--email",
            email,
        ])
        .args([
            "--role",
            role,
            "--json",
            "--database-url",
            &app.database_url,
        ])
        .args(["--base-url", &app.base])
        .env("KASSA_MASTER_KEY", super::MASTER_KEY)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["role"], role);
    v["setup_link"].as_str().unwrap().to_string()
}

/// A cookie-keeping client that does not follow redirects.
pub struct Browser {
    pub http: reqwest::Client,
    pub base: String,
}

pub struct Page {
    pub status: StatusCode,
    pub location: String,
    pub body: String,
}

impl Page {
    /// The session's CSRF token, from the first form of the page.
    pub fn csrf(&self) -> String {
        field(&self.body, "csrf").unwrap_or_else(|| panic!("no csrf field in {}", self.body))
    }
}

/// The value of the first `<input name="{name}" value="…">`.
pub fn field(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\" value=\""))?;
    let rest = &html[at + name.len() + 15..];
    Some(rest[..rest.find('"')?].to_string())
}

/// The text of the element with this id, up to its first child element.
pub fn text_of_id(html: &str, id: &str) -> Option<String> {
    let at = html.find(&format!("id=\"{id}\""))?;
    let rest = &html[at..];
    let start = rest.find('>')? + 1;
    let end = rest.find('<')?;
    Some(rest[start..end].trim().to_string())
}

impl Browser {
    pub fn new(app: &TestApp) -> Browser {
        Browser {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: app.base.clone(),
        }
    }

    pub async fn page(resp: reqwest::Response) -> Page {
        Page {
            status: resp.status(),
            location: resp
                .headers()
                .get("location")
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default(),
            body: resp.text().await.unwrap(),
        }
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{path}", self.base)
        }
    }

    pub async fn get(&self, path: &str) -> Page {
        Browser::page(self.http.get(self.url(path)).send().await.unwrap()).await
    }

    /// A form POST as a browser sends it from one of the dashboard's pages.
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Page {
        let base = self.base.clone();
        self.post_with(
            path,
            form,
            &[("origin", &base), ("sec-fetch-site", "same-origin")],
        )
        .await
    }

    pub async fn post_with(
        &self,
        path: &str,
        form: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Page {
        let mut req = self.http.post(self.url(path)).form(form);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        Browser::page(req.send().await.unwrap()).await
    }
}

/// The TOTP code of `secret_base32` at `at_secs`.
pub fn totp(secret_base32: &str, at_secs: u64) -> String {
    let bytes = totp_rs::Secret::Encoded(secret_base32.to_string())
        .to_bytes()
        .unwrap();
    totp_rs::TOTP::new(totp_rs::Algorithm::SHA1, 6, 1, 30, bytes, None, "t".into())
        .unwrap()
        .generate(at_secs)
}

pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A new user of the app's merchant with this role, who set their password through the
/// link: the browser is then signed in to test mode (no second factor yet). The link names the
/// server's base URL, which may be an https one in front of it: the browser goes to where the
/// server listens.
pub async fn set_up(app: &TestApp, email: &str, role: &str) -> Browser {
    let link = create_user(app, email, role);
    let path = &link[link.find("/dashboard/").expect("a dashboard link")..];
    let b = Browser::new(app);
    let page = b.get(path).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let csrf = page.csrf();
    let done = b
        .post(
            path,
            &[
                ("csrf", &csrf),
                ("password", PASSWORD),
                ("password2", PASSWORD),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    b
}

/// Sets up TOTP for the signed-in user (as on the account page); returns its secret. The
/// session stays open, now with an authenticator, so live mode opens where the server allows it.
pub async fn enrol_totp(b: &Browser) -> String {
    let sec = b.get("/dashboard/test/account/security").await;
    assert_eq!(sec.status, StatusCode::OK, "{}", sec.body);
    let enrol = b
        .post("/dashboard/test/account/totp", &[("csrf", &sec.csrf())])
        .await;
    assert_eq!(enrol.status, StatusCode::SEE_OTHER, "{}", enrol.body);
    let sec = b.get("/dashboard/test/account/security").await;
    let secret = text_of_id(&sec.body, "totp-secret").expect("the TOTP secret");
    let ok = b
        .post(
            "/dashboard/test/account/totp/confirm",
            &[("csrf", &sec.csrf()), ("code", &totp(&secret, now_secs()))],
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    secret
}
