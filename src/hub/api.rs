//! Asking the Hub (or a mirror) what a revision is: its commit and its files with sizes and
//! blob ids, with ureq: `GET /api/models/{repo}/revision/{rev}`, then the tree listing page by
//! page along the `Link: rel="next"` header.
//!
//! A mirror is not a trusted party. Redirects are followed here, not by the HTTP client, and
//! the token goes only to the endpoint's exact origin (scheme, host and port): hf-hub's own
//! revision request kept it on a redirect to another port of the same host, so aimgen no
//! longer sends that request through hf-hub. What a server says (error headers, listings) is
//! checked before use and cleaned (control characters, the token) before it is printed.
//!
//! Every request has a time-out and is retried on time-outs, dropped connections, 429 and 5xx;
//! 4xx answers are final and explained (gated, missing repo, missing revision). Errors name the
//! model and the URL path, never the token.

use std::io::Read as _;
use std::time::Duration;

use serde::Deserialize;

use crate::ids::is_sha;
use crate::lockfile::is_safe_path;

/// Largest response body read (a tree page of a huge repo is a few MB).
const MAX_BODY: u64 = 64 << 20;
/// Pages followed at most: a broken `Link` header must not loop forever.
const MAX_PAGES: usize = 10_000;
/// Files one revision may list (the largest Hub repos hold a few thousand).
pub const MAX_FILES: usize = 100_000;
/// Redirects followed per request.
const MAX_REDIRECTS: usize = 5;

/// How to reach the Hub.
#[derive(Debug, Clone)]
pub struct Config {
    /// Base URL, no trailing `/`.
    pub endpoint: String,
    /// Bearer token for gated and private repos. Never printed.
    pub token: Option<String>,
    /// Per-request time-out (`AIMGEN_HUB_TIMEOUT_SECS`, default 30 s).
    pub timeout: Duration,
    /// Retries after the first attempt (`AIMGEN_HUB_RETRIES`, default 2).
    pub retries: u32,
}

impl Config {
    /// From the environment: `HF_TOKEN` (else `HUGGING_FACE_HUB_TOKEN`, else the token file
    /// `hf auth login` writes at `$HF_HOME/token`), `AIMGEN_HUB_TIMEOUT_SECS`,
    /// `AIMGEN_HUB_RETRIES`.
    pub fn from_env(endpoint: String) -> Config {
        let var = |k: &str| std::env::var(k).ok().map(|t| t.trim().to_string()).filter(|t| !t.is_empty());
        // HUGGING_FACE_HUB_TOKEN is the deprecated name huggingface_hub still reads.
        let token =
            var("HF_TOKEN").or_else(|| var("HUGGING_FACE_HUB_TOKEN")).or_else(|| hf_hub::Cache::from_env().token());
        let timeout = std::env::var("AIMGEN_HUB_TIMEOUT_SECS")
            .ok()
            .and_then(|s| s.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s > 0.0)
            .map(|s| Duration::from_secs_f64(s.min(3600.0)))
            .unwrap_or(Duration::from_secs(30));
        let retries =
            std::env::var("AIMGEN_HUB_RETRIES").ok().and_then(|s| s.trim().parse::<u32>().ok()).unwrap_or(2).min(10);
        Config { endpoint, token, timeout, retries }
    }
}

/// One file of a revision as the tree listing reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteFile {
    /// Path in the repo.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// `lfs.oid` (sha256) when the file is in LFS, else the git blob `oid`: the cache's blob name.
    pub blob: String,
}

/// What a revision resolved to.
#[derive(Debug, Clone)]
pub struct Revision {
    /// The commit.
    pub sha: String,
    /// The repo asks users to accept terms: downloads need a token.
    pub gated: bool,
}

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// No answer: connection refused, DNS, TLS, reset.
    Unreachable(String),
    /// No answer in time.
    Timeout,
    /// 401/403: gated or private, and the token is missing or not allowed.
    Denied {
        /// The HTTP status.
        status: u16,
        /// A token was sent.
        had_token: bool,
    },
    /// 404 (or the Hub's "RepoNotFound"): no such repo, or it is private.
    RepoNotFound,
    /// The repo exists, the revision does not.
    RevisionNotFound,
    /// Any other status.
    Status(u16, String),
    /// An answer aimgen cannot use.
    BadResponse(String),
}

/// A failed Hub request, naming the model and the URL path.
#[derive(Debug, Clone)]
pub struct HubError {
    /// Repo id.
    pub repo: String,
    /// Revision asked for.
    pub revision: String,
    /// The request, as `GET /api/...` (no host, no token).
    pub request: String,
    /// What went wrong.
    pub kind: ErrorKind,
}

impl std::fmt::Display for HubError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let HubError { repo, revision, request, kind } = self;
        write!(f, "{repo}@{revision}: ")?;
        match kind {
            ErrorKind::Unreachable(why) => {
                write!(f, "cannot reach the Hub ({request}): {why}; check the network, HF_ENDPOINT or cache.hf_endpoint")
            }
            ErrorKind::Timeout => write!(
                f,
                "the Hub did not answer in time ({request}); try again, or raise AIMGEN_HUB_TIMEOUT_SECS"
            ),
            ErrorKind::Denied { status, had_token: false } => write!(
                f,
                "access denied ({status}, {request}): the model is gated or private; accept its terms on the Hub, then set HF_TOKEN to a token of that account"
            ),
            ErrorKind::Denied { status, had_token: true } => write!(
                f,
                "access denied ({status}, {request}): the model is gated or private and HF_TOKEN is not allowed to read it; accept its terms on the Hub with the token's account"
            ),
            ErrorKind::RepoNotFound => write!(
                f,
                "no such model on the Hub ({request}); check `model` (ids are case-sensitive), or set HF_TOKEN if it is private"
            ),
            ErrorKind::RevisionNotFound => {
                write!(f, "the model has no revision `{revision}` ({request}); check `revision`")
            }
            ErrorKind::Status(code, msg) => write!(f, "the Hub answered {code} ({request}){}", suffix(msg)),
            ErrorKind::BadResponse(msg) => write!(f, "unexpected answer from the Hub ({request}): {msg}"),
        }
    }
}

fn suffix(msg: &str) -> String {
    let m: String = msg.chars().filter(|c| !c.is_control()).take(200).collect();
    if m.trim().is_empty() {
        String::new()
    } else {
        format!(": {}", m.trim())
    }
}

impl std::error::Error for HubError {}

/// A Hub client.
pub struct Client {
    config: Config,
    agent: ureq::Agent,
}

#[derive(Deserialize)]
struct RevisionBody {
    sha: String,
    #[serde(default)]
    gated: serde_json::Value,
}

#[derive(Deserialize)]
struct TreeEntry {
    #[serde(rename = "type")]
    kind: String,
    path: String,
    #[serde(default)]
    oid: Option<String>,
    #[serde(default)]
    size: Option<u64>,
    #[serde(default)]
    lfs: Option<Lfs>,
}

#[derive(Deserialize)]
struct Lfs {
    oid: String,
    size: u64,
}

impl Client {
    /// Builds the client; nothing is sent yet.
    pub fn new(config: Config) -> anyhow::Result<Client> {
        let agent = ureq::AgentBuilder::new()
            .try_proxy_from_env(true)
            .timeout(config.timeout)
            // Redirects are followed by `get`, which decides where the token may go.
            .redirects(0)
            .user_agent(concat!("aimgen/", env!("CARGO_PKG_VERSION")))
            .build();
        Ok(Client { config, agent })
    }

    /// `GET url`, following up to `MAX_REDIRECTS` redirects itself; the token is sent only
    /// while the URL is on the endpoint's origin (scheme, host and port).
    fn get(&self, url: &str) -> Result<ureq::Response, ureq::Error> {
        let mut url = url.to_string();
        for _ in 0..=MAX_REDIRECTS {
            let mut r = self.agent.get(&url);
            if let Some(t) = self.config.token.as_ref().filter(|_| origin(&url) == origin(&self.config.endpoint)) {
                r = r.set("Authorization", &format!("Bearer {t}"));
            }
            let resp = r.call()?;
            if !(300..400).contains(&resp.status()) {
                return Ok(resp);
            }
            let Some(location) = resp.header("location") else { return Ok(resp) };
            url = absolute(&url, location);
        }
        Err(ureq::Error::Status(310, ureq::Response::new(310, "Too Many Redirects", "")?))
    }

    /// Server text made safe to print: the token (if the server echoes it) replaced, control
    /// characters and other unsafe ones shown escaped, and at most 200 characters.
    fn clean(&self, text: &str) -> String {
        let mut t = text.to_string();
        if let Some(token) = self.config.token.as_deref().filter(|t| !t.is_empty()) {
            t = t.replace(token, "<HF_TOKEN>");
        }
        let shown: String = t.chars().take(200).collect();
        crate::text::comment_text(shown.trim())
    }

    /// The error kind with its server-provided text cleaned.
    fn cleaned(&self, kind: ErrorKind) -> ErrorKind {
        match kind {
            ErrorKind::Unreachable(m) => ErrorKind::Unreachable(self.clean(&m)),
            ErrorKind::Status(c, m) => ErrorKind::Status(c, self.clean(&m)),
            ErrorKind::BadResponse(m) => ErrorKind::BadResponse(self.clean(&m)),
            other => other,
        }
    }

    /// The endpoint asked.
    pub fn endpoint(&self) -> &str {
        &self.config.endpoint
    }

    /// Whether requests carry a token.
    pub fn has_token(&self) -> bool {
        self.config.token.is_some()
    }

    /// Resolves `revision` of `repo` to a commit (`GET /api/models/{repo}/revision/{rev}`).
    pub fn revision(&self, repo: &str, revision: &str) -> Result<Revision, HubError> {
        let rev = encode(revision);
        let request = format!("GET /api/models/{repo}/revision/{rev}");
        let err = |kind| HubError { repo: repo.into(), revision: revision.into(), request: request.clone(), kind };
        let url = format!("{}/api/models/{repo}/revision/{rev}", self.config.endpoint);
        let resp = self.send(|| self.get(&url)).map_err(|k| err(self.cleaned(k)))?;
        let body: RevisionBody = read_json(resp).map_err(|m| err(self.cleaned(ErrorKind::BadResponse(m))))?;
        if !is_sha(&body.sha) {
            return Err(err(self.cleaned(ErrorKind::BadResponse(format!("`{}` is not a commit sha", body.sha)))));
        }
        let gated = !matches!(body.gated, serde_json::Value::Null | serde_json::Value::Bool(false));
        Ok(Revision { sha: body.sha, gated })
    }

    /// Every file of commit `sha` (`GET /api/models/{repo}/tree/{sha}?recursive=true`, all
    /// pages). `revision` is only for messages; `on_page` sees the count so far.
    pub fn tree(
        &self,
        repo: &str,
        revision: &str,
        sha: &str,
        on_page: &mut dyn FnMut(usize),
    ) -> Result<Vec<RemoteFile>, HubError> {
        let first = format!("{}/api/models/{repo}/tree/{}?recursive=true", self.config.endpoint, encode(sha));
        let mut url = first;
        let mut files = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut paths = std::collections::HashSet::new();
        for _ in 0..MAX_PAGES {
            let request = format!("GET {}", path_of(&url));
            let err = |kind| HubError { repo: repo.into(), revision: revision.into(), request: request.clone(), kind };
            if !seen.insert(url.clone()) {
                return Err(err(ErrorKind::BadResponse(
                    "the next-page link points back to a page already read".into(),
                )));
            }
            let bad = |m: String| err(self.cleaned(ErrorKind::BadResponse(m)));
            let resp = self.send(|| self.get(&url)).map_err(|k| err(self.cleaned(k)))?;
            let next = resp.header("link").and_then(next_link);
            let entries: Vec<TreeEntry> = read_json(resp).map_err(bad)?;
            for e in entries.into_iter().filter(|e| e.kind == "file") {
                // Checked before anything else reads it: the path is shown in messages below.
                if !is_safe_path(&e.path) {
                    return Err(bad(format!("unsafe file path {:?}", e.path)));
                }
                let (blob, size) = match (e.lfs, e.oid, e.size) {
                    (Some(lfs), _, _) => (lfs.oid, lfs.size),
                    (None, Some(oid), Some(size)) => (oid, size),
                    _ => return Err(bad(format!("`{}` has no oid or size", e.path))),
                };
                if size > crate::lockfile::MAX_FILE_SIZE {
                    return Err(bad(format!("`{}` claims {size} bytes", e.path)));
                }
                if !is_blob_id(&blob) {
                    return Err(bad(format!("`{}` has a malformed blob id", e.path)));
                }
                if !paths.insert(e.path.clone()) {
                    return Err(bad(format!("the listing names `{}` twice", e.path)));
                }
                if files.len() >= MAX_FILES {
                    return Err(bad(format!("the revision lists more than {MAX_FILES} files")));
                }
                files.push(RemoteFile { path: e.path, size, blob: blob.to_ascii_lowercase() });
            }
            on_page(files.len());
            match next {
                None => {
                    files.sort_by(|a, b| a.path.cmp(&b.path));
                    return Ok(files);
                }
                Some(n) => {
                    url = self.same_origin(&n).ok_or_else(|| {
                        err(ErrorKind::BadResponse(
                            "the next-page link leads to another host; not following it with your token".into(),
                        ))
                    })?;
                }
            }
        }
        Err(HubError {
            repo: repo.into(),
            revision: revision.into(),
            request: format!("GET /api/models/{repo}/tree/{sha}"),
            kind: ErrorKind::BadResponse(format!("more than {MAX_PAGES} pages")),
        })
    }

    /// A next-page URL made absolute, if it stays on the endpoint's scheme, host and port.
    fn same_origin(&self, link: &str) -> Option<String> {
        let url = absolute(&self.config.endpoint, link);
        (origin(&url) == origin(&self.config.endpoint)).then_some(url)
    }

    /// Sends with retries: time-outs, dropped connections, 429 and 5xx are retried after
    /// 0.5 s, 1 s, 2 s…; other answers are final.
    fn send(&self, call: impl Fn() -> Result<ureq::Response, ureq::Error>) -> Result<ureq::Response, ErrorKind> {
        let mut attempt = 0;
        loop {
            let kind = match call() {
                Ok(r) => return Ok(r),
                Err(ureq::Error::Status(code, resp)) => status_kind(code, resp, self.config.token.is_some()),
                Err(ureq::Error::Transport(t)) => transport_kind(&t),
            };
            let retry = match &kind {
                ErrorKind::Timeout | ErrorKind::Unreachable(_) => true,
                ErrorKind::Status(code, _) => *code == 429 || *code >= 500,
                _ => false,
            };
            if !retry || attempt >= self.config.retries {
                return Err(kind);
            }
            std::thread::sleep(Duration::from_millis(500 << attempt.min(4)));
            attempt += 1;
        }
    }
}

fn status_kind(code: u16, resp: ureq::Response, had_token: bool) -> ErrorKind {
    // The Hub says what is missing in X-Error-Code; a missing or private repo answers 401
    // to anonymous callers, like a gated one would.
    let error_code = resp.header("x-error-code").unwrap_or("").to_string();
    let message = resp.header("x-error-message").unwrap_or("").to_string();
    match (code, error_code.as_str()) {
        (_, "RepoNotFound") => ErrorKind::RepoNotFound,
        (_, "RevisionNotFound") => ErrorKind::RevisionNotFound,
        (401 | 403, _) => ErrorKind::Denied { status: code, had_token },
        (404, _) => ErrorKind::RepoNotFound,
        _ => ErrorKind::Status(code, message),
    }
}

fn transport_kind(t: &ureq::Transport) -> ErrorKind {
    use std::error::Error as _;
    let mut source = t.source();
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            if matches!(io.kind(), std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock) {
                return ErrorKind::Timeout;
            }
        }
        source = s.source();
    }
    let text = t.to_string();
    if text.contains("timed out") {
        return ErrorKind::Timeout;
    }
    // ureq's message starts with the URL; the kind and the cause are what matter.
    let why = match (t.message(), t.source()) {
        (Some(m), _) => m.to_string(),
        (None, Some(s)) => s.to_string(),
        (None, None) => t.kind().to_string(),
    };
    ErrorKind::Unreachable(why)
}

fn read_json<T: serde::de::DeserializeOwned>(resp: ureq::Response) -> Result<T, String> {
    let mut body = Vec::new();
    resp.into_reader().take(MAX_BODY).read_to_end(&mut body).map_err(|e| format!("reading the answer: {e}"))?;
    serde_json::from_slice(&body).map_err(|e| format!("not the JSON expected: {e}"))
}

/// The `rel="next"` target of a `Link` header.
pub fn next_link(header: &str) -> Option<String> {
    let mut rest = header;
    while let Some(start) = rest.find('<') {
        let after = &rest[start + 1..];
        let end = after.find('>')?;
        let target = &after[..end];
        let params_end = after[end..].find('<').map(|i| end + i).unwrap_or(after.len());
        let params = &after[end + 1..params_end];
        if params.split(';').any(|p| {
            let p = p.trim().trim_end_matches(',').trim();
            p.eq_ignore_ascii_case("rel=\"next\"") || p.eq_ignore_ascii_case("rel=next")
        }) {
            return Some(target.to_string());
        }
        rest = &after[params_end..];
    }
    None
}

/// `location` (absolute, or relative to `base`'s origin) as an absolute URL.
fn absolute(base: &str, location: &str) -> String {
    if location.contains("://") {
        location.to_string()
    } else if location.starts_with('/') {
        format!("{}{location}", origin(base))
    } else {
        let dir = base.rsplit_once('/').map_or(base, |(d, _)| d);
        format!("{dir}/{location}")
    }
}

/// `scheme://host[:port]` of a URL, lowercased scheme and host, with the default port made
/// explicit, so `HTTP://Host` and `http://host:80` are one origin.
fn origin(url: &str) -> String {
    let after_scheme = url.find("://").map(|i| i + 3).unwrap_or(0);
    let end = url[after_scheme..].find(['/', '?', '#']).map(|i| after_scheme + i).unwrap_or(url.len());
    let scheme = url[..after_scheme].to_ascii_lowercase();
    let authority = url[after_scheme..end].to_ascii_lowercase();
    // userinfo would make `http://endpoint@evil` look like the endpoint.
    let host_port = authority.rsplit_once('@').map_or(authority.as_str(), |(_, h)| h).to_string();
    let has_port =
        host_port.rsplit_once(':').is_some_and(|(_, p)| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
            && !host_port.ends_with(']');
    let port = match scheme.as_str() {
        _ if has_port => "",
        "http://" => ":80",
        "https://" => ":443",
        _ => "",
    };
    if authority.contains('@') {
        // Never the endpoint's origin: the endpoint itself may not carry credentials.
        return format!("{scheme}@{host_port}{port}");
    }
    format!("{scheme}{host_port}{port}")
}

/// The path and query of a URL, for messages.
fn path_of(url: &str) -> &str {
    let after_scheme = url.find("://").map(|i| i + 3).unwrap_or(0);
    match url[after_scheme..].find('/') {
        Some(i) => &url[after_scheme + i..],
        None => "/",
    }
}

/// Percent-encodes a revision for a URL path segment (`refs/pr/1` → `refs%2Fpr%2F1`).
pub fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn is_blob_id(s: &str) -> bool {
    (s.len() == 40 || s.len() == 64) && s.chars().all(|c| c.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_only_the_next_link() {
        assert_eq!(next_link("<https://h/a?cursor=x>; rel=\"next\"").as_deref(), Some("https://h/a?cursor=x"));
        assert_eq!(
            next_link("<https://h/p>; rel=\"prev\", <https://h/n>; rel=\"next\"").as_deref(),
            Some("https://h/n")
        );
        assert_eq!(next_link("<https://h/p>; rel=\"prev\""), None);
        assert_eq!(next_link("garbage"), None);
        assert_eq!(origin("http://127.0.0.1:8080/api/x"), "http://127.0.0.1:8080");
        assert_eq!(origin("HTTP://Hub.Example/api"), origin("http://hub.example:80/x"));
        assert_ne!(origin("http://hub.example@evil.example/"), origin("http://hub.example/"));
        assert_ne!(origin("http://127.0.0.1:8080/"), origin("http://127.0.0.1:8081/"));
        assert_eq!(absolute("http://h:1/a/b", "/c"), "http://h:1/c");
        assert_eq!(absolute("http://h:1/a/b", "http://x/c"), "http://x/c");
        assert_eq!(path_of("http://127.0.0.1:8080/api/x?y=1"), "/api/x?y=1");
        assert_eq!(encode("refs/pr/1"), "refs%2Fpr%2F1");
    }

    #[test]
    fn next_pages_stay_on_the_endpoint() {
        let config = Config {
            endpoint: "http://127.0.0.1:9".into(),
            token: Some("t".into()),
            timeout: Duration::from_secs(1),
            retries: 0,
        };
        let c = Client::new(config).expect("client");
        assert_eq!(c.same_origin("/api/x?cursor=2").as_deref(), Some("http://127.0.0.1:9/api/x?cursor=2"));
        assert_eq!(c.same_origin("http://127.0.0.1:9/api/y").as_deref(), Some("http://127.0.0.1:9/api/y"));
        // The token must not follow a link to another host (or port).
        assert_eq!(c.same_origin("http://127.0.0.1:10/api/y"), None);
        assert_eq!(c.same_origin("https://evil.example/api/y"), None);
    }

    #[test]
    fn errors_name_the_model_and_path_and_explain() {
        let e = HubError {
            repo: "org/gated".into(),
            revision: "main".into(),
            request: "GET /api/models/org/gated/revision/main".into(),
            kind: ErrorKind::Denied { status: 401, had_token: false },
        };
        let text = e.to_string();
        assert!(text.starts_with("org/gated@main: access denied (401, GET /api/models/org/gated/revision/main)"));
        assert!(text.contains("gated") && text.contains("HF_TOKEN"));
    }
}
