//! Typed views of the engines wedock operates, shared by commands and alerts.

pub mod docker;
pub mod kube;
pub mod kube_status;
