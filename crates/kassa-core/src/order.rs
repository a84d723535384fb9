//! One successful payment per order. A face whose orders take one payment (a Paymob order made
//! by an intention, a renewal's order) gives each of the order's payment intents the order's
//! key; while one of them holds the order, no other may start. The store enforces the same
//! rule with a unique index over the holding statuses, so two processes racing to pay one order
//! cannot both get through: the loser's write fails and it is told the order is taken.

use crate::intent::IntentStatus;

/// The statuses in which a payment holds its order (the store's index lists the same ones):
/// paid, authorised, being decided, or waiting for the customer.
pub const HOLDING: [IntentStatus; 4] = [
    IntentStatus::Processing,
    IntentStatus::RequiresAction,
    IntentStatus::RequiresCapture,
    IntentStatus::Succeeded,
];

/// Why an order cannot take a new payment now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderBlock {
    /// A payment of the order succeeded or is authorised.
    Paid,
    /// A payment of the order is being decided, or waits for its customer.
    InProgress,
}

/// Whether a payment in `status` holds its order.
pub fn holds(status: IntentStatus) -> bool {
    HOLDING.contains(&status)
}

/// What stops a new payment of an order whose payments are in `statuses`. A payment waiting
/// for its customer (3-D Secure, a wallet, a kiosk bill) blocks too: a face that lets the
/// customer start again cancels that one first, as abandoned.
pub fn blocker(statuses: impl IntoIterator<Item = IntentStatus>) -> Option<OrderBlock> {
    let mut block = None;
    for s in statuses {
        match s {
            IntentStatus::Succeeded | IntentStatus::RequiresCapture => {
                return Some(OrderBlock::Paid)
            }
            IntentStatus::Processing | IntentStatus::RequiresAction => {
                block = Some(OrderBlock::InProgress)
            }
            IntentStatus::RequiresPaymentMethod | IntentStatus::Canceled => {}
        }
    }
    block
}

#[cfg(test)]
mod tests {
    use super::*;
    use IntentStatus::*;

    #[test]
    fn a_paid_or_authorised_payment_closes_the_order_and_one_underway_blocks_it() {
        assert_eq!(blocker([]), None);
        assert_eq!(blocker([Canceled, RequiresPaymentMethod]), None);
        assert_eq!(
            blocker([Canceled, Processing]),
            Some(OrderBlock::InProgress)
        );
        assert_eq!(blocker([RequiresAction]), Some(OrderBlock::InProgress));
        for paid in [Succeeded, RequiresCapture] {
            assert_eq!(blocker([Processing, paid]), Some(OrderBlock::Paid));
            assert_eq!(blocker([paid, RequiresAction]), Some(OrderBlock::Paid));
        }
    }

    #[test]
    fn the_holding_statuses_are_the_ones_that_block() {
        for s in [
            RequiresPaymentMethod,
            RequiresAction,
            Processing,
            RequiresCapture,
            Succeeded,
            Canceled,
        ] {
            assert_eq!(holds(s), blocker([s]).is_some(), "{s:?}");
        }
    }
}
