//! API errors: `{"error":{"type","code","message","param"}}` with a stable code and the right
//! status. A 5xx is logged with its cause and never shows internals.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kassa_service::ServiceError;
use serde_json::{json, Value};

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub kind: &'static str,
    pub code: &'static str,
    pub message: String,
    pub param: Option<String>,
    /// A full body to send instead (declines carry the intent).
    pub body: Option<Value>,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        kind: &'static str,
        code: &'static str,
        message: impl Into<String>,
    ) -> Self {
        ApiError {
            status,
            kind,
            code,
            message: message.into(),
            param: None,
            body: None,
        }
    }

    pub fn invalid(param: Option<&str>, message: impl Into<String>) -> Self {
        let mut e = ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "parameter_invalid",
            message,
        );
        e.param = param.map(str::to_string);
        e
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            "resource_missing",
            message,
        )
    }

    pub fn body(&self) -> Value {
        if let Some(b) = &self.body {
            return b.clone();
        }
        json!({"error": {
            "type": self.kind,
            "code": self.code,
            "message": self.message,
            "param": self.param,
        }})
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let resp = (self.status, axum::Json(self.body())).into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            crate::unavailable(resp)
        } else {
            resp
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::NotFound { .. } => ApiError::not_found(e.to_string()),
            ServiceError::Invalid { param, message } => {
                ApiError::invalid(param.as_deref(), message)
            }
            ServiceError::UrlRefused { param, message } => {
                let mut e = ApiError::invalid(Some(&param), message);
                e.code = "url_refused";
                e
            }
            ServiceError::State(m) => ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "unexpected_state",
                m,
            ),
            ServiceError::Conflict => ApiError::new(
                StatusCode::CONFLICT,
                "invalid_request_error",
                "lock_timeout",
                e.to_string(),
            ),
            ServiceError::Declined { error, intent } => {
                let mut out = ApiError::new(
                    StatusCode::PAYMENT_REQUIRED,
                    "card_error",
                    "card_declined",
                    error.message.clone(),
                );
                out.body = Some(kassa_service::declined_body(&error, &intent));
                out
            }
            ServiceError::LiveMode { code, message } => ApiError::new(
                if code == "livemode_disabled" {
                    StatusCode::FORBIDDEN
                } else {
                    StatusCode::BAD_REQUEST
                },
                "invalid_request_error",
                code,
                message,
            ),
            ServiceError::Processor(m) => {
                tracing::error!(error = %m, "processor error");
                ApiError::new(
                    StatusCode::BAD_GATEWAY,
                    "api_error",
                    "processor_unavailable",
                    "The payment processor could not be reached. Try again later.",
                )
            }
            ServiceError::Unauthorized(m) => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_request_error",
                "unauthorized",
                m,
            ),
            ServiceError::Forbidden(m) => ApiError::new(
                StatusCode::FORBIDDEN,
                "invalid_request_error",
                "forbidden",
                m,
            ),
            ServiceError::RateLimited(m) => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limit_error",
                "rate_limited",
                m,
            ),
            ServiceError::Internal(m) => {
                tracing::error!(error = %m, "internal error");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "api_error",
                    "internal_error",
                    "An internal error occurred. It has been logged; retry later.",
                )
            }
            ServiceError::Store(err) if err.is_unavailable() => {
                tracing::warn!(error = %err, "database unavailable");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "api_error",
                    "database_unavailable",
                    "The database is unavailable. Nothing was changed; retry in a few seconds.",
                )
            }
            ServiceError::Store(err) => {
                tracing::error!(error = %err, "store error");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "api_error",
                    "internal_error",
                    "An internal error occurred. It has been logged; retry later.",
                )
            }
        }
    }
}
