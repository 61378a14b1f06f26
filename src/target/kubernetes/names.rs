//! Kubernetes names. A Service's name must be an RFC 1035 label (lowercase letters, digits
//! and `-`, starting with a letter, ending with a letter or digit, at most 63 characters);
//! Deployments, Jobs, claims and containers accept that too. A Compose service name (letters,
//! digits, `_`, `.`, `-`) is mapped — lowercased, `_` and `.` turned into `-` — and refused
//! with the reason when the result is still no label or two services map to one name.

use std::collections::BTreeMap;

/// Longest label Kubernetes accepts (a Service's name, a label value, a Job's name: the Job
/// controller copies it into a label of each pod).
pub const MAX_LABEL: usize = 63;

/// Whether `s` is an RFC 1035 label: what a Service may be named.
pub fn is_dns1035_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= MAX_LABEL
        && b[0].is_ascii_lowercase()
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[b.len() - 1] != b'-'
}

/// Whether `s` is an RFC 1123 label (a namespace's name: may start with a digit).
pub fn is_dns1123_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= MAX_LABEL
        && b[0].is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[b.len() - 1] != b'-'
}

/// Whether `s` is an RFC 1123 subdomain (the name of a Secret, a claim): labels joined by `.`,
/// at most 253 characters.
pub fn is_dns1123_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns1123_label)
}

/// Whether `s` is a Kubernetes quantity as aimgen writes them: a decimal number with an
/// optional binary (`Ki` … `Ei`) or decimal (`k`, `M` … `E`) suffix.
pub fn is_quantity(s: &str) -> bool {
    let number = s.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let suffix = &s[number.len()..];
    let (int, frac) = number.split_once('.').unwrap_or((number, "0"));
    !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && !frac.is_empty()
        && frac.bytes().all(|b| b.is_ascii_digit())
        && ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "k", "M", "G", "T", "P", "E"].contains(&suffix)
}

/// The mapping every name goes through: lowercase, `_` and `.` become `-`. Nothing else is
/// changed, so the result stays recognisable and two names that differ only in case or in
/// those separators are caught as a collision rather than silently merged.
pub fn map(name: &str) -> String {
    name.chars().map(|c| if matches!(c, '_' | '.') { '-' } else { c.to_ascii_lowercase() }).collect()
}

/// The Kubernetes name of a Compose service, or why it has none.
pub fn service_name(name: &str) -> Result<String, String> {
    let mapped = map(name);
    if is_dns1035_label(&mapped) {
        return Ok(mapped);
    }
    let why = if mapped.len() > MAX_LABEL {
        format!("it is {} characters long; Kubernetes allows {MAX_LABEL}", mapped.len())
    } else if !mapped.starts_with(|c: char| c.is_ascii_lowercase()) {
        "it does not start with a letter".to_string()
    } else if mapped.ends_with('-') {
        "it ends with `-`, `_` or `.`".to_string()
    } else {
        "it holds characters other than letters, digits, `-`, `_` and `.`".to_string()
    };
    Err(format!("service `{name}` has no Kubernetes name (`{mapped}` is not a DNS-1035 label: {why})"))
}

/// The Kubernetes names of every service, or one message per service that has none or shares
/// its name with an earlier one: `(service, message)`.
pub fn service_names<'a>(
    services: impl IntoIterator<Item = &'a str>,
) -> Result<BTreeMap<String, String>, Vec<(String, String)>> {
    let mut names = BTreeMap::new();
    let mut taken: BTreeMap<String, String> = BTreeMap::new();
    let mut problems = Vec::new();
    for s in services {
        match service_name(s) {
            Ok(k) => {
                if let Some(first) = taken.get(&k) {
                    problems.push((
                        s.to_string(),
                        format!("services `{first}` and `{s}` both become `{k}` on Kubernetes (names are lowercase there, with `-` for `_` and `.`)"),
                    ));
                } else {
                    taken.insert(k.clone(), s.to_string());
                    names.insert(s.to_string(), k);
                }
            }
            Err(m) => problems.push((s.to_string(), m)),
        }
    }
    if problems.is_empty() {
        Ok(names)
    } else {
        Err(problems)
    }
}

/// The download Job of a (model, resolved revision): Compose's job name
/// (`aimgen-prefetch-<slug>-<hash>`), with the hash taken over the revision the Job actually
/// fetches (the locked sha when there is one). A Job's pod template cannot be changed once
/// created, so a new lock must give a new Job; re-applying the same manifests finds the same
/// Job and changes nothing. At most 16 + 32 + 1 + 8 = 57 characters.
pub fn job_name(repo: &str, resolved_revision: &str) -> String {
    crate::plan::prefetch_job_name(repo, resolved_revision)
}

/// A label value: at most 63 characters of letters, digits, `-`, `_` and `.`, starting and
/// ending alphanumeric (or empty). Anything else is turned into something that is.
pub fn label_value(s: &str) -> String {
    let mut v: String =
        s.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '-' }).collect();
    v.truncate(MAX_LABEL);
    v.trim_matches(|c: char| !c.is_ascii_alphanumeric()).to_string()
}

/// Whether `s` is the name part of a label key, or a label value that is not empty: at most 63
/// letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit (Kubernetes'
/// `IsQualifiedName` and `IsValidLabelValue`, apimachinery `util/validation`).
fn is_label_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= MAX_LABEL
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

const NAME_RULE: &str = "at most 63 letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit";

/// Why `s` is no label key, or `None` when it is one: an optional prefix (a DNS subdomain of
/// at most 253 characters) and `/`, then a name (`is_label_name`).
pub fn label_key_problem(s: &str) -> Option<String> {
    let (prefix, name) = match s.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, s),
    };
    if let Some(p) = prefix {
        if !is_dns1123_subdomain(p) {
            return Some(format!(
                "its prefix `{}` is no DNS subdomain (lowercase letters, digits, `-` and `.`, at most 253)",
                p.escape_debug()
            ));
        }
    }
    if !is_label_name(name) {
        let what = if name.contains('/') {
            "it has more than one `/`".to_string()
        } else {
            format!("its name must be {NAME_RULE}")
        };
        return Some(what);
    }
    None
}

/// Why `s` is no label value, or `None` when it is one (empty, or `is_label_name`).
pub fn label_value_problem(s: &str) -> Option<String> {
    (!s.is_empty() && !is_label_name(s)).then(|| format!("a label value is empty or {NAME_RULE}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compose_names_map_to_dns_labels() {
        assert_eq!(service_name("qwen").as_deref(), Ok("qwen"));
        assert_eq!(service_name("Qwen_3.32B").as_deref(), Ok("qwen-3-32b"));
        assert!(service_name("8b").expect_err("refused").contains("does not start with a letter"));
        assert!(service_name("qwen_").expect_err("refused").contains("ends with"));
        assert!(service_name(&"a".repeat(64)).expect_err("refused").contains("64 characters"));
        let e = service_names(["Qwen", "qwen", "llama"]).expect_err("refused");
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].0, "qwen");
        assert!(e[0].1.contains("`Qwen` and `qwen` both become `qwen`"), "{}", e[0].1);
    }

    #[test]
    fn job_names_are_labels_and_follow_the_revision() {
        let a = job_name("Qwen/Qwen3-32B", "main");
        let b = job_name("Qwen/Qwen3-32B", &"a".repeat(40));
        assert!(is_dns1035_label(&a) && is_dns1035_label(&b), "{a} {b}");
        assert_ne!(a, b);
        assert_eq!(a, job_name("Qwen/Qwen3-32B", "main"));
        let long = job_name(&format!("org/{}", "X".repeat(200)), "main");
        assert!(is_dns1035_label(&long), "{long}");
    }

    #[test]
    fn quantities_and_subdomains() {
        for q in ["16Gi", "1Ti", "500G", "1.5Gi", "100"] {
            assert!(is_quantity(q), "{q}");
        }
        for q in ["", "Gi", "16GB", "1.Gi", "-1Gi", "16 Gi"] {
            assert!(!is_quantity(q), "{q}");
        }
        assert!(is_dns1123_subdomain("hf-token.v1"));
        assert!(!is_dns1123_subdomain("HF_TOKEN") && !is_dns1123_subdomain("a..b"));
    }

    #[test]
    fn label_keys_and_values_follow_kubernetes() {
        for k in ["app", "aimgen.io/client", "kubernetes.io/metadata.name", "A_b.c-9", &"x".repeat(63)] {
            assert_eq!(label_key_problem(k), None, "{k}");
        }
        for k in ["", "/app", "Example.com/app", "a/b/c", "-app", "app-", "app name", "ex.com/", &"x".repeat(64)] {
            assert!(label_key_problem(k).is_some(), "{k}");
        }
        assert!(label_key_problem("a/b/c").expect("refused").contains("more than one `/`"));
        assert!(label_key_problem(&format!("{}/x", "a.".repeat(127) + "a")).is_some());
        for v in ["", "true", "0.4.6.post1", "A-b_c", &"v".repeat(63)] {
            assert_eq!(label_value_problem(v), None, "{v}");
        }
        for v in ["-x", "x.", "a b", "é", &"v".repeat(64)] {
            assert!(label_value_problem(v).is_some(), "{v}");
        }
    }

    #[test]
    fn label_values_are_valid() {
        assert_eq!(label_value("0.4.6.post1"), "0.4.6.post1");
        assert_eq!(label_value("-a b-"), "a-b");
        assert_eq!(label_value(&"x".repeat(80)).len(), 63);
    }
}
