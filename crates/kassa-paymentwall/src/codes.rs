//! Pingback `type` values (spec §4.3) and chargeback `reason` codes (spec §4.4).
//!
//! Invariant: these are Paymentwall's wire numbers; they never change meaning.

/// `type=0`: payment completed (also each successful renewal, with a new `ref`). Deliver.
pub const TYPE_PAYMENT: u16 = 0;
/// `type=1`: goodwill credit given by customer service. Deliver.
pub const TYPE_GOODWILL: u16 = 1;
/// `type=2`: negative (chargeback, refund, fraud/cancel); same `ref` as the payment; has `reason`.
pub const TYPE_NEGATIVE: u16 = 2;
/// `type=12`: subscription cancelled; the current period stays paid.
pub const TYPE_SUBSCRIPTION_CANCELLED: u16 = 12;
/// `type=13`: subscription expired.
pub const TYPE_SUBSCRIPTION_EXPIRED: u16 = 13;
/// `type=14`: subscription renewal failed after its retries; the subscription is stopped.
pub const TYPE_SUBSCRIPTION_PAYMENT_FAILED: u16 = 14;
/// `type=200`: risk review pending; do not deliver yet.
pub const TYPE_RISK_REVIEW_PENDING: u16 = 200;
/// `type=201`: risk review accepted; deliver.
pub const TYPE_RISK_REVIEW_ACCEPTED: u16 = 201;
/// `type=202`: risk review declined; do not deliver.
pub const TYPE_RISK_REVIEW_DECLINED: u16 = 202;
/// `type=203`: authorization voided (not captured in time).
pub const TYPE_AUTHORIZATION_VOIDED: u16 = 203;

/// Chargeback.
pub const REASON_CHARGEBACK: u8 = 1;
/// Credit card fraud (ban the user).
pub const REASON_CREDIT_CARD_FRAUD: u8 = 2;
/// Other fraud (ban the user).
pub const REASON_OTHER_FRAUD: u8 = 3;
/// Bad data entry.
pub const REASON_BAD_DATA_ENTRY: u8 = 4;
/// Fake / proxy user.
pub const REASON_FAKE_PROXY_USER: u8 = 5;
/// Rejected by advertiser.
pub const REASON_REJECTED_BY_ADVERTISER: u8 = 6;
/// Duplicate conversions.
pub const REASON_DUPLICATE_CONVERSIONS: u8 = 7;
/// Goodwill credit taken back.
pub const REASON_GOODWILL_TAKEN_BACK: u8 = 8;
/// Cancelled order, e.g. a refund.
pub const REASON_CANCELLED_ORDER: u8 = 9;
/// Partially reversed transaction.
pub const REASON_PARTIALLY_REVERSED: u8 = 10;

/// Every chargeback reason: (code, description, whether Paymentwall recommends banning the user).
pub const REASONS: [(u8, &str, bool); 10] = [
    (REASON_CHARGEBACK, "Chargeback", false),
    (REASON_CREDIT_CARD_FRAUD, "Credit card fraud", true),
    (REASON_OTHER_FRAUD, "Other fraud", true),
    (REASON_BAD_DATA_ENTRY, "Bad data entry", false),
    (REASON_FAKE_PROXY_USER, "Fake / proxy user", false),
    (
        REASON_REJECTED_BY_ADVERTISER,
        "Rejected by advertiser",
        false,
    ),
    (REASON_DUPLICATE_CONVERSIONS, "Duplicate conversions", false),
    (
        REASON_GOODWILL_TAKEN_BACK,
        "Goodwill credit taken back",
        false,
    ),
    (
        REASON_CANCELLED_ORDER,
        "Cancelled order, e.g. refund",
        false,
    ),
    (
        REASON_PARTIALLY_REVERSED,
        "Partially reversed transaction",
        false,
    ),
];

/// The description of a chargeback reason code, or `None` for an unknown code.
pub fn reason_description(code: u8) -> Option<&'static str> {
    REASONS
        .iter()
        .find(|(c, _, _)| *c == code)
        .map(|(_, text, _)| *text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_codes_run_from_one_to_ten_in_table_order() {
        let codes: Vec<u8> = REASONS.iter().map(|r| r.0).collect();
        assert_eq!(codes, (1..=10).collect::<Vec<u8>>());
        assert_eq!(reason_description(9), Some("Cancelled order, e.g. refund"));
        assert_eq!(reason_description(0), None);
        assert_eq!(reason_description(11), None);
    }

    #[test]
    fn only_the_two_fraud_reasons_recommend_a_ban() {
        let bans: Vec<u8> = REASONS.iter().filter(|r| r.2).map(|r| r.0).collect();
        assert_eq!(bans, vec![REASON_CREDIT_CARD_FRAUD, REASON_OTHER_FRAUD]);
    }
}
