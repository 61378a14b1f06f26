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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hub_identifiers() {
        for ok in ["Qwen/Qwen3-32B", "meta-llama/Llama-3.1-8B", "a/b.c_d"] {
            assert!(is_repo_id(ok), "{ok}");
        }
        for bad in ["Qwen3-32B", "a/b/c", "a/-b", "a/b--c", "a/b..c", "a/b.", "/b", ""] {
            assert!(!is_repo_id(bad), "{bad}");
        }
        for ok in ["main", "v1.0", "refs/pr/1", &"a".repeat(40)] {
            assert!(is_revision(ok), "{ok}");
        }
        for bad in ["", "-x", "a..b", "a/", "x.lock", "a b"] {
            assert!(!is_revision(bad), "{bad}");
        }
        assert!(is_sha(&"0123456789abcdef".repeat(3)[..40]));
        assert!(!is_sha(&"A".repeat(40)));
        assert!(!is_sha("abc"));
    }
}
