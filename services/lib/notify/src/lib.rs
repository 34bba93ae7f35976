//! The core of `vigil-notifier`, as plain functions and state machines with
//! no I/O: the notifier reads stored alerts, and this crate tells it where
//! to send each one ([`channel`]), what to send ([`message`]), whether a
//! failed delivery is worth retrying and after how long ([`retry`]), when
//! to stop hammering an endpoint that is down ([`breaker`]), and when an
//! alert nobody acknowledged goes up from the village team to the commune
//! police and then to the province operations center ([`escalation`]).
//!
//! Time is always passed in, never read, so every decision here is unit
//! tested without a clock, a network or a runtime.

pub mod breaker;
pub mod channel;
pub mod escalation;
pub mod message;
pub mod retry;
