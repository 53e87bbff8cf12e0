//! Channel adapters: each platform turns its wire format into [`crate::message::Incoming`]
//! and delivers [`crate::message::Reply`] back, passively or through the outbox.
