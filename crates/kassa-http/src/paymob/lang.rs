//! The languages of the Paymob pages: the word tables their scripts read (inline and from
//! `/pm/i18n/{lang}`), the language switcher's links, and `lang=` kept on Kassa's own pages.

use axum::extract::{Path, RawQuery};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Value};

use super::with_cors;
use crate::lang::Lang;
use crate::AppState;

/// The decoded pairs of a query string, in order.
pub(super) fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

pub(super) fn pair<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The faces whose words the Paymob pages' scripts use.
const SCRIPT_FACES: [&str; 4] = ["pm", "card", "decline", "common"];

/// The word table the pages' scripts read (inline as `<script type="application/json">` and
/// from `/pm/i18n/{lang}`): `{"lang","dir","text":{"pm":{…},"card":{…},…}}`, plus `money`
/// when asked for. Only `Lang::json` output and escaped strings: safe inside a script element.
pub(super) fn script_table(lang: Lang, money: Option<&str>) -> String {
    let mut out = format!(
        "{{\"lang\":\"{}\",\"dir\":\"{}\",\"text\":{{",
        lang.code(),
        lang.dir()
    );
    for (i, face) in SCRIPT_FACES.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&format!("\"{face}\":{}", lang.json(face)));
    }
    out.push('}');
    if let Some(m) = money {
        out.push_str(",\"money\":");
        out.push_str(m);
    }
    out.push('}');
    out
}

/// JSON text with `<`, `>` and `&` escaped (they only occur inside strings), so it can sit
/// inside a script element.
pub(super) fn script_safe(json: &Value) -> String {
    json.to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

/// One entry of a page's language switcher: the same address in another language.
pub(super) struct LangLink {
    pub(super) code: &'static str,
    pub(super) name: &'static str,
    pub(super) href: String,
    pub(super) current: bool,
}

pub(super) fn lang_links(pairs: &[(String, String)], current: Lang) -> Vec<LangLink> {
    Lang::ALL
        .into_iter()
        .map(|l| {
            let mut q = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in pairs.iter().filter(|(k, _)| k != "lang") {
                q.append_pair(k, v);
            }
            q.append_pair("lang", l.code());
            LangLink {
                code: l.code(),
                name: l.native_name(),
                href: format!("?{}", q.finish()),
                current: l == current,
            }
        })
        .collect()
}

/// `url` with `lang=` set when it is one of Kassa's own payer pages (3-D Secure / wallet,
/// payment status, checkout), so a flow keeps its language from page to page; a merchant's
/// URL is left as it is.
pub(super) fn keep_lang(st: &AppState, url: &str, lang: Option<Lang>) -> String {
    let Some(lang) = lang else {
        return url.to_string();
    };
    let base = &st.svc.base_url;
    let own = ["/api/acceptance/challenge/", "/unifiedcheckout/"]
        .iter()
        .any(|p| url.starts_with(&format!("{base}{p}")))
        || url.starts_with(&format!("{base}/unifiedcheckout/payment-status"));
    if !own {
        return url.to_string();
    }
    let Ok(mut u) = url::Url::parse(url) else {
        return url.to_string();
    };
    let kept: Vec<(String, String)> = u
        .query_pairs()
        .filter(|(k, _)| k != "lang")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    {
        let mut q = u.query_pairs_mut();
        q.clear();
        for (k, v) in &kept {
            q.append_pair(k, v);
        }
        q.append_pair("lang", lang.code());
    }
    u.to_string()
}

#[derive(Deserialize)]
pub(super) struct LangQuery {
    pub(super) lang: Option<String>,
}

/// `GET /pm/i18n/{lang}?currency=EGP&minor=25000&minor=…`: the word table of a language for
/// the pages' scripts and Pixel (on the merchant's page, hence CORS), with the amounts asked
/// for written the way that language writes money (`money`: minor units → text), so every
/// page shows one payment's amount the same way.
pub(super) async fn i18n_table(Path(lang): Path<String>, RawQuery(raw): RawQuery) -> Response {
    let lang_code = lang.trim_end_matches(".json");
    let Some(lang) = Lang::from_tag(lang_code) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let pairs = query_pairs(raw.as_deref());
    let currency = pair(&pairs, "currency")
        .map(str::trim)
        .filter(|c| c.len() == 3 && c.bytes().all(|b| b.is_ascii_alphabetic()))
        .map(str::to_ascii_uppercase);
    let mut money = serde_json::Map::new();
    if let Some(cur) = &currency {
        for v in pairs.iter().filter(|(k, _)| k == "minor").take(100) {
            if let Ok(n) = v.1.trim().parse::<i64>() {
                money.insert(n.to_string(), json!(lang.money(n, cur)));
            }
        }
    }
    let body = script_table(lang, Some(&script_safe(&Value::Object(money))));
    with_cors(
        (
            [
                (CONTENT_TYPE, "application/json; charset=utf-8"),
                (CACHE_CONTROL, "public, max-age=300"),
            ],
            body,
        )
            .into_response(),
    )
}
