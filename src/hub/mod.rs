//! The Hugging Face side of aimgen: which files an engine loads (`files`), what a local cache
//! holds (`cache`, offline), what the Hub says (`api`, and `lookup`, which asks it for a
//! fleet; behind the `hub` feature), air-gapped bundles of a fleet's locked files (`bundle`,
//! offline), and the progress line they show (`progress`).

#[cfg(feature = "hub")]
pub mod api;
pub mod bundle;
pub mod cache;
pub mod files;
#[cfg(feature = "hub")]
pub mod lookup;
pub mod progress;

/// The public Hub, when neither the fleet nor `HF_ENDPOINT` names a mirror.
pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";

/// The Hub to ask: the fleet's `cache.hf_endpoint` wins (it is what the prefetch job will
/// download from), then `HF_ENDPOINT`, then the public Hub. No trailing `/`.
pub fn endpoint(fleet: Option<&str>) -> String {
    let env = std::env::var("HF_ENDPOINT").ok().filter(|e| !e.trim().is_empty());
    let e = fleet.map(str::to_string).or(env).unwrap_or_else(|| DEFAULT_ENDPOINT.to_string());
    e.trim().trim_end_matches('/').to_string()
}

/// A URL fit to print: any `user:password@` in it is replaced by `***@`.
pub fn redact(url: &str) -> String {
    let start = url.find("://").map(|i| i + 3).unwrap_or(0);
    let host_end = url[start..].find('/').map(|i| start + i).unwrap_or(url.len());
    match url[start..host_end].rfind('@') {
        Some(at) => format!("{}***@{}", &url[..start], &url[start + at + 1..]),
        None => url.to_string(),
    }
}

/// The cache folder of a model repo: `models--{org}--{name}` (each `/` becomes `--`).
pub fn repo_folder(repo: &str) -> String {
    format!("models--{}", repo.replace('/', "--"))
}

/// Sizes as people read them, in decimal units like `hf cache ls` (1 GB = 10^9 bytes).
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["kB", "MB", "GB", "TB", "PB"];
    if n < 1000 {
        return format!("{n} B");
    }
    let mut v = n as f64;
    let mut unit = "B";
    for u in UNITS {
        if v < 1000.0 {
            break;
        }
        v /= 1000.0;
        unit = u;
    }
    format!("{v:.1} {unit}")
}

/// A commit sha, short, for tables and messages.
pub fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_hf_cache_ls() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(1000), "1.0 kB");
        assert_eq!(human_bytes(65_536_000_000), "65.5 GB");
        assert_eq!(repo_folder("Qwen/Qwen3-32B"), "models--Qwen--Qwen3-32B");
        assert_eq!(redact("https://u:secret@mirror:8080/hub"), "https://***@mirror:8080/hub");
        assert_eq!(redact("http://127.0.0.1:1"), "http://127.0.0.1:1");
    }
}
