//! Docker Engine API v1.41: the types on the wire between client and daemon, and the
//! stream framing both sides share. Nothing here knows about processes or the kernel.

pub mod create_fields;
pub mod filters;
pub mod host_config;
pub mod stream;
pub mod timestamp;
pub mod types;

/// The Engine API version berthd speaks (and announces in `/_ping`'s `Api-Version`).
pub const API_VERSION: &str = "1.41";
/// The oldest API version berthd accepts.
pub const MIN_API_VERSION: &str = "1.12";
