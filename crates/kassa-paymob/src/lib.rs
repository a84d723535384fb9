//! Paymob (Accept) wire compatibility, without I/O.
//!
//! Callback HMACs, the signed redirect query, key and token formats,
//! timestamps, money formatting and request parsing with
//! Django-REST-Framework-shaped error bodies.
#![forbid(unsafe_code)]

pub mod drf;
pub mod hmac;
pub mod keys;
pub mod lenient;
pub mod money;
pub mod redirect;
pub mod request;
pub mod time;
pub mod token;
pub mod transaction;

#[cfg(test)]
mod vectors;
