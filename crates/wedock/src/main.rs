//! The `wedock` binary: parse arguments, hand over to [`wedock::cli`].

/// mimalloc instead of glibc's malloc: per-thread heaps without arena locks (the message
/// path's measurements are in docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// On Linux mimalloc commits each arena whole by default, and under the load test about
/// 15 MiB more stayed resident (RSS 52 MiB against 37 with this off, same throughput). The
/// option must be set before the first allocation creates an arena, so it is set from the
/// process's constructors, which run before Rust's runtime allocates anything.
#[cfg(target_os = "linux")]
mod allocator_options {
    use std::ffi::{c_int, c_long};

    // mimalloc's option setter, in the C library the `mimalloc` crate links (its Rust
    // bindings name only some of the options).
    unsafe extern "C" {
        fn mi_option_set(option: c_int, value: c_long);
    }

    /// `mi_option_arena_eager_commit` in mimalloc.h's `mi_option_e`.
    const ARENA_EAGER_COMMIT: c_int = 4;
    /// `mi_option_purge_delay` (milliseconds), same enum.
    const PURGE_DELAY: c_int = 15;
    /// How long freed pages stay resident before they go back to the OS. mimalloc 3 waits a
    /// second; under the load test that kept about 1.7 MB more resident (peak anonymous memory
    /// 15.0 MB against 13.4-13.8 at 0-2 ms) for 550 more `madvise` calls a second at 1 ms, no
    /// cost measurable in throughput (docs/performance.md).
    const PURGE_DELAY_MS: c_long = 1;

    extern "C" fn memory_options() {
        // SAFETY: sets integer options; touches no Rust state and allocates nothing.
        unsafe {
            mi_option_set(ARENA_EAGER_COMMIT, 0);
            mi_option_set(PURGE_DELAY, PURGE_DELAY_MS);
        }
    }

    #[used]
    #[unsafe(link_section = ".init_array")]
    static MEMORY_OPTIONS: extern "C" fn() = memory_options;
}

fn main() -> std::process::ExitCode {
    wedock::cli::main()
}
