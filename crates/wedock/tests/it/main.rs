//! Integration tests, in one binary so the large dependency set is linked once.

mod support;

mod alert_crash;
mod alert_docker;
mod alerts;
mod channel_aibot;
mod channel_ilink;
mod channel_interop;
mod channel_mp;
mod channel_wechatbot;
mod channel_wecom;
mod chaos;
mod cli;
mod console;
mod docker;
mod fencing;
mod incident_alertmanager;
mod incident_cards;
mod incident_store;
mod incidents;
mod knowledge;
mod knowledge_eval;
mod knowledge_llm;
mod kube;
mod manifests;
mod manifests_rbac;
mod pg_tls;
mod replicas;
mod scopes;
mod security_channels;
mod security_console;
mod security_output;
mod server;
mod store;
mod store_delivery;
mod watcher_state;
