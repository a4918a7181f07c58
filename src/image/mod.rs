//! Images: imported rootfs tarballs (one layer each, for now), their configs and names.

pub mod reference;
pub mod store;

pub use store::{Image, ImageError, ImageStore};
