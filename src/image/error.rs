//! Errors of images: the store, archives, layers, manifests and registries, with what a
//! full disk looks like whatever step it hit.

use super::changes;
use super::content::ContentError;
use super::layer::LayerError;
use super::manifest::ManifestError;
use super::reference;
use std::io;
use std::path::{Path, PathBuf};

/// What kind of refusal a registry's error is (Docker answers each with its own status).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistryFailure {
    /// No such repository, manifest or blob.
    NotFound,
    /// Credentials missing or refused.
    Unauthorized,
    /// A name the registry client cannot use.
    InvalidReference,
    /// Anything else: unreachable, a broken transfer, a server error.
    Other,
}

/// Errors of the image store.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// No image answers to this name or id.
    #[error("No such image: {0}")]
    NotFound(String),
    /// A name or reference Docker's grammar refuses.
    #[error(transparent)]
    InvalidReference(#[from] reference::RefError),
    /// The disk (or quota) is full; what was half-written is gone.
    #[error("{}no space left on device", .0.as_ref().map(|p| format!("write {}: ", p.display())).unwrap_or_default())]
    NoSpace(Option<PathBuf>),
    /// The uploaded archive is not a usable tar.
    #[error("invalid image archive: {0}")]
    BadArchive(String),
    /// A file of the store could not be read or written.
    #[error("image store {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    /// A blob could not be stored or found (digest mismatch, missing blob).
    #[error(transparent)]
    Content(#[from] ContentError),
    /// A layer could not be extracted (unsafe entry, corrupt tar, wrong diff id).
    #[error("layer {layer}: {source}")]
    Layer { layer: String, source: LayerError },
    /// A manifest could not be used.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// A `--change` instruction that cannot be applied.
    #[error(transparent)]
    Change(#[from] changes::ChangeError),
    /// The registry refused or failed a request.
    #[error("{reference}: {message}")]
    Registry { reference: String, message: String, failure: RegistryFailure },
    /// The image is in use (by a container, or under several names) and `force` was not given.
    #[error("{0}")]
    InUse(String),
}

/// An I/O error of `path` as an [`ImageError`].
pub(crate) fn io_err(path: &Path) -> impl FnOnce(io::Error) -> ImageError + '_ {
    move |source| ImageError::Io { path: path.to_path_buf(), source }
}

/// Whether `e`, or an error it wraps, is ENOSPC or EDQUOT.
pub fn is_no_space(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<io::Error>()
            && io_no_space(io)
        {
            return true;
        }
        cur = err.source();
    }
    false
}

/// [`is_no_space`] of an I/O error (whose own wrapped error `source()` skips).
pub(crate) fn io_no_space(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::StorageFull
        || matches!(e.raw_os_error(), Some(libc::ENOSPC | libc::EDQUOT))
        || e.get_ref().is_some_and(|inner| is_no_space(inner))
}

impl ImageError {
    /// The error as reported: a full disk says "no space left on device" whatever step
    /// (spooling, unpacking, a record) it hit.
    pub(crate) fn reported(self) -> ImageError {
        if matches!(self, ImageError::NoSpace(_)) || !is_no_space(&self) {
            return self;
        }
        let path = match &self {
            ImageError::Io { path, .. } | ImageError::Content(ContentError::Io { path, .. }) => Some(path.clone()),
            ImageError::Layer { source: LayerError::Io { path, .. }, .. } => Some(path.clone()),
            _ => None,
        };
        ImageError::NoSpace(path)
    }
}
