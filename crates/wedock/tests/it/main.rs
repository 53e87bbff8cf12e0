//! Integration tests, in one binary so the large dependency set is linked once.

mod support;

mod cli;
mod server;

mod alert_crash;
mod alert_docker;
mod alerts;
