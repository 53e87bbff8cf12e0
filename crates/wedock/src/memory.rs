//! Giving freed memory back to the OS after a burst of allocation the process will not repeat
//! soon (building the knowledge index).

// mimalloc's C library, linked through the `mimalloc` crate: the binary's global allocator
// (main.rs). Named here so that binaries using another allocator (tests) still link it.
extern crate mimalloc as _;

unsafe extern "C" {
    /// mimalloc.h: frees the calling thread's empty pages and, with `force`, purges (returns to
    /// the OS) every arena's freed pages now instead of when they fall due.
    fn mi_collect(force: bool);
}

/// Returns the allocator's freed pages to the OS now.
///
/// mimalloc purges freed pages lazily: a purge falls due some milliseconds after the free, and
/// runs when some thread next frees a page of its own. Building the knowledge index allocates
/// and drops tens of megabytes on its loader thread; on a bot that then idles nothing frees a
/// page for a long time, and about 5 MB of freed memory stayed resident (idle RSS 33 MB; under
/// the load test the peak carried it too; docs/performance.md). Call it on the thread that did
/// the allocating, before it ends, so its own empty pages are freed first.
pub fn release_freed() {
    // SAFETY: takes no pointers and only walks the allocator's own structures; safe from any
    // thread at any time (mimalloc.h). With another global allocator it collects mimalloc's
    // unused heap, which is cheap.
    unsafe { mi_collect(true) }
}
