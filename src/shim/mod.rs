//! shim (in progress)
