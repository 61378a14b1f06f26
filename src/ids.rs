//! Hub identifiers as text: repo ids, revisions and commit shas. Syntax only, read by the
//! spec checks, the lock file and the Hub client alike.

/// Hugging Face repo ids: `org/name`.
pub fn is_repo_id(s: &str) -> bool {
    let part = |p: &str| {
        p.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
            && p.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
            && !p.contains("--")
            && !p.contains("..")
            && !p.ends_with('.')
    };
    s.len() <= 96 && matches!(s.split_once('/'), Some((org, name)) if part(org) && part(name))
}

/// Git revisions as the Hub accepts them: branches, tags, shas.
pub fn is_revision(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 255
        && s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || "._/-".contains(c))
        && !s.contains("..")
        && !s.ends_with('/')
        && !s.ends_with(".lock")
}

/// A commit sha (what `HF_HUB_OFFLINE=1` resolves without refs).
pub fn is_sha(s: &str) -> bool {
    s.len() == 40 && s.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
}
