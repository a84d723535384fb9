//! The logo forms (a Paymentwall project's, a Paymob profile's): `multipart/form-data` with the
//! session's `csrf` field and the file `logo`, read with axum's multipart reader. They are
//! served on routes of their own with a body limit that fits the largest logo the branding
//! service takes ([`upload_routes`](crate::upload_routes)), not the dashboard's 64 KiB.

use axum::extract::Multipart;
use axum::response::Response;
use kassa_core::secret::constant_time_eq;

use crate::ctx::Ctx;
use crate::view;

/// The request body a logo form may have: the largest logo plus room for the form's fields.
pub const LOGO_FORM_LIMIT: usize = kassa_http::native::branding::UPLOAD_BODY_LIMIT + 16 * 1024;

/// The file a logo form sent.
pub struct LogoFile {
    /// The type the browser declared (the branding service checks the bytes anyway).
    pub content_type: String,
    pub data: Vec<u8>,
}

/// Reads the form: `Err` with a page when it cannot be read (400) or its CSRF token is not this
/// session's (403, before anything is done with the file); `Ok(None)` when no file was chosen.
pub async fn read(ctx: &Ctx, mut form: Multipart) -> Result<Option<LogoFile>, Response> {
    let unreadable = || view::bad_request("The form could not be read.");
    let mut csrf_ok = false;
    let mut file = None;
    while let Some(field) = form.next_field().await.map_err(|_| unreadable())? {
        match field.name() {
            Some("csrf") => {
                let sent = field.bytes().await.map_err(|_| unreadable())?;
                csrf_ok = constant_time_eq(&sent, ctx.csrf.as_bytes());
            }
            Some("logo") => {
                let content_type = field.content_type().unwrap_or("").to_string();
                let chosen = field.file_name().is_some_and(|n| !n.is_empty());
                let data = field.bytes().await.map_err(|_| unreadable())?;
                if chosen && !data.is_empty() {
                    file = Some(LogoFile {
                        content_type,
                        data: data.to_vec(),
                    });
                }
            }
            _ => {}
        }
    }
    if !csrf_ok {
        return Err(view::forbidden_csrf());
    }
    Ok(file)
}
