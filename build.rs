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

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let fds = protox::compile(PROTOS, ["proto"])?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)?;
    Ok(())
}
