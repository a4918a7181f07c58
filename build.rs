//! Compiles containerd's gRPC API (vendored under `proto/`, Apache-2.0) into tonic
//! clients and servers. protox parses the protos in Rust, so no system `protoc` is needed.

const PROTOS: &[&str] = &[
    "github.com/containerd/containerd/api/services/containers/v1/containers.proto",
    "github.com/containerd/containerd/api/services/tasks/v1/tasks.proto",
    "github.com/containerd/containerd/api/services/events/v1/events.proto",
    "github.com/containerd/containerd/api/services/version/v1/version.proto",
    "github.com/containerd/containerd/api/services/namespaces/v1/namespace.proto",
    "github.com/containerd/containerd/api/events/task.proto",
    "github.com/containerd/containerd/api/events/container.proto",
    "github.com/containerd/containerd/api/services/leases/v1/leases.proto",
    "github.com/containerd/containerd/api/services/introspection/v1/introspection.proto",
];

/// Functions the short-lived roles run (`berth-runtime create/start/delete/...`, container
/// init), in first-use order; made by `examples/link-order.sh`.
const LINK_ORDER: &str = "src/link-order.txt";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    link_order();
    let fds = protox::compile(PROTOS, ["proto"])?;
    tonic_prost_build::configure().build_client(true).build_server(true).compile_fds(fds)?;
    Ok(())
}

/// Lays the hot functions out together at the start of .text. The kernel maps file pages
/// 64 KiB around each fault, so a runtime invocation that touches a few hundred functions
/// spread over a 20 MB multicall binary would otherwise map megabytes (its RSS) and take a
/// fault per scattered function (its start-up time). Only for release builds with rustc's
/// default linker on this target (rust-lld); names that no longer exist are ignored, so a
/// stale list costs speed, never correctness.
fn link_order() {
    println!("cargo:rerun-if-changed={LINK_ORDER}");
    println!("cargo:rerun-if-env-changed=BERTH_NO_LINK_ORDER");
    let target = std::env::var("TARGET").unwrap_or_default();
    let profile = std::env::var("PROFILE").unwrap_or_default();
    if target != "x86_64-unknown-linux-gnu" || profile != "release" || std::env::var_os("BERTH_NO_LINK_ORDER").is_some() {
        return;
    }
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(LINK_ORDER);
    if path.exists() {
        println!("cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={}", path.display());
        println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
    }
}
