//! Measuring helpers shared by the benches that report memory next to criterion's times.

/// Resident set size of this process in KiB (`VmRSS` of /proc/self/status; 0 where there is
/// no /proc).
pub fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}
