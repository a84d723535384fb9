//! Prefixed, unguessable identifiers. Every id is a type prefix followed by 24 characters drawn
//! from a 62-letter alphabet (about 143 bits of randomness), so ids cannot be enumerated.

use rand::distributions::Alphanumeric;
use rand::Rng;

/// Object kinds and their id prefixes.
pub mod prefix {
    pub const MERCHANT: &str = "acct";
    pub const PAYMENT_INTENT: &str = "pi";
    pub const PAYMENT_ATTEMPT: &str = "pa";
    pub const REFUND: &str = "re";
    pub const EVENT: &str = "evt";
    pub const WEBHOOK_ENDPOINT: &str = "we";
    pub const DELIVERY: &str = "msg";
    pub const DELIVERY_ATTEMPT: &str = "atmpt";
    pub const API_KEY: &str = "key";
    pub const CHECKOUT: &str = "cs";
    pub const REQUEST: &str = "req";
    pub const CUSTOMER: &str = "cus";
    pub const PAYMENT_METHOD: &str = "pm";
    pub const SUBSCRIPTION: &str = "sub";
    pub const SUBSCRIPTION_ITEM: &str = "si";
    pub const INVOICE: &str = "in";
    pub const TEST_CLOCK: &str = "clock";
    pub const USER: &str = "usr";
    pub const SESSION: &str = "dses";
    pub const AUDIT: &str = "audit";
}

/// A random alphanumeric string of `len` characters from the OS-seeded thread RNG.
pub fn random_token(len: usize) -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// A new id such as `pi_3kT9...` for the given prefix.
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", random_token(24))
}

/// True when `id` has the given prefix and a well-formed random part. Used to reject garbage in
/// path parameters before it reaches the database.
pub fn is_valid_id(id: &str, prefix: &str) -> bool {
    match id.strip_prefix(prefix).and_then(|r| r.strip_prefix('_')) {
        Some(rest) => {
            !rest.is_empty() && rest.len() <= 64 && rest.bytes().all(|b| b.is_ascii_alphanumeric())
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_ids_carry_their_prefix_and_are_distinct() {
        let a = new_id(prefix::PAYMENT_INTENT);
        let b = new_id(prefix::PAYMENT_INTENT);
        assert!(a.starts_with("pi_"));
        assert_eq!(a.len(), 3 + 24);
        assert_ne!(a, b);
        assert!(is_valid_id(&a, "pi"));
    }

    #[test]
    fn ids_of_another_kind_or_with_odd_characters_are_rejected() {
        assert!(!is_valid_id("re_abc", "pi"));
        assert!(!is_valid_id("pi_", "pi"));
        assert!(!is_valid_id("pi_ab'c", "pi"));
        assert!(!is_valid_id("pix_abc", "pi"));
    }
}
