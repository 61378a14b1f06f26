//! A tiny Hugging Face Hub on 127.0.0.1 for tests: std::net and threads only. It answers the
//! two endpoints aimgen uses, pages tree listings along `Link: rel="next"`, and can play a
//! gated repo (401 without the token), a missing repo or revision (404 with the Hub's
//! X-Error-Code), a slow answer, and a flaky one (503 first).

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A file in a mock commit.
#[derive(Debug, Clone)]
pub struct MockFile {
    pub path: String,
    pub size: u64,
    /// Git blob sha1 (40 hex).
    pub oid: String,
    /// LFS sha256 (64 hex), for large files.
    pub lfs: Option<String>,
}

impl MockFile {
    /// A small git-stored file.
    pub fn git(path: &str, size: u64) -> MockFile {
        MockFile { path: path.into(), size, oid: hex(&format!("git:{path}:{size}"), 40), lfs: None }
    }

    /// An LFS file; `content` seeds its sha256, so equal content gives equal blob ids.
    pub fn lfs(path: &str, size: u64, content: &str) -> MockFile {
        MockFile {
            path: path.into(),
            size,
            oid: hex(&format!("pointer:{content}"), 40),
            lfs: Some(hex(&format!("lfs:{content}:{size}"), 64)),
        }
    }

    /// The blob name the cache uses.
    pub fn blob(&self) -> String {
        self.lfs.clone().unwrap_or_else(|| self.oid.clone())
    }
}

/// A mock repo: branches and commits.
#[derive(Debug, Clone, Default)]
pub struct MockRepo {
    /// Branch or tag → commit.
    pub refs: BTreeMap<String, String>,
    /// Commit → files.
    pub commits: BTreeMap<String, Vec<MockFile>>,
    /// Needs `Authorization: Bearer <TOKEN>`.
    pub gated: bool,
    /// Sleep this long before answering.
    pub delay: Duration,
    /// Answer 503 to this many requests first.
    pub fail_first: u32,
}

impl MockRepo {
    /// A repo whose `main` is `sha` with `files`.
    pub fn with_main(sha: &str, files: Vec<MockFile>) -> MockRepo {
        let mut r = MockRepo::default();
        r.push("main", sha, files);
        r
    }

    /// Adds a commit and points `branch` at it.
    pub fn push(&mut self, branch: &str, sha: &str, files: Vec<MockFile>) {
        self.refs.insert(branch.into(), sha.into());
        self.commits.insert(sha.into(), files);
    }
}

/// The one token the mock accepts.
pub const TOKEN: &str = "hf_mocksecret_0123456789";

/// What the mock serves; tests change it between runs.
#[derive(Debug, Default)]
pub struct HubState {
    pub repos: BTreeMap<String, MockRepo>,
    /// Tree entries per page.
    pub page_size: usize,
    /// Every request: (path and query, had an Authorization header).
    pub log: Vec<(String, bool)>,
}

/// A running mock Hub. It serves until the test process ends.
pub struct MockHub {
    pub url: String,
    pub state: Arc<Mutex<HubState>>,
}

impl MockHub {
    pub fn start(repos: BTreeMap<String, MockRepo>, page_size: usize) -> MockHub {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let state = Arc::new(Mutex::new(HubState { repos, page_size: page_size.max(1), log: Vec::new() }));
        let shared = state.clone();
        let base = url.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = shared.clone();
                let base = base.clone();
                std::thread::spawn(move || {
                    let _ = serve(stream, &state, &base);
                });
            }
        });
        MockHub { url, state }
    }

    /// Requests seen so far.
    pub fn requests(&self) -> Vec<(String, bool)> {
        self.state.lock().expect("state").log.clone()
    }

    /// Changes a repo.
    pub fn with_repo(&self, id: &str, f: impl FnOnce(&mut MockRepo)) {
        let mut s = self.state.lock().expect("state");
        f(s.repos.entry(id.to_string()).or_default());
    }
}

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

fn answer(status: u16, body: String) -> Answer {
    Answer { status, headers: Vec::new(), body }
}

fn error(status: u16, code: &str) -> Answer {
    Answer { status, headers: vec![("X-Error-Code".into(), code.into())], body: format!("{{\"error\":\"{code}\"}}") }
}

fn serve(stream: TcpStream, state: &Mutex<HubState>, base: &str) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let target = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut auth = None;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h == "\r\n" || h == "\n" {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.eq_ignore_ascii_case("authorization") {
                auth = Some(v.trim().to_string());
            }
        }
    }
    let (delay, a) = route(&target, auth.as_deref(), state, base);
    std::thread::sleep(delay);
    let reason = match a.status {
        200 => "OK",
        401 => "Unauthorized",
        404 => "Not Found",
        _ => "Error",
    };
    let mut out = format!(
        "HTTP/1.1 {} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        a.status,
        a.body.len()
    );
    for (k, v) in &a.headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(&a.body);
    let mut stream = stream;
    stream.write_all(out.as_bytes())?;
    stream.flush()
}

fn route(target: &str, auth: Option<&str>, state: &Mutex<HubState>, base: &str) -> (Duration, Answer) {
    let mut s = state.lock().expect("state");
    s.log.push((target.to_string(), auth.is_some()));
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let Some(rest) = path.strip_prefix("/api/models/") else { return (Duration::ZERO, error(404, "EntryNotFound")) };
    // {org}/{name}/{revision|tree}/{rev}
    let parts: Vec<&str> = rest.splitn(4, '/').collect();
    if parts.len() != 4 {
        return (Duration::ZERO, error(404, "EntryNotFound"));
    }
    let id = format!("{}/{}", parts[0], parts[1]);
    let rev = decode(parts[3]);
    let page_size = s.page_size;
    let Some(repo) = s.repos.get_mut(&id) else { return (Duration::ZERO, error(404, "RepoNotFound")) };
    let delay = repo.delay;
    if repo.fail_first > 0 {
        repo.fail_first -= 1;
        return (delay, answer(503, "{\"error\":\"overloaded\"}".into()));
    }
    if repo.gated && auth != Some(&format!("Bearer {TOKEN}")) {
        return (delay, error(401, "GatedRepo"));
    }
    let sha = match repo.refs.get(&rev) {
        Some(s) => s.clone(),
        None if repo.commits.contains_key(&rev) => rev.clone(),
        None => return (delay, error(404, "RevisionNotFound")),
    };
    let files = repo.commits.get(&sha).cloned().unwrap_or_default();
    match parts[2] {
        "revision" => {
            let siblings: Vec<String> = files.iter().map(|f| format!("{{\"rfilename\":{:?}}}", f.path)).collect();
            let gated = if repo.gated { "\"manual\"" } else { "false" };
            let body =
                format!("{{\"id\":{id:?},\"sha\":{sha:?},\"gated\":{gated},\"siblings\":[{}]}}", siblings.join(","));
            (delay, answer(200, body))
        }
        "tree" => {
            // Directories are listed too, as the Hub does with recursive=true.
            let mut entries: Vec<String> = Vec::new();
            let mut dirs: Vec<String> =
                files.iter().filter_map(|f| f.path.rsplit_once('/').map(|(d, _)| d.to_string())).collect();
            dirs.sort();
            dirs.dedup();
            for d in dirs {
                entries.push(format!("{{\"type\":\"directory\",\"oid\":{:?},\"size\":0,\"path\":{d:?}}}", hex(&d, 40)));
            }
            for f in &files {
                let lfs = match &f.lfs {
                    Some(l) => format!(",\"lfs\":{{\"oid\":{l:?},\"size\":{},\"pointerSize\":134}}", f.size),
                    None => String::new(),
                };
                entries.push(format!(
                    "{{\"type\":\"file\",\"oid\":{:?},\"size\":{},\"path\":{:?}{lfs}}}",
                    f.oid, f.size, f.path
                ));
            }
            let cursor: usize =
                query.split('&').find_map(|kv| kv.strip_prefix("cursor=")).and_then(|c| c.parse().ok()).unwrap_or(0);
            let end = (cursor + page_size).min(entries.len());
            let page = entries.get(cursor..end).unwrap_or(&[]).join(",");
            let mut a = answer(200, format!("[{page}]"));
            if end < entries.len() {
                a.headers.push((
                    "Link".into(),
                    format!("<{base}/api/models/{id}/tree/{}?recursive=true&cursor={end}>; rel=\"next\"", parts[3]),
                ));
            }
            (delay, a)
        }
        _ => (delay, error(404, "EntryNotFound")),
    }
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Deterministic lowercase hex of `len` digits from a seed (FNV-1a, chained).
pub fn hex(seed: &str, len: usize) -> String {
    let mut out = String::new();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in seed.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    while out.len() < len {
        h ^= out.len() as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
        out.push_str(&format!("{h:016x}"));
    }
    out.truncate(len);
    out
}
