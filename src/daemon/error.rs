//! The daemon's errors: each module's typed error with its source, and the one place they
//! are classified into Docker's error kinds (moby's errdefs), which the HTTP layer turns
//! into status codes: unknown object 404, conflict 409, bad parameter 400, not implemented
//! 501, everything else 500.

use std::path::PathBuf;

use super::backend::BackendError;
use super::reconcile::PurgeError;
use super::seccomp_profile::ProfileError;
use super::store::StoreError;
use crate::image::error::RegistryFailure;
use crate::image::ImageError;
use crate::storage::StorageError;
use crate::volume::VolumeError;

/// Docker's kinds of error (moby's `errdefs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// No such object: 404.
    NotFound,
    /// The object's state forbids it: 409.
    Conflict,
    /// The request is wrong: 400.
    InvalidParameter,
    /// Nothing to do: 304.
    NotModified,
    /// Refused whatever the request's form (removing a network in use): 403.
    Forbidden,
    /// Credentials missing or refused: 401.
    Unauthorized,
    /// berth does not implement it: 501.
    NotImplemented,
    /// A component the daemon needs (the supervisor) cannot be reached: 503.
    Unavailable,
    /// Anything else: 500.
    System,
}

/// Errors of daemon operations.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The container store.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The image store, a registry, an archive.
    #[error(transparent)]
    Image(#[from] ImageError),
    /// The storage driver (rootfs mounts, diffs, exports).
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// Where containers run (the supervisor, or the in-process runtime).
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// No such object (an exec instance, ...).
    #[error("{0}")]
    NotFound(String),
    /// The object's state forbids the request.
    #[error("{0}")]
    Conflict(String),
    /// The request is invalid.
    #[error("{0}")]
    BadRequest(String),
    /// Nothing to do (e.g. stopping a stopped container): HTTP 304.
    #[error("{0}")]
    NotModified(String),
    /// A file call of the daemon failed.
    #[error("{what} {}: {source}", path.display())]
    Io { what: &'static str, path: PathBuf, source: std::io::Error },
    /// A task an operation ran in died (it panicked, or the runtime shuts down).
    #[error("{what}: {source}")]
    Task { what: String, source: tokio::task::JoinError },
    /// A container that does not end or go away: the message says what is known.
    #[error("{0}")]
    Stuck(String),
    /// A container's task could not be removed.
    #[error(transparent)]
    Purge(#[from] PurgeError),
    /// A container's task could not be removed (in `rm`).
    #[error("could not remove container {id}: {source}")]
    Remove { id: String, source: PurgeError },
    /// A path inside a container's root filesystem could not be resolved or opened.
    #[error(transparent)]
    InRoot(#[from] crate::inroot::InRootError),
    /// The daemon's own set-up cannot do what was asked (e.g. its `--init-path`).
    #[error("{0}")]
    Setup(String),
    /// A seccomp profile that cannot be used (a custom one that is wrong, or a host whose
    /// kernel version cannot be read).
    #[error(transparent)]
    Seccomp(#[from] super::seccomp_profile::ProfileError),
    /// A `Tmpfs` or `ShmSize` that cannot be mounted.
    #[error(transparent)]
    Mount(#[from] super::mounts::MountError),
    /// The backend could not apply a container's new limits (`update`).
    #[error("Cannot update container {id}: {source}")]
    Update { id: String, source: BackendError },
    /// A stored image config is not JSON.
    #[error("image config {id}: {source}")]
    ImageConfig { id: String, source: serde_json::Error },
    /// Networks: their records, links, rules and addresses.
    #[error(transparent)]
    Network(#[from] super::network::NetworkError),
    /// A volume verb on volume `op` (Docker's prefix: `create x`, `get x`, `remove x`).
    #[error("{op}: {source}")]
    Volume { op: String, source: crate::volume::VolumeError },
}

impl DaemonError {
    /// An I/O error of `path` while doing `what`.
    pub fn io(what: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DaemonError::Io { what, path: path.into(), source }
    }

    /// The kind of this error, as Docker classifies the same failure.
    pub fn kind(&self) -> ErrorKind {
        match self {
            DaemonError::Store(e) => match e {
                StoreError::NotFound(_) => ErrorKind::NotFound,
                StoreError::Ambiguous(_) => ErrorKind::InvalidParameter,
                StoreError::NameInUse { .. } => ErrorKind::Conflict,
                StoreError::Io { .. } => ErrorKind::System,
            },
            DaemonError::Image(e) => image_kind(e),
            DaemonError::Storage(e) => match e {
                StorageError::UnknownDriver(_) => ErrorKind::InvalidParameter,
                _ => ErrorKind::System,
            },
            DaemonError::Backend(e) => backend_kind(e),
            DaemonError::NotFound(_) => ErrorKind::NotFound,
            DaemonError::Conflict(_) => ErrorKind::Conflict,
            DaemonError::BadRequest(_) | DaemonError::Mount(_) => ErrorKind::InvalidParameter,
            DaemonError::NotModified(_) => ErrorKind::NotModified,
            DaemonError::Network(e) => e.kind(),
            DaemonError::Volume { source, .. } => match source {
                VolumeError::InvalidName(_) | VolumeError::InvalidOption(_) => ErrorKind::InvalidParameter,
                VolumeError::UnknownDriver(_) | VolumeError::NotFound(_) => ErrorKind::NotFound,
                VolumeError::InUse { .. } | VolumeError::Conflict { .. } => ErrorKind::Conflict,
                VolumeError::Io { .. } | VolumeError::Mount(_) => ErrorKind::System,
            },
            DaemonError::Seccomp(e) => match e {
                ProfileError::Decode(_) | ProfileError::Invalid { .. } => ErrorKind::InvalidParameter,
                ProfileError::KernelVersion(_) => ErrorKind::System,
            },
            DaemonError::Io { .. }
            | DaemonError::Task { .. }
            | DaemonError::Stuck(_)
            | DaemonError::Purge(_)
            | DaemonError::Remove { .. }
            | DaemonError::ImageConfig { .. }
            | DaemonError::Update { .. }
            | DaemonError::Setup(_)
            | DaemonError::InRoot(_) => ErrorKind::System,
        }
    }
}

/// Docker's kind of an image error: a missing image or one a registry does not have is
/// 404, a bad name or archive 400, a registry that refuses the credentials 401, a registry
/// that cannot be reached or fails 500.
fn image_kind(e: &ImageError) -> ErrorKind {
    match e {
        ImageError::NotFound(_) => ErrorKind::NotFound,
        ImageError::InvalidReference(_) | ImageError::BadArchive(_) | ImageError::Change(_) => ErrorKind::InvalidParameter,
        ImageError::InUse(_) => ErrorKind::Conflict,
        // What a load or pull hands us that cannot be used is the input's fault.
        ImageError::Content(_) | ImageError::Layer { .. } | ImageError::Manifest(_) => ErrorKind::InvalidParameter,
        ImageError::Registry { failure, .. } => match failure {
            RegistryFailure::NotFound => ErrorKind::NotFound,
            RegistryFailure::Unauthorized => ErrorKind::Unauthorized,
            RegistryFailure::InvalidReference => ErrorKind::InvalidParameter,
            RegistryFailure::Other => ErrorKind::System,
        },
        ImageError::Io { .. } | ImageError::NoSpace(_) => ErrorKind::System,
    }
}

/// Docker's kind of a backend error: a runtime that refuses the container's process is the
/// request's fault (400, as dockerd's "OCI runtime create failed"); a task the backend does
/// not have is a state conflict; an unreachable supervisor 503.
fn backend_kind(e: &BackendError) -> ErrorKind {
    match e {
        BackendError::Start(_) => ErrorKind::InvalidParameter,
        BackendError::NotFound(_) | BackendError::Conflict(_) => ErrorKind::Conflict,
        BackendError::Unavailable(_) => ErrorKind::Unavailable,
        _ => ErrorKind::System,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_take_dockers_kinds() {
        let kind = |e: DaemonError| e.kind();
        assert_eq!(kind(StoreError::NotFound("x".into()).into()), ErrorKind::NotFound);
        assert_eq!(kind(StoreError::NameInUse { name: "a".into(), id: "b".into() }.into()), ErrorKind::Conflict);
        assert_eq!(kind(ImageError::NotFound("x".into()).into()), ErrorKind::NotFound);
        let reg = |failure| ImageError::Registry { reference: "r".into(), message: "m".into(), failure };
        assert_eq!(kind(reg(RegistryFailure::NotFound).into()), ErrorKind::NotFound);
        assert_eq!(kind(reg(RegistryFailure::Unauthorized).into()), ErrorKind::Unauthorized);
        assert_eq!(kind(reg(RegistryFailure::Other).into()), ErrorKind::System, "an unreachable registry is no bad request");
        assert_eq!(kind(BackendError::Start("exec: not found".into()).into()), ErrorKind::InvalidParameter);
        assert_eq!(kind(BackendError::Unavailable("gone".into()).into()), ErrorKind::Unavailable);
        let join = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
            .block_on(async { tokio::spawn(async { panic!("a handler panicked") }).await.expect_err("the task panicked") });
        assert_eq!(kind(DaemonError::Task { what: "start".into(), source: join }), ErrorKind::System, "a dead task is a 500, never a 400");
    }
}
