//! GPU assignment: the host's inventory, and the pool that hands GPUs to services in spec
//! order, lowest first, none twice.

use super::*;

/// The host's GPUs as the plan states them: the model named as the recipes name it, the
/// memory from the spec or from what aimgen knows of the model (0 when neither says).
pub(super) fn gpu_inventory(gpu: &GpuSpec) -> GpuInventory {
    let model = KNOWN_GPUS
        .iter()
        .find(|(m, _)| m.eq_ignore_ascii_case(&gpu.model))
        .map(|(m, _)| m.to_string())
        .unwrap_or_else(|| gpu.model.clone());
    GpuInventory {
        vendor: gpu.vendor.into(),
        model,
        count: gpu.count,
        memory_gb: gpu.memory_gb.or_else(|| known_gpu_memory_gb(&gpu.model)).unwrap_or(0),
        group_ids: gpu.group_ids.clone(),
        render_nodes: gpu.render_nodes.clone(),
    }
}

/// The GPUs not yet given to a service, and who holds the others (named when one runs out).
pub(super) struct GpuPool {
    count: u32,
    free: Vec<u32>,
    holders: Vec<(String, Vec<u32>)>,
}

impl GpuPool {
    /// A host (or node) of `count` GPUs, all free.
    pub(super) fn new(count: u32) -> GpuPool {
        GpuPool { count, free: (0..count).collect(), holders: Vec::new() }
    }

    /// Every GPU free again: on a cluster each server is scheduled on a node of its own.
    pub(super) fn refill(&mut self) {
        *self = GpuPool::new(self.count);
    }

    /// How many GPUs are still free.
    pub(super) fn available(&self) -> u32 {
        self.free.len() as u32
    }

    /// The `want` lowest free GPUs for service `s`; none, with an error at the service, when
    /// fewer remain.
    pub(super) fn take(&mut self, s: &Service, want: u32, diags: &mut Vec<Diagnostic>) -> Vec<u32> {
        if want as usize > self.free.len() {
            diags.push(oversubscribed(s.name, want, self.count, &self.holders, &self.free, &s.at, s.spec));
            return Vec::new();
        }
        let gpus: Vec<u32> = self.free.drain(..want as usize).collect();
        if !gpus.is_empty() {
            self.holders.push((s.name.to_string(), gpus.clone()));
        }
        gpus
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn service<'a>(name: &'a str, spec: &'a ServiceSpec) -> Service<'a> {
        Service {
            name,
            spec,
            at: format!("/services/{name}"),
            backend: Backend::Vllm,
            release: None,
            facts: None,
            locked_gb: None,
        }
    }

    fn wants(gpus: u32) -> ServiceSpec {
        serde_yaml::from_str(&format!("{{model: m, gpus: {gpus}}}")).expect("service spec")
    }

    #[test]
    fn the_pool_gives_the_lowest_free_gpus_and_names_their_holders_when_it_runs_out() {
        let (two, one, none) = (wants(2), wants(1), wants(0));
        let mut pool = GpuPool::new(4);
        let mut diags = Vec::new();
        assert_eq!(pool.take(&service("a", &two), 2, &mut diags), [0, 1]);
        assert_eq!(pool.take(&service("b", &none), 0, &mut diags), Vec::<u32>::new());
        assert_eq!(pool.take(&service("c", &one), 1, &mut diags), [2]);
        assert_eq!(pool.available(), 1);
        assert!(diags.is_empty(), "{diags:?}");

        assert_eq!(pool.take(&service("d", &two), 2, &mut diags), Vec::<u32>::new());
        let [d] = diags.as_slice() else { panic!("{diags:?}") };
        assert!(d.is_error());
        assert_eq!(d.message, "`d` needs 2 GPUs but only 1 of the host's 4 remain");
        assert_eq!(d.help.as_deref(), Some("a holds GPUs 0-1, c holds GPU 2; 1 free"));
        assert_eq!(d.pointer.as_deref(), Some("/services/d/gpus"));
        assert_eq!(pool.available(), 1, "a refused service takes nothing");
    }

    #[test]
    fn a_refilled_pool_starts_again_from_gpu_0() {
        let two = wants(2);
        let mut pool = GpuPool::new(2);
        let mut diags = Vec::new();
        assert_eq!(pool.take(&service("a", &two), 2, &mut diags), [0, 1]);
        pool.refill();
        assert_eq!(pool.take(&service("b", &two), 2, &mut diags), [0, 1]);
        assert!(diags.is_empty(), "{diags:?}");
    }

    #[test]
    fn the_inventory_names_a_known_model_as_the_recipes_do_and_knows_its_memory() {
        let gpu: GpuSpec = serde_yaml::from_str("{vendor: amd, model: mi300x, count: 8}").expect("gpu spec");
        let inv = gpu_inventory(&gpu);
        assert_eq!((inv.model.as_str(), inv.memory_gb), ("MI300X", 192));
        let gpu: GpuSpec = serde_yaml::from_str("{vendor: nvidia, model: Z9, count: 1}").expect("gpu spec");
        let inv = gpu_inventory(&gpu);
        assert_eq!((inv.model.as_str(), inv.memory_gb), ("Z9", 0));
    }
}
