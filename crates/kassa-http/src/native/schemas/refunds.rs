//! The refund as `/v1/refunds` answers it (and the Paymentwall sandbox's chargeback).

use kassa_core::intent::{Metadata, RefundStatus};
use serde::Deserialize;
use utoipa::ToSchema;

use super::{CurrencyCode, ListObject};

/// A refund as the API answers it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundObject {
    /// `re_…`
    pub id: String,
    /// Always `refund`.
    pub object: String,
    /// Minor units of `currency`.
    pub amount: i64,
    /// Lower-case ISO 4217 code, the payment's.
    #[schema(value_type = CurrencyCode)]
    pub currency: String,
    /// The refunded payment intent (`pi_…`).
    pub payment_intent: String,
    pub status: RefundStatus,
    #[schema(required = true)]
    pub reason: Option<RefundReason>,
    #[schema(value_type = BTreeMap<String, String>)]
    pub metadata: Metadata,
    /// Unix seconds.
    pub created: i64,
}

/// Why the money goes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RefundReason {
    Duplicate,
    /// Given by the merchant, or a chargeback (the payer's bank took the money back).
    Fraudulent,
    RequestedByCustomer,
}

/// A page of refunds, newest first.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundList {
    pub object: ListObject,
    /// `/v1/refunds`
    pub url: String,
    /// More come after the last one (`starting_after` its id).
    pub has_more: bool,
    pub data: Vec<RefundObject>,
}

#[cfg(test)]
mod tests {
    use super::super::tests::pinned;
    use super::*;
    use crate::native::list_body;
    use kassa_core::intent::{Refund, RefundKind};
    use kassa_core::money::Currency;

    /// The documented schemas are the objects the handlers answer (unknown fields refused).
    #[test]
    fn schemas_match_the_objects() {
        let mut r = Refund {
            id: "re_1".into(),
            merchant_id: "acct_1".into(),
            livemode: false,
            payment_intent_id: "pi_1".into(),
            amount: 500,
            currency: Currency::parse("usd").unwrap(),
            status: RefundStatus::Succeeded,
            kind: RefundKind::Refund,
            reason: None,
            metadata: Metadata::new(),
            processor_ref: None,
            created: 1_700_000_000_000,
        };
        let o: RefundObject = pinned(&r.to_json());
        assert_eq!((o.amount, o.created, o.reason), (500, 1_700_000_000, None));
        // A Paymentwall chargeback is a refund with the reason `fraudulent`.
        r.kind = RefundKind::Chargeback { reason: 1 };
        r.reason = Some("fraudulent".into());
        r.metadata.insert("k".into(), "v".into());
        let o: RefundObject = pinned(&r.to_json());
        assert_eq!(o.reason, Some(RefundReason::Fraudulent));
        let l: RefundList = pinned(&list_body("/v1/refunds", vec![r.to_json()], 10));
        assert_eq!(l.data.len(), 1);
    }
}
