//! Container root filesystems built from image layers.

pub mod overlay;
