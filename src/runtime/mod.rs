//! runtime (placeholder until the runtime branch lands)
use std::path::{Path, PathBuf};
pub struct Runtime;
#[derive(Default)]
pub struct CreateOptions { pub pid_file: Option<PathBuf>, pub stdio: Option<[std::os::fd::RawFd; 3]>, pub parent_death_signal: Option<i32> }
pub struct State { pub status: String, pub pid: Option<i32> }
#[derive(Debug, thiserror::Error)]
#[error("x")]
pub struct RuntimeError;
impl Runtime {
    pub fn new(_root: impl Into<PathBuf>) -> Self { Runtime }
    pub fn create(&self, _id: &str, _b: &Path, _o: &CreateOptions) -> Result<State, RuntimeError> { Err(RuntimeError) }
    pub fn start(&self, _id: &str) -> Result<(), RuntimeError> { Err(RuntimeError) }
    pub fn state(&self, _id: &str) -> Result<State, RuntimeError> { Err(RuntimeError) }
    pub fn kill(&self, _id: &str, _s: i32, _a: bool) -> Result<(), RuntimeError> { Err(RuntimeError) }
    pub fn delete(&self, _id: &str, _f: bool) -> Result<(), RuntimeError> { Err(RuntimeError) }
}
