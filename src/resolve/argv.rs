//! The engine command line of a server.

use super::*;

/// The engine command line. Flags aimgen owns come first, then the recipe's and the
/// service's, sorted by name.
pub fn engine_argv(
    backend: Backend,
    source: &ModelSource,
    served: &str,
    port: u16,
    tp: u32,
    args: &BTreeMap<String, Json>,
) -> Vec<String> {
    let model = match source {
        ModelSource::Hub(h) => h.repo.clone(),
        ModelSource::Local { path } => path.clone(),
    };
    let mut argv: Vec<String> = image::entrypoint(backend).iter().map(|a| a.to_string()).collect();
    match backend {
        Backend::Vllm => argv.push(model),
        Backend::Sglang => argv.extend(["--model-path".into(), model]),
    }
    let tp_flag = match backend {
        Backend::Vllm => "--tensor-parallel-size",
        Backend::Sglang => "--tp-size",
    };
    argv.extend([
        "--host".into(),
        "0.0.0.0".into(),
        "--port".into(),
        port.to_string(),
        "--served-model-name".into(),
        served.to_string(),
        tp_flag.into(),
        tp.to_string(),
    ]);
    if let ModelSource::Hub(h) = source {
        argv.extend(["--revision".into(), h.effective_revision().to_string()]);
        if backend == Backend::Vllm {
            // The tokenizer otherwise resolves `main`, which an offline cache pinned to a
            // sha does not have.
            argv.extend(["--tokenizer-revision".into(), h.effective_revision().to_string()]);
        }
    }
    for (k, v) in args {
        match v {
            Json::Null | Json::Bool(true) => argv.push(format!("--{k}")),
            Json::Bool(false) => argv.push(format!("--no-{k}")),
            Json::String(s) => argv.extend([format!("--{k}"), s.clone()]),
            Json::Number(n) => argv.extend([format!("--{k}"), n.to_string()]),
            other => argv.extend([format!("--{k}"), other.to_string()]),
        }
    }
    argv
}
