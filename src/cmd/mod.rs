//! One module per command; `report` prints diagnostics the same way for all of them.

pub mod bundle;
pub mod cache;
pub mod check;
pub mod explain;
pub mod lock;
pub mod outdated;
pub mod recipes;
pub mod render;
pub mod report;
pub mod schema;
