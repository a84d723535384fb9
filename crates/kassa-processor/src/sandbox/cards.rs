//! The sandbox's test data for cards: the test tokens and the cards whose behaviour they
//! borrow, the fixed table of special card numbers ([`Scenario`]; every other valid card is
//! approved), and what a card's security code does to an approval ([`CvcRule`]).

use kassa_core::card::Expiry;

use crate::Decline;

/// Expiry given to every test token; far enough ahead that merchants' test
/// suites keep passing for years.
pub(super) const TOKEN_EXPIRY: Expiry = Expiry {
    month: 12,
    year: 2034,
};

/// Test tokens and the card whose behaviour each one borrows.
pub(crate) const TOKENS: &[(&str, &str)] = &[
    ("pm_card_visa", "4242424242424242"),
    ("pm_card_mastercard", "5555555555554444"),
    ("pm_card_chargeDeclined", "4000000000000002"),
    (
        "pm_card_chargeDeclinedInsufficientFunds",
        "4000000000009995",
    ),
    ("pm_card_chargeDeclinedExpiredCard", "4000000000000069"),
    ("pm_card_chargeDeclinedIncorrectCvc", "4000000000000127"),
    ("pm_card_threeDSecureRequired", "4000002500003155"),
    ("pm_card_threeDSecure2Required", "4000000000003220"),
    ("pm_card_authenticationRequired", "4000002760003184"),
    (
        "pm_card_threeDSecureRequiredChargeDeclined",
        "4000008400001629",
    ),
];

/// Token names only, in the same order as [`TOKENS`].
const TOKEN_NAMES: &[&str] = &[
    "pm_card_visa",
    "pm_card_mastercard",
    "pm_card_chargeDeclined",
    "pm_card_chargeDeclinedInsufficientFunds",
    "pm_card_chargeDeclinedExpiredCard",
    "pm_card_chargeDeclinedIncorrectCvc",
    "pm_card_threeDSecureRequired",
    "pm_card_threeDSecure2Required",
    "pm_card_authenticationRequired",
    "pm_card_threeDSecureRequiredChargeDeclined",
];

/// The test payment-method tokens the sandbox accepts.
pub fn test_tokens() -> &'static [&'static str] {
    TOKEN_NAMES
}

/// The public test card number whose behaviour the test token `token` borrows (the same number
/// behaves the same way at Stripe's test mode), or `None` for an unknown token.
pub fn test_token_card(token: &str) -> Option<&'static str> {
    TOKENS
        .iter()
        .find(|(name, _)| *name == token)
        .map(|(_, digits)| *digits)
}

/// What the sandbox does with a given card.
pub(super) enum Scenario {
    /// Approve; `renewals_decline` makes every later merchant-initiated
    /// charge on the payment decline.
    Approve {
        renewals_decline: bool,
    },
    Decline(Decline),
    /// Ask for 3-D Secure; `approve` says whether a successful challenge
    /// approves the payment or the issuer declines anyway.
    Challenge {
        approve: bool,
    },
    /// Ask for 3-D Secure on this and every later payment: a successful
    /// challenge approves, and merchant-initiated charges on the method
    /// decline with `authentication_required`.
    ChallengeAlways,
}

/// The fixed table of special cards; every other valid card is approved.
pub(super) fn scenario_for(digits: &str) -> Scenario {
    match digits {
        "4000000000000002" => Scenario::Decline(Decline::generic()),
        "4000000000009995" => Scenario::Decline(Decline::insufficient_funds()),
        "4000000000000069" => Scenario::Decline(Decline::expired_card()),
        "4000000000000127" => Scenario::Decline(Decline::incorrect_cvc()),
        "4000002500003155" | "4000000000003220" => Scenario::Challenge { approve: true },
        "4000008400001629" => Scenario::Challenge { approve: false },
        "4000002760003184" => Scenario::ChallengeAlways,
        "4000000000000341" => Scenario::Approve {
            renewals_decline: true,
        },
        _ => Scenario::Approve {
            renewals_decline: false,
        },
    }
}

/// What a card's security code does to a payment that would otherwise be
/// approved (Paymentwall's sandbox codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CvcRule {
    /// Any other code, or none (test tokens): approve.
    Pass,
    /// `111`.
    Incorrect,
    /// `222`.
    InsufficientBalance,
    /// `333`.
    CallIssuer,
    /// `555` (`accept`) or `556`: authorize and hold for a risk review.
    Review { accept: bool },
}

/// Every rule that changes the outcome, with the suffix that carries it in a
/// 3-D Secure challenge state. This is the rule's effect, never the code
/// itself. A review's verdict is also written in the reference, which is all
/// [`crate::Processor::review_verdict`] gets to see.
pub(super) const CVC_RULE_SUFFIXES: &[(CvcRule, &str)] = &[
    (CvcRule::Incorrect, ":cvc_incorrect"),
    (CvcRule::InsufficientBalance, ":cvc_balance"),
    (CvcRule::CallIssuer, ":cvc_issuer"),
    (CvcRule::Review { accept: true }, ":review_accept"),
    (CvcRule::Review { accept: false }, ":review_decline"),
];

impl CvcRule {
    pub(super) fn for_cvc(cvc: Option<&str>) -> Self {
        match cvc {
            Some("111") => CvcRule::Incorrect,
            Some("222") => CvcRule::InsufficientBalance,
            Some("333") => CvcRule::CallIssuer,
            Some("555") => CvcRule::Review { accept: true },
            Some("556") => CvcRule::Review { accept: false },
            _ => CvcRule::Pass,
        }
    }

    /// The decline this rule turns an approval into, if any.
    pub(super) fn decline(self) -> Option<Decline> {
        match self {
            CvcRule::Pass | CvcRule::Review { .. } => None,
            CvcRule::Incorrect => Some(Decline::new(
                "incorrect_cvc",
                "incorrect_cvc",
                "Please ensure the CVV/CSC number is correct.",
            )),
            CvcRule::InsufficientBalance => Some(Decline::new(
                "card_declined",
                "insufficient_funds",
                "The card has insufficient balance.",
            )),
            CvcRule::CallIssuer => Some(Decline::new(
                "card_declined",
                "call_issuer",
                "Please contact your issuing bank to approve the payment.",
            )),
        }
    }

    /// The review verdict to encode in the reference, if the rule holds the
    /// payment for review.
    pub(super) fn review(self) -> Option<bool> {
        match self {
            CvcRule::Review { accept } => Some(accept),
            _ => None,
        }
    }

    pub(super) fn state_suffix(self) -> &'static str {
        CVC_RULE_SUFFIXES
            .iter()
            .find(|(rule, _)| *rule == self)
            .map_or("", |(_, suffix)| suffix)
    }
}
