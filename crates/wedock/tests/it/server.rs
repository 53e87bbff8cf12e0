//! The HTTP server: health, readiness, metrics, console endpoint, limits.
