//! Unit tests of the subscription rules.

use super::*;
use crate::calendar::days_from_civil;
use crate::money::Currency;

fn at(y: i64, m: i64, d: i64) -> i64 {
    days_from_civil(y, m, d) * DAY_MS + 9 * 3_600_000
}

fn sub(interval: Interval, count: i64, policy: RetryPolicy) -> Subscription {
    let usd = Currency::parse("usd").unwrap();
    Subscription {
        id: "sub_1".into(),
        merchant_id: "acct_1".into(),
        livemode: false,
        customer: "cus_1".into(),
        test_clock: None,
        status: SubscriptionStatus::Incomplete,
        default_payment_method: Some("pm_1".into()),
        items: vec![Item {
            id: "si_1".into(),
            product_name: "Pro".into(),
            currency: usd,
            unit_amount: 1500,
            recurring: Recurring {
                interval,
                interval_count: count,
            },
            quantity: 2,
        }],
        currency: usd,
        billing_cycle_anchor: 0,
        cycle: -1,
        current_period_start: 0,
        current_period_end: 0,
        trial_start: None,
        trial_end: None,
        trial_will_end_sent: false,
        cancel_at_period_end: false,
        cancel_at: None,
        canceled_at: None,
        ended_at: None,
        latest_invoice: None,
        retry_at: None,
        retry_policy: policy,
        metadata: Metadata::new(),
        next_action_at: None,
        created: 0,
        updated: 0,
        version: 0,
    }
}

/// Runs every due step up to `until` as the scheduler would, paying each invoice when
/// `pays(attempt)` says so; returns what happened, in order.
fn run(s: &mut Subscription, until: i64, pays: impl Fn(usize) -> bool) -> Vec<(i64, String)> {
    let mut log = Vec::new();
    let mut attempts = 0;
    while let Some(t) = s.next_action_at.filter(|t| *t <= until) {
        let Some(due) = s.due(t) else { break };
        match due {
            Due::TrialWillEnd => {
                s.trial_notice_sent(t);
                log.push((t, "trial_will_end".into()));
            }
            Due::Bill(reason) => {
                let (a, b) = s.begin_period();
                attempts = 1;
                log.push((t, format!("bill {} {a}..{b}", reason.as_str())));
                if pays(attempts) {
                    s.invoice_paid(t);
                } else {
                    s.invoice_failed(attempts, t);
                }
                log.push((t, s.status.as_str().into()));
            }
            Due::Retry => {
                attempts += 1;
                if pays(attempts) {
                    s.invoice_paid(t);
                } else {
                    s.invoice_failed(attempts, t);
                }
                log.push((t, format!("retry {attempts} {}", s.status.as_str())));
            }
            Due::End => {
                s.end(s.end_time(), t);
                log.push((t, "end".into()));
            }
            Due::Expire => {
                s.expire(t);
                log.push((t, "expired".into()));
            }
        }
    }
    log
}

#[test]
fn monthly_periods_keep_their_day_of_the_month() {
    let mut s = sub(Interval::Month, 1, RetryPolicy::default());
    s.start(at(2027, 1, 31), None);
    assert_eq!(
        s.due(at(2027, 1, 31)),
        Some(Due::Bill(BillingReason::Create))
    );
    run(&mut s, at(2027, 5, 1), |_| true);
    // Jan 31, Feb 28, Mar 31, Apr 30: anchored, never drifting to the 28th.
    assert_eq!(s.cycle, 3);
    assert_eq!(
        (s.current_period_start, s.current_period_end),
        (at(2027, 4, 30), at(2027, 5, 31))
    );
    assert_eq!(s.status, SubscriptionStatus::Active);
}

#[test]
fn a_trial_warns_three_days_ahead_then_bills() {
    let mut s = sub(Interval::Week, 2, RetryPolicy::default());
    let t0 = at(2027, 3, 1);
    s.start(t0, Some(7));
    assert_eq!(s.status, SubscriptionStatus::Trialing);
    assert_eq!(s.trial_end, Some(t0 + 7 * DAY_MS));
    let log = run(&mut s, t0 + 7 * DAY_MS, |_| true);
    assert_eq!(log[0], (t0 + 4 * DAY_MS, "trial_will_end".to_string()));
    assert_eq!(log[1].0, t0 + 7 * DAY_MS);
    assert!(log[1].1.starts_with("bill subscription_cycle"), "{log:?}");
    assert_eq!(s.status, SubscriptionStatus::Active);
    assert_eq!(s.current_period_end, t0 + 21 * DAY_MS);
    // A one-day trial: the notice is due at once.
    let mut short = sub(Interval::Day, 1, RetryPolicy::default());
    short.start(t0, Some(1));
    assert_eq!(short.due(t0), Some(Due::TrialWillEnd));
}

#[test]
fn failed_renewals_retry_on_schedule_then_take_the_final_action() {
    for (action, end_status, events) in [
        (
            FinalAction::Cancel,
            SubscriptionStatus::Canceled,
            vec![EventType::CustomerSubscriptionDeleted],
        ),
        (
            FinalAction::MarkUnpaid,
            SubscriptionStatus::Unpaid,
            vec![EventType::CustomerSubscriptionUpdated],
        ),
        (
            FinalAction::LeavePastDue,
            SubscriptionStatus::PastDue,
            vec![],
        ),
    ] {
        let policy = RetryPolicy {
            retry_days: vec![1, 3],
            final_action: action,
            retry_seconds: None,
        };
        let mut s = sub(Interval::Month, 1, policy);
        let t0 = at(2027, 1, 10);
        s.start(t0, None);
        run(&mut s, t0, |_| true);
        // The renewal on Feb 10 and both retries fail.
        let log = run(&mut s, at(2027, 2, 14) + 1, |_| false);
        let times: Vec<i64> = log.iter().map(|(t, _)| *t).collect();
        assert_eq!(
            times,
            [
                at(2027, 2, 10),
                at(2027, 2, 10),
                at(2027, 2, 11),
                at(2027, 2, 14)
            ],
            "{action:?} {log:?}"
        );
        assert_eq!(log[1].1, "past_due");
        assert_eq!(s.status, end_status, "{action:?}");
        assert_eq!(s.retry_at, None);
        // The final action's own events, when the last retry fails.
        let mut again = s.clone();
        if action == FinalAction::LeavePastDue {
            // It renews at its next period; a success makes it active again.
            assert_eq!(s.next_action_at, Some(at(2027, 3, 10)));
            run(&mut s, at(2027, 3, 10), |_| true);
            assert_eq!(s.status, SubscriptionStatus::Active);
        } else {
            assert_eq!(s.next_action_at, None, "{action:?}");
            again.status = SubscriptionStatus::PastDue;
            assert_eq!(again.invoice_failed(3, at(2027, 2, 14)), events);
        }
    }
}

#[test]
fn a_retry_that_succeeds_brings_it_back_and_periods_continue() {
    let t0 = at(2027, 1, 10);
    let mut s = sub(Interval::Month, 1, RetryPolicy::default());
    s.start(t0, None);
    run(&mut s, t0, |_| true);
    let log = run(&mut s, at(2027, 3, 10), |attempt| attempt == 2);
    assert_eq!(log[1].1, "past_due");
    assert_eq!(log[2], (at(2027, 2, 11), "retry 2 active".to_string()));
    assert_eq!(
        s.current_period_end,
        at(2027, 4, 10),
        "the March renewal ran too"
    );
}

#[test]
fn a_first_payment_that_fails_leaves_it_incomplete_until_it_expires() {
    let mut s = sub(Interval::Month, 1, RetryPolicy::default());
    let t0 = at(2027, 1, 10);
    s.start(t0, None);
    let log = run(&mut s, t0 + INCOMPLETE_EXPIRY_MS, |_| false);
    assert_eq!(
        log.last().unwrap(),
        &(t0 + INCOMPLETE_EXPIRY_MS, "expired".to_string())
    );
    assert_eq!(s.status, SubscriptionStatus::IncompleteExpired);
    assert_eq!(s.next_action_at, None);
}

#[test]
fn cancel_at_period_end_ends_at_the_period_end_and_can_be_taken_back() {
    let mut s = sub(Interval::Month, 1, RetryPolicy::default());
    let t0 = at(2027, 1, 10);
    s.start(t0, None);
    run(&mut s, t0, |_| true);
    s.cancel(true, at(2027, 1, 20)).unwrap();
    assert_eq!(s.status, SubscriptionStatus::Active);
    let mut kept = s.clone();
    kept.keep(at(2027, 1, 21));
    assert_eq!(
        kept.due(at(2027, 2, 10)),
        Some(Due::Bill(BillingReason::Cycle))
    );
    assert_eq!(s.due(at(2027, 2, 10)), Some(Due::End));
    run(&mut s, at(2027, 3, 1), |_| true);
    assert_eq!(s.status, SubscriptionStatus::Canceled);
    assert_eq!(s.ended_at, Some(at(2027, 2, 10)));
    assert_eq!(s.canceled_at, Some(at(2027, 1, 20)));
    assert!(s.cancel(false, at(2027, 3, 1)).is_err(), "already over");
    // Cancelling now ends it now.
    let mut now = sub(Interval::Month, 1, RetryPolicy::default());
    now.start(t0, Some(10));
    assert_eq!(
        now.cancel(false, t0 + DAY_MS),
        Ok(vec![EventType::CustomerSubscriptionDeleted])
    );
    assert_eq!(now.next_action_at, None);
}

#[test]
fn a_paused_subscription_bills_nothing_and_resumes_where_it_should() {
    let mut s = sub(Interval::Month, 1, RetryPolicy::default());
    let t0 = at(2027, 1, 10);
    s.start(t0, None);
    run(&mut s, t0, |_| true);
    s.pause(at(2027, 1, 15)).unwrap();
    assert_eq!(
        (s.status, s.next_action_at),
        (SubscriptionStatus::Paused, None)
    );
    assert!(s.pause(at(2027, 1, 16)).is_err());
    // Back within the period: it goes on as before.
    let mut early = s.clone();
    early.resume(at(2027, 1, 20), false).unwrap();
    assert_eq!(early.next_action_at, Some(at(2027, 2, 10)));
    // Back after it: a new period starts now.
    s.resume(at(2027, 3, 5), false).unwrap();
    assert_eq!(s.due(at(2027, 3, 5)), Some(Due::Bill(BillingReason::Cycle)));
    run(&mut s, at(2027, 3, 5), |_| true);
    assert_eq!(
        (s.current_period_start, s.current_period_end),
        (at(2027, 3, 5), at(2027, 4, 5))
    );
    assert!(s.resume(at(2027, 3, 6), false).is_err());
}

#[test]
fn items_share_a_currency_and_an_interval_and_add_up() {
    let s = sub(Interval::Month, 1, RetryPolicy::default());
    let one = s.items[0].clone();
    assert_eq!(amount_of(std::slice::from_ref(&one)), Some(3000));
    assert!(check_items(std::slice::from_ref(&one)).is_ok());
    assert_eq!(check_items(&[]).unwrap_err().0, "items");
    let mut eur = one.clone();
    eur.currency = Currency::parse("eur").unwrap();
    assert_eq!(check_items(&[one.clone(), eur]).unwrap_err().0, "currency");
    let mut weekly = one.clone();
    weekly.recurring.interval = Interval::Week;
    assert_eq!(
        check_items(&[one.clone(), weekly]).unwrap_err().0,
        "recurring"
    );
    let mut long = one.clone();
    long.recurring.interval_count = 37;
    assert_eq!(check_items(&[long]).unwrap_err().0, "interval_count");
    let mut none = one.clone();
    none.quantity = 0;
    assert_eq!(check_items(&[none]).unwrap_err().0, "quantity");
    let mut huge = one;
    huge.unit_amount = crate::money::MAX_AMOUNT;
    assert_eq!(check_items(&[huge.clone(), huge]).unwrap_err().0, "items");
    assert!(RetryPolicy::default().check().is_ok());
    for bad in [vec![0], vec![61], vec![1; 9]] {
        let p = RetryPolicy {
            retry_days: bad,
            final_action: FinalAction::Cancel,
            retry_seconds: None,
        };
        assert!(p.check().is_err());
    }
}

#[test]
fn a_payment_landing_after_a_cancel_or_pause_changes_nothing() {
    let mut s = sub(Interval::Month, 1, RetryPolicy::default());
    s.start(at(2027, 1, 10), None);
    s.begin_period();
    s.cancel(false, at(2027, 1, 10)).unwrap();
    assert!(s.invoice_paid(at(2027, 1, 10)).is_empty());
    assert_eq!(s.status, SubscriptionStatus::Canceled);
    let mut p = sub(Interval::Month, 1, RetryPolicy::default());
    p.start(at(2027, 1, 10), Some(5));
    p.pause(at(2027, 1, 11)).unwrap();
    assert!(p.invoice_failed(1, at(2027, 1, 11)).is_empty());
    assert_eq!(
        (p.status, p.next_action_at),
        (SubscriptionStatus::Paused, None)
    );
}

#[test]
fn statuses_round_trip() {
    for st in SubscriptionStatus::ALL {
        assert_eq!(SubscriptionStatus::parse(st.as_str()), Some(st));
        assert_eq!(serde_json::to_value(st).unwrap(), st.as_str());
    }
}

#[test]
fn a_failure_after_the_last_retry_can_pause_it_and_a_resume_retries_the_invoice() {
    let policy = RetryPolicy {
        retry_days: vec![1, 1],
        final_action: FinalAction::Pause,
        retry_seconds: None,
    };
    let mut s = sub(Interval::Day, 30, policy);
    let t0 = at(2027, 1, 1);
    s.start(t0, None);
    run(&mut s, t0, |_| true);
    let log = run(&mut s, at(2027, 2, 5), |_| false);
    let last = log.last().unwrap();
    assert_eq!(last, &(at(2027, 2, 2), "retry 3 paused".to_string()));
    assert_eq!(
        s.next_action_at, None,
        "a paused subscription bills nothing"
    );
    // Resumed within the period with its invoice open: retried at once.
    let mut open = s.clone();
    open.resume(at(2027, 2, 5), true).unwrap();
    assert_eq!(
        (open.status, open.due(at(2027, 2, 5))),
        (SubscriptionStatus::PastDue, Some(Due::Retry))
    );
    // Without an open invoice it goes on to the period's end.
    s.resume(at(2027, 2, 5), false).unwrap();
    assert_eq!(
        (s.status, s.next_action_at),
        (SubscriptionStatus::Active, Some(at(2027, 3, 2)))
    );
}

#[test]
fn cancel_at_ends_it_then_and_bills_nothing_from_there() {
    let mut s = sub(Interval::Day, 10, RetryPolicy::default());
    let t0 = at(2027, 1, 1);
    s.start(t0, None);
    s.cancel_at = Some(t0 + 25 * DAY_MS);
    run(&mut s, t0, |_| true);
    let log = run(&mut s, at(2027, 3, 1), |_| true);
    // Renewals on day 10 and 20; the end on day 25, inside the third period.
    assert_eq!(
        log.iter().filter(|(_, k)| k.starts_with("bill")).count(),
        2,
        "{log:?}"
    );
    assert_eq!(log.last().unwrap(), &(t0 + 25 * DAY_MS, "end".to_string()));
    assert_eq!(s.status, SubscriptionStatus::Canceled);
    assert_eq!(s.ended_at, Some(t0 + 25 * DAY_MS));
    // A cancel_at on a period's end ends it there instead of billing again.
    let mut e = sub(Interval::Day, 10, RetryPolicy::default());
    e.start(t0, None);
    e.cancel_at = Some(t0 + 20 * DAY_MS);
    run(&mut e, t0, |_| true);
    let log = run(&mut e, at(2027, 3, 1), |_| true);
    assert_eq!(log.last().unwrap(), &(t0 + 20 * DAY_MS, "end".to_string()));
    assert_eq!(log.iter().filter(|(_, k)| k.starts_with("bill")).count(), 1);
}

#[test]
fn a_prepaid_start_and_a_moved_billing_date() {
    let mut s = sub(Interval::Day, 30, RetryPolicy::default());
    let t0 = at(2027, 1, 1);
    s.start_paid(t0, t0 + 30 * DAY_MS);
    assert_eq!(s.status, SubscriptionStatus::Active);
    assert_eq!(s.due(t0 + 30 * DAY_MS - 1), None);
    assert_eq!(
        s.due(t0 + 30 * DAY_MS),
        Some(Due::Bill(BillingReason::Cycle))
    );
    // Suspended and resumed inside the prepaid period: nothing is billed early.
    s.pause(t0 + DAY_MS).unwrap();
    s.resume(t0 + 2 * DAY_MS, false).unwrap();
    assert_eq!(s.next_action_at, Some(t0 + 30 * DAY_MS));
    // The merchant moves the next billing: periods count from there.
    s.set_next_billing(t0 + 40 * DAY_MS, t0 + 3 * DAY_MS)
        .unwrap();
    let log = run(&mut s, t0 + 40 * DAY_MS, |_| true);
    assert_eq!(log[0].0, t0 + 40 * DAY_MS);
    assert_eq!(s.current_period_end, t0 + 70 * DAY_MS);
    assert!(
        s.set_next_billing(t0, t0 + 41 * DAY_MS).is_err(),
        "in the past"
    );
    s.cancel(false, t0 + 41 * DAY_MS).unwrap();
    assert!(s
        .set_next_billing(t0 + 90 * DAY_MS, t0 + 41 * DAY_MS)
        .is_err());
}

#[test]
fn a_charge_with_no_known_outcome_is_checked_again_without_changing_anything() {
    let t0 = at(2027, 1, 10);
    let mut s = sub(Interval::Month, 1, RetryPolicy::default());
    s.start(t0, None);
    run(&mut s, t0, |_| true);
    assert_eq!(s.status, SubscriptionStatus::Active);
    // The February renewal's answer is lost.
    let renewal = at(2027, 2, 10);
    assert_eq!(s.due(renewal), Some(Due::Bill(BillingReason::Cycle)));
    s.begin_period();
    let period_end = s.current_period_end;
    s.charge_pending(renewal + 60_000, renewal);
    // Still active, same period; the next thing due is the check, a minute later.
    assert_eq!(s.status, SubscriptionStatus::Active);
    assert_eq!(s.current_period_end, period_end);
    assert_eq!(s.next_action_at, Some(renewal + 60_000));
    assert_eq!(s.due(renewal + 30_000), None);
    assert_eq!(s.due(renewal + 60_000), Some(Due::Retry));
    // The check finds it paid: active, the retry cleared, next renewal at the period's end.
    assert!(s.invoice_paid(renewal + 60_000).is_empty());
    assert_eq!(s.retry_at, None);
    assert_eq!(s.next_action_at, Some(period_end));
    // A pending check on a subscription that ended is ignored.
    s.status = SubscriptionStatus::Canceled;
    s.charge_pending(renewal + 120_000, renewal);
    assert_eq!(s.retry_at, None);
}
