//! Django-REST-Framework-shaped error bodies.

use serde_json::{Map, Value};

pub const REQUIRED: &str = "This field is required.";
pub const BLANK: &str = "This field may not be blank.";
pub const NULL: &str = "This field may not be null.";
pub const INVALID_INT: &str = "A valid integer is required.";
pub const INVALID_BOOL: &str = "Must be a valid boolean.";
pub const INVALID_STR: &str = "Not a valid string.";
pub const INVALID_EMAIL: &str = "Enter a valid email address.";
pub const INVALID_URL: &str = "Enter a valid URL.";
pub const INVALID_DATE: &str =
    "Date has wrong format. Use one of these formats instead: YYYY-MM-DD.";
pub const EMPTY_LIST: &str = "This list may not be empty.";
/// Template of [`not_a_list`].
pub const NOT_A_LIST: &str = "Expected a list of items but got type \"{type}\".";
/// Key for errors not tied to one field.
pub const NON_FIELD: &str = "non_field_errors";

/// Python type name of a JSON value, as DRF reports it.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

/// `Expected a list of items but got type "str".`
pub fn not_a_list(v: &Value) -> String {
    NOT_A_LIST.replace("{type}", type_name(v))
}

/// Nested serializer given a non-object: `Invalid data. Expected a dictionary, but got str.`
pub fn not_a_dict(v: &Value) -> String {
    format!(
        "Invalid data. Expected a dictionary, but got {}.",
        type_name(v)
    )
}

/// Dict field given a non-object: `Expected a dictionary of items but got type "list".`
pub fn not_a_dict_field(v: &Value) -> String {
    format!(
        "Expected a dictionary of items but got type \"{}\".",
        type_name(v)
    )
}

/// `"X" is not a valid choice.`
pub fn invalid_choice(input: &str) -> String {
    format!("\"{input}\" is not a valid choice.")
}

/// `Ensure this field has no more than {n} characters.`
pub fn max_len(n: usize) -> String {
    format!("Ensure this field has no more than {n} characters.")
}

/// `Ensure this field has no more than {n} elements.`
pub fn max_items(n: usize) -> String {
    format!("Ensure this field has no more than {n} elements.")
}

/// `Ensure this value is greater than or equal to {n}.`
pub fn min_value(n: i64) -> String {
    format!("Ensure this value is greater than or equal to {n}.")
}

/// `Ensure this value is less than or equal to {n}.`
pub fn max_value(n: i64) -> String {
    format!("Ensure this value is less than or equal to {n}.")
}

#[derive(Debug, Clone)]
enum Entry {
    List(Vec<String>),
    Nested(Errors),
}

/// Field errors in insertion order: lists of messages or nested errors.
#[derive(Default, Debug, Clone)]
pub struct Errors {
    fields: Vec<(String, Entry)>,
}

impl Errors {
    /// Appends a message to `field`'s list (a field holding nested errors keeps them).
    pub fn add(&mut self, field: &str, msg: impl Into<String>) {
        match self.fields.iter_mut().find(|(k, _)| k == field) {
            Some((_, Entry::List(l))) => l.push(msg.into()),
            Some((_, Entry::Nested(_))) => {}
            None => self
                .fields
                .push((field.to_string(), Entry::List(vec![msg.into()]))),
        }
    }

    /// Sets nested errors for `field` if `inner` is non-empty.
    pub fn nested(&mut self, field: &str, inner: Errors) {
        if inner.is_empty() {
            return;
        }
        match self.fields.iter_mut().find(|(k, _)| k == field) {
            Some((_, e)) => *e = Entry::Nested(inner),
            None => self.fields.push((field.to_string(), Entry::Nested(inner))),
        }
    }

    /// True when no error was recorded.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The DRF body: `{"field":["msg"],"nested":{"inner":["msg"]}}`.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        for (k, e) in &self.fields {
            let v = match e {
                Entry::List(l) => Value::from(l.clone()),
                Entry::Nested(n) => n.to_json(),
            };
            m.insert(k.clone(), v);
        }
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn shapes() {
        let mut e = Errors::default();
        assert!(e.is_empty());
        assert_eq!(e.to_json(), json!({}));
        e.add("amount", REQUIRED);
        e.add("amount", min_value(1));
        let mut inner = Errors::default();
        e.nested("billing_data", inner.clone());
        assert!(e.to_json().get("billing_data").is_none());
        inner.add("phone_number", BLANK);
        e.nested("billing_data", inner);
        assert_eq!(
            e.to_json(),
            json!({
                "amount": ["This field is required.", "Ensure this value is greater than or equal to 1."],
                "billing_data": {"phone_number": ["This field may not be blank."]}
            })
        );
        e.add("billing_data", "ignored");
        assert_eq!(e.to_json()["billing_data"]["phone_number"][0], BLANK);
    }

    #[test]
    fn messages() {
        assert_eq!(
            not_a_list(&json!("x")),
            "Expected a list of items but got type \"str\"."
        );
        assert_eq!(
            not_a_list(&json!({})),
            "Expected a list of items but got type \"dict\"."
        );
        assert_eq!(
            not_a_list(&json!(1.5)),
            "Expected a list of items but got type \"float\"."
        );
        assert_eq!(
            not_a_dict(&json!(1)),
            "Invalid data. Expected a dictionary, but got int."
        );
        assert_eq!(invalid_choice("USD"), "\"USD\" is not a valid choice.");
        assert_eq!(
            max_len(50),
            "Ensure this field has no more than 50 characters."
        );
        assert_eq!(
            max_value(3),
            "Ensure this value is less than or equal to 3."
        );
    }
}
