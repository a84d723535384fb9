//! Which language a payer page speaks: the face's own parameter when the flow carries one
//! (Paymentwall's `lang`, a `?lang=` kept from page to page), else the browser's
//! `Accept-Language`, else English. The words and amounts come from `kassa-i18n`.

use axum::http::{header, HeaderMap};
pub use kassa_i18n::Lang;

/// The language for a page answering a request with these headers.
pub fn page_lang(headers: &HeaderMap, explicit: Option<&str>) -> Lang {
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    Lang::negotiate(explicit, accept)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flow_parameter_wins_over_the_browser() {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT_LANGUAGE, "fr-FR,fr;q=0.9".parse().unwrap());
        assert_eq!(page_lang(&h, None), Lang::Fr);
        assert_eq!(page_lang(&h, Some("ar")), Lang::Ar);
        assert_eq!(page_lang(&HeaderMap::new(), None), Lang::En);
    }
}
