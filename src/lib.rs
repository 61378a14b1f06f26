//! aimgen compiles a declarative LLM fleet spec into a Compose deployment that shares one base
//! image and one Hugging Face model cache.
//!
//! The data flows one way: `load` (text → spec) → `validate` → `resolve` (recipes, GPUs,
//! ports → `plan::Plan`) → `target` (plan → files: `target::Target`) → `emit` (write or check).

pub mod cli;
mod cmd;
pub mod compile;
pub mod diagnostic;
mod embedded;
pub mod emit;
pub mod footprint;
pub mod hub;
pub mod ids;
pub mod image;
pub mod load;
pub mod lockfile;
pub mod plan;
pub mod recipe;
pub mod reserved;
pub mod resolve;
pub mod safe_fs;
pub mod schema;
pub mod source;
pub mod spec;
pub mod target;
pub mod text;
pub mod validate;
