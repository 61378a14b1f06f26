//! The plan names engines, vendors and precisions with its own types, so the targets read the
//! plan alone; these are the only places the spec's (or the library's) become the plan's.

use super::*;

impl From<Backend> for Engine {
    fn from(b: Backend) -> Engine {
        match b {
            Backend::Vllm => Engine::Vllm,
            Backend::Sglang => Engine::Sglang,
        }
    }
}

impl From<Vendor> for GpuVendor {
    fn from(v: Vendor) -> GpuVendor {
        match v {
            Vendor::Amd => GpuVendor::Amd,
            Vendor::Nvidia => GpuVendor::Nvidia,
        }
    }
}

impl From<Precision> for Dtype {
    fn from(p: Precision) -> Dtype {
        match p {
            // A recipe never has `auto` (the library refuses it when loading); bf16 is what
            // an engine's `auto` loads for the models aimgen knows.
            Precision::Auto | Precision::Bf16 => Dtype::Bf16,
            Precision::Fp16 => Dtype::Fp16,
            Precision::Fp8 => Dtype::Fp8,
        }
    }
}

impl From<crate::spec::Verify> for Verify {
    fn from(v: crate::spec::Verify) -> Verify {
        match v {
            crate::spec::Verify::Size => Verify::Size,
            crate::spec::Verify::Sha256 => Verify::Sha256,
        }
    }
}

impl From<crate::recipe::Origin> for RecipeOrigin {
    fn from(o: crate::recipe::Origin) -> RecipeOrigin {
        match o {
            crate::recipe::Origin::Builtin(p) => RecipeOrigin::Builtin(p),
            crate::recipe::Origin::User(p) => RecipeOrigin::User(p),
        }
    }
}

impl From<crate::recipe::secrets::KeyInput> for KeyDelivery {
    fn from(k: crate::recipe::secrets::KeyInput) -> KeyDelivery {
        match k {
            crate::recipe::secrets::KeyInput::Env(v) => KeyDelivery::Env(v),
            crate::recipe::secrets::KeyInput::Flag(f) => KeyDelivery::Flag(f),
        }
    }
}
