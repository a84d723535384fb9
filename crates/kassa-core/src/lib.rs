//! Kassa's core: money, currencies, ids, the payment-intent and refund state machines and the
//! events they emit. Everything here is pure: no I/O, no clocks except those passed in.
#![forbid(unsafe_code)]

pub mod branding;
pub mod calendar;
pub mod card;
pub mod customer;
pub mod events;
pub mod ids;
pub mod intent;
pub mod invoice;
pub mod method_details;
pub mod money;
pub mod order;
pub mod payment_method;
pub mod roles;
pub mod scope;
pub mod secret;
pub mod secret_box;
pub mod subscription;
pub mod webhook_signature;
