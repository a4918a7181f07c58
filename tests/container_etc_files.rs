//! The files Docker manages in a container, seen from inside it (issue 13, managed files):
//! /etc/hostname holds `-h`, /etc/hosts has loopback and every `--add-host`, /etc/resolv.conf
//! has `--dns`, `--dns-search` and `--dns-option` (or the host's servers, loopback ones
//! dropped); each is a bind mount of its own (read-only with `--read-only`); the container's
//! edits survive a stop and start; a bad value fails `docker run` by name and leaves no
//! container. Both modes, docker CLI 28.x and 20.10.

mod common;

use common::docker_bin_ok as ok;

use common::{docker_bin_cmd, TestDaemon};

fn run(bin: &str, d: &TestDaemon, args: &[&str]) -> std::process::Output {
    docker_bin_cmd(bin, d).args(args).output().expect("run docker")
}

fn etc_files_flow(d: &TestDaemon) {
    d.import_busybox();
    for bin in ["/usr/local/bin/docker", "/usr/bin/docker"] {
        let flags = ["run", "--rm", "-h", "myhost", "--add-host", "db:10.1.2.3", "--add-host", "v6:2001:db8::7"];
        let dns = ["--dns", "192.0.2.53", "--dns-search", "corp.test", "--dns-option", "ndots:3"];
        let cmd = ["busybox", "sh", "-c", "cat /etc/hostname; echo ---; cat /etc/hosts; echo ---; cat /etc/resolv.conf; echo ---; grep -E ' /etc/(hostname|hosts|resolv.conf) ' /proc/self/mountinfo | wc -l; echo HOME=$HOME"];
        let args: Vec<&str> = flags.iter().chain(&dns).chain(&cmd).copied().collect();
        let out = ok(bin, d, &args);
        let parts: Vec<&str> = out.split("---\n").collect();
        assert_eq!(parts.len(), 4, "{bin}: {out}");
        assert_eq!(parts[0], "myhost\n", "{bin}: /etc/hostname");
        assert!(parts[1].starts_with("127.0.0.1\tlocalhost\n"), "{bin}: {}", parts[1]);
        assert!(parts[1].lines().any(|l| l == "10.1.2.3\tdb"), "{bin}: --add-host in /etc/hosts: {}", parts[1]);
        assert!(parts[1].lines().any(|l| l == "2001:db8::7\tv6"), "{bin}: IPv6 --add-host: {}", parts[1]);
        assert_eq!(parts[2], "nameserver 192.0.2.53\nsearch corp.test\noptions ndots:3\n", "{bin}: /etc/resolv.conf");
        let (mounts, home) = parts[3].split_once('\n').expect("two lines");
        assert_eq!(mounts.trim(), "3", "{bin}: each file is a mount of its own");
        assert_eq!(home.trim(), "HOME=/root");
    }

    // Without --dns: the host's name servers minus loopback ones (unreachable from the
    // container's network namespace), else Docker's defaults.
    let out = ok(DOCKER, d, &["run", "--rm", "busybox", "cat", "/etc/resolv.conf"]);
    let servers: Vec<&str> = out.lines().filter_map(|l| l.strip_prefix("nameserver ")).collect();
    assert!(!servers.is_empty() && servers.iter().all(|s| !s.starts_with("127.") && *s != "::1"), "{out}");

    // The container's edits survive a stop and start; the default hostname is the short id.
    let id = ok(DOCKER, d, &["run", "-d", "busybox", "sh", "-c", "echo 10.9.9.9 added >> /etc/hosts; sleep 1000"]);
    let id = id.trim();
    assert!(common::wait_until(10, || ok(DOCKER, d, &["exec", id, "cat", "/etc/hosts"]).contains("10.9.9.9 added")), "edit made");
    ok(DOCKER, d, &["stop", "-t", "0", id]);
    ok(DOCKER, d, &["start", id]);
    let hosts = ok(DOCKER, d, &["exec", id, "cat", "/etc/hosts"]);
    assert_eq!(hosts.matches("10.9.9.9 added").count(), 2, "kept across a restart, then appended again: {hosts}");
    assert_eq!(ok(DOCKER, d, &["exec", id, "cat", "/etc/hostname"]).trim(), &id[..12]);
    ok(DOCKER, d, &["rm", "-f", id]);

    // With a read-only root the managed files are read-only too, as under Docker.
    let out = ok(DOCKER, d, &["run", "--rm", "--read-only", "busybox", "sh", "-c", "(echo x >> /etc/hosts) 2>&1; echo rc=$?"]);
    assert!(out.contains("Read-only file system") && out.contains("rc=1"), "{out}");

    // host-gateway is the default bridge's gateway.
    let out = ok(DOCKER, d, &["run", "--rm", "--add-host", "gw:host-gateway", "busybox", "grep", "gw", "/etc/hosts"]);
    assert_eq!(out, "172.17.0.1\tgw\n");

    // Bad values: refused by name, nothing created.
    for (flags, named) in [(&["--add-host", "db:not-an-ip"][..], "not-an-ip"), (&["--dns-search", "a b"][..], "a b")] {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(flags);
        args.extend(["busybox", "true"]);
        let out = run(DOCKER, d, &args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(named), "{flags:?}: {err}");
    }
    assert_eq!(ok(DOCKER, d, &["ps", "-aq"]), "", "no container left by a refused create");
}

const DOCKER: &str = "/usr/local/bin/docker";

#[test]
fn managed_etc_files_are_what_docker_run_asks_modular() {
    etc_files_flow(&TestDaemon::modular("etcm"));
}

#[test]
fn managed_etc_files_are_what_docker_run_asks_monolithic() {
    etc_files_flow(&TestDaemon::monolithic("etco"));
}
