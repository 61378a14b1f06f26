//! GPU assignment: the diagnostic when services ask for more GPUs than the host has.

use super::*;

pub(super) fn oversubscribed(
    name: &str,
    want: u32,
    total: u32,
    holders: &[(String, Vec<u32>)],
    free: &[u32],
    at: &str,
    svc: &ServiceSpec,
) -> Diagnostic {
    let held: Vec<String> = holders.iter().map(|(n, g)| format!("{n} holds {}", ranges(g))).collect();
    let place = if svc.gpus.is_some() { format!("{at}/gpus") } else { at.to_string() };
    Diagnostic::error(format!(
        "`{name}` needs {want} GPU{} but only {} of the host's {total} remain",
        if want == 1 { "" } else { "s" },
        free.len()
    ))
    .at(place)
    .help(if held.is_empty() {
        "the host has too few GPUs".to_string()
    } else {
        format!("{}; {} free", held.join(", "), free.len())
    })
}

// The plan names engines, vendors and precisions with its own types, so the targets read the
// plan alone; these are the only places the spec's (or the library's) become the plan's.
