/// The peak resident memory (`VmHWM`) of process `pid` so far, in MB; 0 when it cannot be read
/// (not Linux, or the process is gone).
pub fn peak_rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse::<f64>().ok())
        .unwrap_or_default()
        / 1024.0
}
