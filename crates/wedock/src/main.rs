//! The `wedock` binary: parse arguments, hand over to [`wedock::cli`].

/// mimalloc instead of glibc's malloc: per-thread heaps without arena locks, and freed pages
/// given back to the system (the message path's measurements are in docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    wedock::cli::main()
}
