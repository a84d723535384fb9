//! What the sandbox remembers between calls, written into what it hands out rather than kept in
//! memory: its references (`sbx_…`, carrying flags such as a risk review's verdict:
//! [`RefFlags`]) and its challenge states (what a pending challenge leads to: [`Challenge`]).

use super::cards::{CvcRule, CVC_RULE_SUFFIXES};
use crate::ProcessorError;

/// Prefix of every sandbox reference, so a live processor's reference can
/// never be mistaken for a sandbox one or the other way round.
pub(super) const REF_PREFIX: &str = "sbx_";
/// Random characters at the end of a reference: 24 base-36 characters is
/// about 124 bits, ample to make collisions and guessing irrelevant.
pub(super) const REF_RANDOM_LEN: usize = 24;
const REF_ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// Reference tag: held for risk review, and the review accepts.
const TAG_REVIEW_ACCEPT: &str = "rvaccept";
/// Reference tag: held for risk review, and the review declines.
const TAG_REVIEW_DECLINE: &str = "rvdecline";
/// Reference tag: merchant-initiated charges on this method decline.
const TAG_RENEWALS_DECLINE: &str = "mitdecline";
/// Reference tag: the issuer wants the cardholder to authenticate every charge on this method,
/// so merchant-initiated ones decline with `authentication_required`.
const TAG_RENEWALS_AUTH: &str = "mitauth";

/// Challenge state meaning "a successful challenge approves the payment".
pub(super) const STATE_APPROVE: &str = "3ds:approve";
/// Challenge state meaning "the issuer declines even after a successful
/// challenge".
pub(super) const STATE_DECLINE: &str = "3ds:decline";
/// Challenge state of a wallet waiting for its one-time code.
pub(super) const STATE_WALLET: &str = "wallet:otp";
/// Challenge state of a bank redirect waiting for the bank's answer.
pub(super) const STATE_BANK: &str = "bank:redirect";
/// Prefix of a voucher's challenge state; the voucher number follows.
pub(super) const STATE_VOUCHER_PREFIX: &str = "voucher:";
/// Digits in a voucher number.
const VOUCHER_DIGITS: usize = 12;

/// What kind of page a pending challenge needs, from the `challenge_state`
/// the sandbox handed out: `"3ds"`, `"wallet"` (ask for the one-time code),
/// `"bank"` (the bank's authorization page) or `"voucher"` (show
/// [`voucher_number`]). `None` for a state the sandbox did not issue.
pub fn challenge_kind(challenge_state: &str) -> Option<&'static str> {
    Some(match Challenge::parse(challenge_state)? {
        Challenge::ThreeDs(_) => "3ds",
        Challenge::Wallet => "wallet",
        Challenge::Bank => "bank",
        Challenge::Voucher => "voucher",
    })
}

/// The 12-digit number of a pending voucher, for the page to show; `None`
/// unless `challenge_state` is a voucher's.
pub fn voucher_number(challenge_state: &str) -> Option<String> {
    let number = challenge_state.strip_prefix(STATE_VOUCHER_PREFIX)?;
    is_voucher_number(number).then(|| number.to_string())
}

fn is_voucher_number(s: &str) -> bool {
    s.len() == VOUCHER_DIGITS && s.bytes().all(|b| b.is_ascii_digit())
}

/// What a 3-D Secure challenge leads to once the cardholder authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AfterThreeDs {
    /// The issuer declines anyway.
    Decline,
    /// The payment goes on to the CVC rule.
    Approve(CvcRule),
}

/// A parsed challenge state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Challenge {
    ThreeDs(AfterThreeDs),
    Wallet,
    Bank,
    Voucher,
}

impl Challenge {
    pub(super) fn parse(state: &str) -> Option<Self> {
        if state == STATE_DECLINE {
            return Some(Challenge::ThreeDs(AfterThreeDs::Decline));
        }
        if let Some(suffix) = state.strip_prefix(STATE_APPROVE) {
            let rule = if suffix.is_empty() {
                CvcRule::Pass
            } else {
                CVC_RULE_SUFFIXES
                    .iter()
                    .find(|(_, s)| *s == suffix)
                    .map(|(rule, _)| *rule)?
            };
            return Some(Challenge::ThreeDs(AfterThreeDs::Approve(rule)));
        }
        match state {
            STATE_WALLET => Some(Challenge::Wallet),
            STATE_BANK => Some(Challenge::Bank),
            _ => voucher_number(state).map(|_| Challenge::Voucher),
        }
    }
}

/// What a sandbox reference remembers for later calls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct RefFlags {
    /// `Some(accept)`: the authorization is held for a risk review whose
    /// verdict is `accept`.
    pub(super) review: Option<bool>,
    /// Merchant-initiated charges on the method behind the reference
    /// decline.
    pub(super) renewals_decline: bool,
    /// Merchant-initiated charges on the method behind the reference
    /// decline with `authentication_required`.
    pub(super) renewals_need_auth: bool,
}

impl RefFlags {
    /// Reads the flags of a reference the sandbox issued:
    /// `sbx_[rvaccept_|rvdecline_][mitdecline_][mitauth_]` and then 24 random
    /// characters. Tags appear at most once, in that order, so every set of
    /// flags has exactly one spelling. `None` for anything else.
    pub(super) fn parse(processor_ref: &str) -> Option<Self> {
        let rest = processor_ref.strip_prefix(REF_PREFIX)?;
        let (tags, random) = match rest.rsplit_once('_') {
            Some((tags, random)) => (Some(tags), random),
            None => (None, rest),
        };
        let random_ok =
            random.len() == REF_RANDOM_LEN && random.bytes().all(|b| REF_ALPHABET.contains(&b));
        if !random_ok {
            return None;
        }
        let mut flags = RefFlags::default();
        let mut tags = tags.map(|t| t.split('_')).into_iter().flatten().peekable();
        match tags.peek() {
            Some(&TAG_REVIEW_ACCEPT) => flags.review = Some(true),
            Some(&TAG_REVIEW_DECLINE) => flags.review = Some(false),
            _ => {}
        }
        if flags.review.is_some() {
            tags.next();
        }
        if tags.peek() == Some(&TAG_RENEWALS_DECLINE) {
            flags.renewals_decline = true;
            tags.next();
        }
        if tags.peek() == Some(&TAG_RENEWALS_AUTH) {
            flags.renewals_need_auth = true;
            tags.next();
        }
        tags.next().is_none().then_some(flags)
    }

    /// A fresh reference carrying these flags.
    pub(super) fn new_ref(self) -> String {
        use rand::Rng;
        let mut rng = rand::thread_rng();
        let mut out = String::from(REF_PREFIX);
        match self.review {
            Some(true) => out.extend([TAG_REVIEW_ACCEPT, "_"]),
            Some(false) => out.extend([TAG_REVIEW_DECLINE, "_"]),
            None => {}
        }
        if self.renewals_decline {
            out.extend([TAG_RENEWALS_DECLINE, "_"]);
        }
        if self.renewals_need_auth {
            out.extend([TAG_RENEWALS_AUTH, "_"]);
        }
        for _ in 0..REF_RANDOM_LEN {
            out.push(char::from(
                REF_ALPHABET[rng.gen_range(0..REF_ALPHABET.len())],
            ));
        }
        out
    }
}

/// A fresh 12-digit voucher number.
pub(super) fn new_voucher_number() -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    (0..VOUCHER_DIGITS)
        .map(|_| char::from(b'0' + rng.gen_range(0..10u8)))
        .collect()
}

/// Rejects references the sandbox cannot have issued, such as a live
/// processor's, so a misrouted call fails loudly instead of "succeeding".
pub(super) fn ensure_sandbox_ref(processor_ref: &str) -> Result<(), ProcessorError> {
    RefFlags::parse(processor_ref)
        .map(|_| ())
        .ok_or(ProcessorError::InvalidState)
}

/// A fresh `sbx_` reference with 24 random lower-case alphanumerics and no
/// flags. References are identifiers, not secrets, so `rand`'s thread-local
/// generator is plenty.
pub(super) fn new_ref() -> String {
    RefFlags::default().new_ref()
}
