//! The service's error enum. The HTTP layer maps each variant to a stable code and status.

use kassa_core::intent::{PaymentError, TransitionError};
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("No such {kind}: '{id}'")]
    NotFound { kind: &'static str, id: String },
    #[error("{message}")]
    Invalid {
        param: Option<String>,
        message: String,
    },
    /// A URL Kassa would fetch later points to an address the egress policy refuses (or is
    /// not a URL Kassa may fetch at all); `message` says why.
    #[error("{message}")]
    UrlRefused { param: String, message: String },
    /// The object's status does not allow the operation.
    #[error("{0}")]
    State(String),
    /// Another request changed the object at the same moment.
    #[error("The object was modified by a concurrent request; retry.")]
    Conflict,
    /// The card was declined; the intent (now back in `requires_payment_method`) is attached.
    #[error("{}", .error.message)]
    Declined {
        error: Box<PaymentError>,
        intent: Box<Value>,
    },
    /// Live mode cannot run here: the server does not allow it (`livemode_disabled`) or no
    /// processor account is configured (`processor_account_missing`).
    #[error("{message}")]
    LiveMode { code: &'static str, message: String },
    #[error("The payment processor is unavailable: {0}")]
    Processor(String),
    /// Who is asking could not be established (a failed sign-in, a wrong code).
    #[error("{0}")]
    Unauthorized(String),
    /// Who is asking may not do this (their role, or a step-up is needed).
    #[error("{0}")]
    Forbidden(String),
    /// Too many attempts; the message says when to try again.
    #[error("{0}")]
    RateLimited(String),
    /// Something that should not fail did (a worker thread, a library); logged, answered 500.
    #[error("internal error: {0}")]
    Internal(String),
    #[error(transparent)]
    Store(kassa_store::StoreError),
}

/// The body of a declined confirmation, the same whether answered now or replayed.
pub fn declined_body(error: &PaymentError, intent: &Value) -> Value {
    serde_json::json!({"error": {
        "type": error.kind, "code": error.code, "decline_code": error.decline_code,
        "message": error.message, "param": null, "payment_intent": intent,
    }})
}

impl ServiceError {
    pub fn invalid(param: &str, message: impl Into<String>) -> Self {
        ServiceError::Invalid {
            param: Some(param.to_string()),
            message: message.into(),
        }
    }
    pub fn not_found(kind: &'static str, id: &str) -> Self {
        ServiceError::NotFound {
            kind,
            id: id.chars().take(100).collect(),
        }
    }
}

impl ServiceError {
    /// The database is unavailable: the caller should retry (503), nothing was written.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, ServiceError::Store(e) if e.is_unavailable())
    }
}

/// Whether an error of any type the faces log (a [`ServiceError`] or a store error) means the
/// database is unavailable, so a page or an API answers 503 "retry" instead of 500.
pub fn is_unavailable(e: &dyn std::any::Any) -> bool {
    if let Some(e) = e.downcast_ref::<ServiceError>() {
        return e.is_unavailable();
    }
    if let Some(e) = e.downcast_ref::<kassa_store::StoreError>() {
        return e.is_unavailable();
    }
    false
}

/// Seconds a client is asked to wait before retrying when the database is unavailable.
pub const RETRY_AFTER_SECS: u64 = 2;

impl From<kassa_store::StoreError> for ServiceError {
    fn from(e: kassa_store::StoreError) -> Self {
        match e {
            kassa_store::StoreError::Conflict => ServiceError::Conflict,
            other => ServiceError::Store(other),
        }
    }
}

impl From<TransitionError> for ServiceError {
    fn from(e: TransitionError) -> Self {
        ServiceError::State(e.to_string())
    }
}
