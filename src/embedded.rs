//! Files embedded at build time (see `build.rs`): `(path, text)` pairs in sorted order.
include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
