//! Integration tests, in one binary so the large dependency set is linked once.

mod support;

mod cli;
mod knowledge;
mod knowledge_eval;
mod knowledge_llm;
mod server;
