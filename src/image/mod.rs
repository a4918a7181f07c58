//! Images: the content store, manifests, layers, the image store, registry pull/push and
//! docker-archive save/load.

pub mod archive;
pub mod changes;
pub mod commit;
pub mod content;
pub mod digest;
pub mod layer;
pub mod manifest;
pub mod reference;
pub mod registry;
pub mod store;

pub use store::{Image, ImageError, ImageStore};
