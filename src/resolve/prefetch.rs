//! Prefetch jobs: their names.

use super::*;

/// The prefetch job of a (model, revision): `aimgen-prefetch-<name>-<hash>`, where `<name>` is
/// the repo's name made fit for a Compose service name and `<hash>` 8 hex digits of a stable hash of
/// the exact repo id and requested revision. The name tells a person which model it is; the
/// hash keeps `org-a/m` and `org-b/m`, or two revisions, apart. It depends only on the spec (not
/// the locked commit), so `aimgen lock --update` does not rename the job.
pub fn prefetch_job_name(repo: &str, revision: &str) -> String {
    let name = repo.rsplit('/').next().unwrap_or(repo);
    let mut slug = String::new();
    for c in name.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    // Compose names have no length limit, but container names become host names (63 bytes).
    slug.truncate(32);
    let slug = slug.trim_end_matches('-');
    let slug = if slug.is_empty() { "model" } else { slug };
    let hash = crate::text::content_hash(&format!("{repo}@{revision}"));
    format!("{PREFETCH_PREFIX}{slug}-{}", &hash[..8])
}
