//! Readiness: each component (store, channels, engines) reports its state by name, and
//! `/readyz` is ready only when every required component is.

use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Mutex;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ComponentState {
    pub ready: bool,
    /// Optional components (a Docker engine that is absent) do not block readiness.
    pub required: bool,
    pub detail: String,
}

#[derive(Debug, Default)]
pub struct Health {
    components: Mutex<BTreeMap<String, ComponentState>>,
}

impl Health {
    pub fn set(&self, name: &str, ready: bool, required: bool, detail: impl Into<String>) {
        if let Ok(mut m) = self.components.lock() {
            m.insert(
                name.to_string(),
                ComponentState {
                    ready,
                    required,
                    detail: detail.into(),
                },
            );
        }
    }

    pub fn snapshot(&self) -> BTreeMap<String, ComponentState> {
        self.components
            .lock()
            .map(|m| m.clone())
            .unwrap_or_default()
    }

    /// Ready when every required component is ready (and at least one reported).
    pub fn is_ready(&self) -> bool {
        let m = self.snapshot();
        !m.is_empty() && m.values().all(|c| c.ready || !c.required)
    }
}
