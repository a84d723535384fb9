//! The customer's 3-D Secure and wallet pages for a pending Paymob transaction, and the
//! sandbox settlement of kiosk and cash references.

use super::{doc, Integration, PmError, PmResult};
use crate::Paymob;
use kassa_core::scope::Scope;
use kassa_paymob::transaction::Transaction;
use kassa_processor::ChallengeResult;
use kassa_store::{PmProfile, PmTransaction};
use serde_json::Value;

use super::pay::*;

impl Paymob<'_> {
    /// The customer's page for a pending 3-D Secure or wallet step.
    pub async fn challenge_view(&self, txn_id: i64, sig: &str) -> PmResult<ChallengeView> {
        let (profile, integration, t) = self.challenge_txn(txn_id, sig).await?;
        let obj: Transaction = doc(&t.obj, "transaction")?;
        let extra: TxnExtra = doc(&t.extra, "transaction extra")?;
        let done_url = match extra.challenge.as_deref() {
            Some("3ds" | "wallet") => None,
            _ => Some(self.final_url(&profile, &integration, &extra, &obj)?),
        };
        let currency = obj.currency.clone();
        let amount = obj.amount_cents;
        let pan = obj.source_data.pan.as_str();
        Ok(ChallengeView {
            transaction_id: t.id,
            kind: extra.challenge.clone().unwrap_or_else(|| "3ds".into()),
            amount: kassa_paymob::money::format_minor(amount, &currency),
            amount_cents: amount,
            currency,
            merchant_name: Self::company_name(&profile),
            method: if extra.subtype == "WALLET" {
                pan.to_string()
            } else {
                format!("\u{2022}\u{2022}\u{2022}\u{2022} {pan}")
            },
            done_url,
            frame_ancestors: super::frame_ancestors_of(&profile),
            owner: super::PageOwner::of(&profile),
        })
    }

    pub(super) async fn challenge_txn(
        &self,
        txn_id: i64,
        sig: &str,
    ) -> PmResult<(PmProfile, Integration, PmTransaction)> {
        let expected = challenge_sig(&self.page_key(), txn_id);
        if !kassa_core::secret::constant_time_eq(expected.as_bytes(), sig.as_bytes()) {
            return Err(PmError::not_found("Payment"));
        }
        let t = self
            .store
            .pm_transaction(txn_id)
            .await?
            .ok_or_else(|| PmError::not_found("Payment"))?;
        let profile = self
            .store
            .pm_profile(t.profile_id)
            .await?
            .ok_or_else(|| PmError::not_found("Payment"))?;
        let extra: TxnExtra = doc(&t.extra, "transaction extra")?;
        let integration = self
            .integration(extra.integration_id)
            .await?
            .ok_or_else(|| PmError::not_found("Payment"))?;
        Ok((profile, integration, t))
    }

    /// The customer answered the 3-D Secure or wallet page; returns where they go next.
    pub async fn answer_challenge(
        &self,
        txn_id: i64,
        sig: &str,
        approve: bool,
        otp: Option<String>,
    ) -> PmResult<String> {
        let (profile, integration, t) = self.challenge_txn(txn_id, sig).await?;
        let extra: TxnExtra = doc(&t.extra, "transaction extra")?;
        if let (Some(attempt), Some("3ds" | "wallet")) =
            (&extra.attempt_id, extra.challenge.as_deref())
        {
            let result = match (extra.challenge.as_deref(), approve, otp) {
                (Some("wallet"), true, Some(code)) => ChallengeResult::Otp(code),
                (_, true, _) => ChallengeResult::Approve,
                _ => ChallengeResult::Fail,
            };
            self.payments()
                .complete_challenge_with(attempt, result)
                .await?;
        }
        let t = self
            .store
            .pm_transaction(txn_id)
            .await?
            .ok_or_else(|| PmError::not_found("Payment"))?;
        let obj: Transaction = doc(&t.obj, "transaction")?;
        let extra: TxnExtra = doc(&t.extra, "transaction extra")?;
        self.final_url(&profile, &integration, &extra, &obj)
    }

    /// Sandbox: the customer paid (or never paid) a kiosk reference or the courier collected
    /// (or did not collect) the cash. Returns the transaction.
    pub async fn sandbox_settle(&self, scope: &Scope, txn_id: i64, paid: bool) -> PmResult<Value> {
        if scope.livemode {
            return Err(PmError::message(
                400,
                "Settling a payment by hand is for test mode: a live kiosk or cash payment is \
                 settled by the processor.",
            ));
        }
        let t = match self.store.pm_transaction(txn_id).await? {
            Some(t) => t,
            None => return Err(PmError::not_found("Transaction")),
        };
        let profile = self
            .store
            .pm_profile(t.profile_id)
            .await?
            .filter(|p| p.scope() == *scope)
            .ok_or_else(|| PmError::not_found("Transaction"))?;
        let extra: TxnExtra = doc(&t.extra, "transaction extra")?;
        match (&extra.attempt_id, extra.challenge.as_deref()) {
            (Some(attempt), Some("voucher")) => {
                // A reference paid after its expiry is refused by the core, as a real outlet
                // would refuse it.
                let r = if paid {
                    ChallengeResult::Approve
                } else {
                    ChallengeResult::Fail
                };
                self.payments().complete_challenge_with(attempt, r).await?;
            }
            _ => {
                return Err(PmError::message(
                    400,
                    "This transaction is not a pending kiosk or cash payment.",
                ))
            }
        }
        self.get_transaction(&profile, txn_id).await
    }
}
