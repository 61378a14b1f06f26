//! How text lands in a Kubernetes manifest. kubectl and the API server read YAML with Go's
//! yaml (YAML 1.1 line breaks: `\n`, `\r`, U+0085, U+2028, U+2029), so every value is a
//! double-quoted scalar with everything but printable text escaped. In a container's
//! `command`, `args` and `env[].value` the kubelet also expands `$(NAME)` from the container's
//! variables and reads `$$` as `$`; every `$` there is doubled, so no spec value can name a
//! variable (a Secret's value included). The one reference aimgen writes on purpose, the API
//! key of an engine that reads it from a flag, is `var_ref`.

/// A YAML double-quoted scalar read back byte for byte (names, labels, paths, ConfigMap keys).
pub fn quote(s: &str) -> String {
    crate::text::double_quoted(s, "$")
}

/// A value of `command`, `args` or `env[].value`: quoted, and `$` doubled against the
/// kubelet's `$(NAME)` expansion.
pub fn expand_quote(s: &str) -> String {
    crate::text::double_quoted(s, "$$")
}

/// `$(NAME)`: the kubelet replaces it with the container's variable NAME (set from a Secret),
/// so the value never appears in the manifest. `name` must be a variable name.
pub fn var_ref(name: &str) -> String {
    debug_assert!(crate::text::valid_env_name(name));
    format!("\"$({name})\"")
}

/// A literal block scalar for file content (ConfigMap data, which nothing expands), indented
/// by `indent`; text a block cannot hold exactly (`text::literal_block`) is quoted.
pub fn block(s: &str, indent: usize) -> String {
    crate::text::literal_block(s, indent).unwrap_or_else(|| quote(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// kubelet's expansion (`third_party/forked/golang/expansion/expand.go` in Kubernetes):
    /// `$$` → `$`, `$(NAME)` → the variable, any other `$` kept.
    fn kubelet_expand(s: &str, vars: &[(&str, &str)]) -> String {
        let b: Vec<char> = s.chars().collect();
        let mut out = String::new();
        let mut i = 0;
        while i < b.len() {
            if b[i] == '$' && i + 1 < b.len() {
                match b[i + 1] {
                    '$' => {
                        out.push('$');
                        i += 2;
                        continue;
                    }
                    '(' => {
                        if let Some(end) = b[i + 2..].iter().position(|c| *c == ')') {
                            let name: String = b[i + 2..i + 2 + end].iter().collect();
                            match vars.iter().find(|(k, _)| *k == name) {
                                Some((_, v)) => out.push_str(v),
                                None => out.push_str(&format!("$({name})")),
                            }
                            i += end + 3;
                            continue;
                        }
                    }
                    _ => {}
                }
            }
            out.push(b[i]);
            i += 1;
        }
        out
    }

    #[test]
    fn dollars_survive_the_kubelet_and_yaml() {
        let vars = [("HF_TOKEN", "secret")];
        for s in ["$(HF_TOKEN)", "$$(HF_TOKEN)", "a$b", "$", "x$(", "${HF_TOKEN}", "\u{2028}$(HF_TOKEN)\n"] {
            let q = expand_quote(s);
            assert!(q.is_ascii(), "{q}");
            let read: String = serde_yaml::from_str(&q).expect("parses");
            assert_eq!(kubelet_expand(&read, &vars), s, "{q}");
            let plain: String = serde_yaml::from_str(&quote(s)).expect("parses");
            assert_eq!(plain, s);
        }
        let r: String = serde_yaml::from_str(&var_ref("AIMGEN_API_KEY")).expect("parses");
        assert_eq!(kubelet_expand(&r, &[("AIMGEN_API_KEY", "k")]), "k");
    }

    #[test]
    fn blocks_keep_dollars_and_fall_back() {
        let text = "echo \"$1\"\n\nexit $((1))\n";
        let doc = format!("k: {}\n", block(text, 2));
        let v: std::collections::BTreeMap<String, String> = serde_yaml::from_str(&doc).expect("parses");
        assert_eq!(v["k"], text);
        assert!(block("a\u{2028}b\n", 2).starts_with('"'));
    }
}
