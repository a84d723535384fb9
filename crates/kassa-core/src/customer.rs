//! Customers: who pays, kept by the merchant so payments, saved payment methods and
//! subscriptions can name them. Shaped like Stripe's customer object.

use serde_json::{json, Value};

use crate::intent::Metadata;

/// Longest `name` (characters).
pub const MAX_NAME: usize = 256;
/// Longest `phone` (characters).
pub const MAX_PHONE: usize = 40;
/// Longest `description` (characters).
pub const MAX_DESCRIPTION: usize = 1000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    pub id: String,
    pub merchant_id: String,
    /// `true` for live-mode data (see [`crate::scope`]).
    pub livemode: bool,
    pub email: Option<String>,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub description: Option<String>,
    pub metadata: Metadata,
    /// The test clock whose time the customer's subscriptions live at (set when created).
    pub test_clock: Option<String>,
    pub created: i64,
    pub updated: i64,
}

impl Customer {
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "object": "customer",
            "email": self.email,
            "name": self.name,
            "phone": self.phone,
            "description": self.description,
            "metadata": self.metadata,
            "test_clock": self.test_clock,
            "created": self.created / 1000,
            "livemode": self.livemode,
        })
    }

    /// What `DELETE /v1/customers/{id}` answers, and a `customer.deleted` event carries.
    pub fn deleted_json(&self) -> Value {
        json!({"id": self.id, "object": "customer", "deleted": true})
    }
}

/// A text field's new value: trimmed, `None` when empty (an empty string clears a field), or
/// why it cannot be stored.
pub fn text_field(value: &str, max_chars: usize, what: &str) -> Result<Option<String>, String> {
    let v = value.trim();
    if v.chars().count() > max_chars {
        return Err(format!("{what} must be at most {max_chars} characters."));
    }
    if v.chars().any(|c| c.is_control()) {
        return Err(format!("{what} must not contain control characters."));
    }
    Ok((!v.is_empty()).then(|| v.to_string()))
}

/// A phone number as people write it: digits with an optional leading `+`, spaces, dashes,
/// dots and parentheses; 4 to 20 digits.
pub fn check_phone(value: &str) -> bool {
    let digits = value.chars().filter(char::is_ascii_digit).count();
    let mut chars = value.chars();
    let rest_ok = |c: char| c.is_ascii_digit() || matches!(c, ' ' | '-' | '.' | '(' | ')');
    let first_ok = chars.next().is_some_and(|c| c == '+' || rest_ok(c));
    first_ok && chars.all(rest_ok) && (4..=20).contains(&digits)
}

impl Customer {
    /// The merchant and mode this object belongs to.
    pub fn scope(&self) -> crate::scope::Scope {
        crate::scope::Scope {
            merchant_id: self.merchant_id.clone(),
            livemode: self.livemode,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_fields_trim_clear_and_bound() {
        assert_eq!(text_field("  Ada  ", 10, "name"), Ok(Some("Ada".into())));
        assert_eq!(text_field("   ", 10, "name"), Ok(None));
        assert_eq!(text_field("", 10, "name"), Ok(None));
        assert_eq!(text_field("ééééé", 5, "name"), Ok(Some("ééééé".into())));
        assert!(text_field("ééééé", 4, "name")
            .unwrap_err()
            .contains("at most 4"));
        assert!(text_field("a\u{0}b", 10, "name").is_err());
        assert!(text_field("a\nb", 10, "description").is_err());
    }

    #[test]
    fn phones_as_people_write_them() {
        for ok in [
            "+201001234567",
            "020 7946 0958",
            "(555) 123-4567",
            "+1.555.123.4567",
            "1234",
        ] {
            assert!(check_phone(ok), "{ok}");
        }
        for bad in [
            "",
            "123",
            "+",
            "12a4",
            "++12345",
            "+1 555 123 4567 890 123 4567",
            "☎ 12345",
        ] {
            assert!(!check_phone(bad), "{bad}");
        }
    }

    #[test]
    fn deleted_customers_keep_only_their_id() {
        let c = Customer {
            id: "cus_1".into(),
            merchant_id: "acct_1".into(),
            livemode: false,
            email: Some("a@b.co".into()),
            name: None,
            phone: None,
            description: None,
            metadata: Metadata::new(),
            test_clock: None,
            created: 1_700_000_000_000,
            updated: 1_700_000_000_000,
        };
        assert_eq!(c.to_json()["created"], 1_700_000_000);
        assert_eq!(c.to_json()["email"], "a@b.co");
        assert_eq!(
            c.deleted_json(),
            json!({"id": "cus_1", "object": "customer", "deleted": true})
        );
    }
}
