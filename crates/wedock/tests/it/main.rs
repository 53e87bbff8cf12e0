//! Integration tests, in one binary so the large dependency set is linked once.

mod support;

mod cli;
mod console;
mod docker;
mod replicas;
mod server;
mod store;
