//! The branding object `/v1/branding` answers.

use serde::Deserialize;
use utoipa::ToSchema;

/// One scope's own look, as the API answers it (`null`: not set here; a project or profile then
/// shows the merchant's).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BrandingObject {
    /// Always `branding`.
    pub object: String,
    /// `merchant`, `pw:<project id>` or `pm:<profile id>`.
    pub scope: String,
    #[schema(required = true)]
    pub display_name: Option<String>,
    /// `#rrggbb`.
    #[schema(required = true)]
    pub accent_color: Option<String>,
    #[schema(required = true)]
    pub logo: Option<LogoObject>,
    /// Unix **milliseconds** of the last change (unlike the other objects' seconds); null
    /// before the first.
    #[schema(required = true)]
    pub updated_at: Option<i64>,
}

/// A stored logo.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogoObject {
    /// `logo_…`
    pub id: String,
    /// Where Kassa serves the PNG (public, cached for good: a new upload gets a new id).
    pub url: String,
    /// Pixels.
    pub width: i64,
    /// Pixels.
    pub height: i64,
}

#[cfg(test)]
mod tests {
    use super::super::tests::pinned;
    use super::*;
    use kassa_service::branding::{Branding, LogoInfo};

    /// The documented schema is what the handlers answer (unknown fields refused).
    #[test]
    fn schemas_match_the_objects() {
        let mut b = Branding {
            object: "branding",
            scope: "merchant".into(),
            display_name: None,
            accent_color: None,
            logo: None,
            updated_at: None,
        };
        let o: BrandingObject = pinned(&serde_json::to_value(&b).unwrap());
        assert!(o.logo.is_none());
        b.scope = "pw:pwp_1".into();
        b.display_name = Some("Shop".into());
        b.accent_color = Some("#0a66c2".into());
        b.logo = Some(LogoInfo {
            id: "logo_1".into(),
            url: "http://kassa.test/branding/logos/logo_1".into(),
            width: 64,
            height: 32,
        });
        b.updated_at = Some(1_700_000_000_000);
        let o: BrandingObject = pinned(&serde_json::to_value(&b).unwrap());
        assert_eq!(o.logo.unwrap().width, 64);
    }
}
