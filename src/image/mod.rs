//! Images: the content store, manifests, layers, the image store, registry pull/push and
//! docker-archive save/load.

pub mod archive;
pub mod changes;
pub mod commit;
pub mod config;
pub mod content;
pub mod digest;
pub mod error;
mod gc;
pub mod layer;
pub mod login;
pub mod manifest;
pub mod reference;
pub mod registry;
pub mod store;

pub use config::{Image, ImageConfigFile};
pub use error::ImageError;
pub use store::ImageStore;
