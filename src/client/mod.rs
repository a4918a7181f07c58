//! The docker-like CLI library behind the `berth` role: an Engine API client over the
//! daemon's unix socket, one module per command group, docker's output formats.

pub mod commands;
pub mod config;
pub mod endpoint;
pub mod error;
pub mod format;
pub mod http;
pub mod progress;
pub mod stdio;
pub mod template;
pub mod timestamp;

pub use endpoint::Endpoint;
pub use error::{ClientError, Result};
pub use http::EngineClient;
