//! One module per command; `report` prints diagnostics the same way for all of them.

pub mod check;
pub mod explain;
pub mod recipes;
pub mod render;
pub mod report;
