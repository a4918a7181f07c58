//! Networks (issue 15) as services use them: on a user-defined network containers find each
//! other by name and by `--network-alias` (the embedded DNS server at 127.0.0.11), and a
//! container on another network cannot reach them; `-p 127.0.0.1:P:80` serves the page to the
//! daemon's namespace through the proxy, `-P` picks a port `docker port` reports, UDP is
//! published too, and a taken port is refused with nothing left behind; in modular mode a
//! SIGKILLed berthd leaves published ports serving and, restarted, names resolving; in
//! monolithic mode the container dies with the daemon and its veth and rules go at the
//! restart. Each berthd runs in a network namespace of the test's own.

mod common;

use common::{docker_bin_fails_saying, docker_bin_ok, wait_until, TestDaemon};

const DOCKER: &str = "/usr/local/bin/docker";
const DOCKER_20: &str = "/usr/bin/docker";

/// `wget -qO- URL` in the daemon's namespace: the page, or None if it failed.
fn fetch(d: &TestDaemon, url: &str) -> Option<String> {
    let out = d.netns.cmd("wget").args(["-qO-", url]).output().expect("wget");
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn hostname_of(bin: &str, d: &TestDaemon, name: &str) -> String {
    docker_bin_ok(bin, d, &["inspect", "-f", "{{.Config.Hostname}}", name]).trim().to_owned()
}

fn nft_ruleset(d: &TestDaemon) -> String {
    d.netns.run_ok("nft", &["list", "ruleset"])
}

fn services_flow(d: &TestDaemon) {
    d.import_busybox();
    for (bin, tag, port) in [(DOCKER, "a", "18080"), (DOCKER_20, "b", "18081")] {
        let (app, other, web) = (format!("app{tag}"), format!("oth{tag}"), format!("web{tag}"));
        docker_bin_ok(bin, d, &["network", "create", &app]);
        docker_bin_ok(bin, d, &["network", "create", &other]);
        let bind = format!("127.0.0.1:{port}:80");
        docker_bin_ok(
            bin,
            d,
            &[
                "run",
                "-d",
                "--name",
                &web,
                "--network",
                &app,
                "--network-alias",
                "www",
                "-p",
                &bind,
                "busybox",
                "httpd",
                "-f",
                "-p",
                "80",
                "-h",
                "/etc",
            ],
        );
        let host = hostname_of(bin, d, &web);
        // By name and by alias, through the embedded DNS server.
        let out = docker_bin_ok(
            bin,
            d,
            &[
                "run",
                "--rm",
                "--network",
                &app,
                "busybox",
                "sh",
                "-c",
                &format!("cat /etc/resolv.conf; wget -qO- http://{web}/hostname; wget -qO- http://www/hostname"),
            ],
        );
        assert!(out.contains("nameserver 127.0.0.11"), "{bin}: {out}");
        assert!(out.ends_with(&format!("{host}\n{host}\n")), "{bin}: {out}");
        // Another network cannot resolve it, nor reach its address.
        let ip = docker_bin_ok(bin, d, &["inspect", "-f", &format!("{{{{(index .NetworkSettings.Networks \"{app}\").IPAddress}}}}"), &web]);
        let out = docker_bin_ok(
            bin,
            d,
            &[
                "run",
                "--rm",
                "--network",
                &other,
                "busybox",
                "sh",
                "-c",
                &format!("nslookup {web} >/dev/null 2>&1 && echo resolved; timeout 3 wget -qO- http://{}/hostname || echo unreachable", ip.trim()),
            ],
        );
        assert_eq!(out, "unreachable\n", "{bin}");
        // Published on the daemon's loopback through the proxy; `docker port` says where.
        assert_eq!(fetch(d, &format!("http://127.0.0.1:{port}/hostname")).as_deref(), Some(format!("{host}\n").as_str()), "{bin}");
        assert_eq!(docker_bin_ok(bin, d, &["port", &web]), format!("80/tcp -> 127.0.0.1:{port}\n"), "{bin}");
        // A taken port: Docker's error, and no container process, veth or rule left.
        let rules = nft_ruleset(d);
        docker_bin_fails_saying(
            bin,
            d,
            &["run", "-d", "--name", &format!("dup{tag}"), "-p", &bind, "busybox", "sleep", "100"],
            "address already in use",
        );
        assert_eq!(docker_bin_ok(bin, d, &["inspect", "-f", "{{.State.Running}}", &format!("dup{tag}")]).trim(), "false");
        assert_eq!(nft_ruleset(d), rules, "{bin}: a refused port leaves the rules as they were");
        // -P: every exposed port on an ephemeral host port, which `docker port` reports.
        let pub_all = format!("pa{tag}");
        docker_bin_ok(bin, d, &["run", "-d", "--name", &pub_all, "-P", "--expose", "80", "busybox", "httpd", "-f", "-p", "80", "-h", "/etc"]);
        let mapped = docker_bin_ok(bin, d, &["port", &pub_all, "80"]);
        let eph = mapped.lines().next().and_then(|l| l.rsplit(':').next()).and_then(|p| p.parse::<u16>().ok()).expect("a port");
        assert!(eph >= 1024, "{bin}: {mapped}");
        // No host IP: 0.0.0.0 and :: on the same port, as Docker's (the namespace has IPv6).
        let hosts: Vec<&str> = mapped.lines().map(|l| l.strip_suffix(&format!(":{eph}")).unwrap_or(l)).collect();
        assert!(hosts == ["0.0.0.0", "[::]"] || hosts == ["0.0.0.0", "::"], "{bin}: {mapped}");
        let page = fetch(d, &format!("http://127.0.0.1:{eph}/hostname"));
        assert_eq!(page, Some(format!("{}\n", hostname_of(bin, d, &pub_all))), "{bin}");
        assert_eq!(fetch(d, &format!("http://[::1]:{eph}/hostname")), page, "{bin}: through the :: proxy");
        // Hairpin: the published port through the bridge's gateway, from the container
        // itself and from another one on the bridge.
        let via_gateway = format!("wget -qO- http://172.17.0.1:{eph}/hostname");
        let page = page.unwrap_or_default();
        assert_eq!(docker_bin_ok(bin, d, &["exec", &pub_all, "sh", "-c", &via_gateway]), page, "{bin}: from itself");
        assert_eq!(docker_bin_ok(bin, d, &["run", "--rm", "busybox", "sh", "-c", &via_gateway]), page, "{bin}: from another container");
        docker_bin_ok(bin, d, &["rm", "-f", &web, &pub_all, &format!("dup{tag}")]);
        docker_bin_ok(bin, d, &["network", "rm", &app, &other]);
    }
    // UDP: a static echo server copied into a container answers through the published port.
    let dir = common::TempDir::new("nsudp");
    let (src, bin) = (dir.path().join("echo.c"), dir.path().join("udp-echo"));
    std::fs::write(&src, UDP_ECHO).expect("write echo.c");
    let out = std::process::Command::new("gcc").args(["-static", "-O1", "-o"]).arg(&bin).arg(&src).output().expect("gcc (.ci/run installs it)");
    assert!(out.status.success(), "gcc: {}", String::from_utf8_lossy(&out.stderr));
    docker_bin_ok(DOCKER, d, &["create", "--name", "udp", "-p", "127.0.0.1:15353:53/udp", "busybox", "/udp-echo"]);
    docker_bin_ok(DOCKER, d, &["cp", &bin.to_string_lossy(), "udp:/udp-echo"]);
    docker_bin_ok(DOCKER, d, &["start", "udp"]);
    let send = "import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(1); s.sendto(b'ping-udp', ('127.0.0.1', 15353)); print(s.recvfrom(100)[0].decode())";
    let got = wait_until(10, || {
        let out = d.netns.cmd("python3").args(["-c", send]).output().expect("python3");
        String::from_utf8_lossy(&out.stdout).trim() == "ping-udp"
    });
    assert!(got, "no UDP echo through 127.0.0.1:15353");
    docker_bin_ok(DOCKER, d, &["rm", "-f", "udp"]);
    // Nothing of the containers stays: no veth, no port rule.
    assert!(wait_until(10, || !d.netns.run_ok("ip", &["-o", "link"]).contains("veth")), "veths left");
    assert!(!nft_ruleset(d).contains("port berth0"), "port rules left: {}", nft_ruleset(d));
}

/// A UDP echo server on port 53 (busybox has none).
const UDP_ECHO: &str = r#"
#include <netinet/in.h>
#include <sys/socket.h>
int main(void) {
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(53) };
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) < 0) return 1;
    for (;;) {
        char buf[512]; struct sockaddr_in from; socklen_t len = sizeof from;
        ssize_t n = recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&from, &len);
        if (n > 0) sendto(s, buf, n, 0, (struct sockaddr *)&from, len);
    }
}
"#;

#[test]
fn names_aliases_isolation_and_published_ports_work_as_dockers_modular() {
    services_flow(&TestDaemon::modular("nsvm"));
}

#[test]
fn names_aliases_isolation_and_published_ports_work_as_dockers_monolithic() {
    services_flow(&TestDaemon::monolithic("nsvo"));
}

#[test]
fn a_sigkilled_modular_berthd_leaves_published_ports_serving_and_names_resolving_after_restart() {
    let mut d = TestDaemon::modular("nskm");
    d.import_busybox();
    docker_bin_ok(DOCKER, &d, &["network", "create", "app"]);
    docker_bin_ok(
        DOCKER,
        &d,
        &["run", "-d", "--name", "web", "--network", "app", "-p", "127.0.0.1:18090:80", "busybox", "httpd", "-f", "-p", "80", "-h", "/etc"],
    );
    let host = format!("{}\n", hostname_of(DOCKER, &d, "web"));
    assert_eq!(fetch(&d, "http://127.0.0.1:18090/hostname").as_deref(), Some(host.as_str()));
    d.kill_daemon();
    // While berthd is dead, the published port still answers.
    assert_eq!(fetch(&d, "http://127.0.0.1:18090/hostname").as_deref(), Some(host.as_str()));
    d.start();
    let out = docker_bin_ok(DOCKER, &d, &["run", "--rm", "--network", "app", "busybox", "wget", "-qO-", "http://web/hostname"]);
    assert_eq!(out, host);
    let members = docker_bin_ok(DOCKER, &d, &["network", "inspect", "-f", "{{range .Containers}}{{.Name}} {{end}}", "app"]);
    assert_eq!(members.trim(), "web");
    assert_eq!(fetch(&d, "http://127.0.0.1:18090/hostname").as_deref(), Some(host.as_str()));
    docker_bin_ok(DOCKER, &d, &["rm", "-f", "web"]);
    assert!(fetch(&d, "http://127.0.0.1:18090/hostname").is_none(), "the port is closed with its container");
}

#[test]
fn a_sigkilled_monolithic_berthd_takes_its_containers_and_the_restart_removes_their_veths_and_rules() {
    let mut d = TestDaemon::monolithic("nsko");
    d.import_busybox();
    docker_bin_ok(DOCKER, &d, &["run", "-d", "--name", "web", "-p", "127.0.0.1:18091:80", "busybox", "httpd", "-f", "-p", "80", "-h", "/etc"]);
    assert!(fetch(&d, "http://127.0.0.1:18091/hostname").is_some());
    d.kill_daemon();
    // The proxy dies with the daemon.
    assert!(wait_until(10, || fetch(&d, "http://127.0.0.1:18091/hostname").is_none()), "the port outlived a monolithic daemon");
    d.start();
    assert!(wait_until(10, || docker_bin_ok(DOCKER, &d, &["inspect", "-f", "{{.State.Running}}", "web"]).trim() == "false"));
    assert!(wait_until(10, || !d.netns.run_ok("ip", &["-o", "link"]).contains("veth")), "veth left: {}", d.netns.run_ok("ip", &["-o", "link"]));
    assert!(wait_until(10, || !nft_ruleset(&d).contains("18091")), "rule left: {}", nft_ruleset(&d));
    // And it starts again on a fresh sandbox.
    docker_bin_ok(DOCKER, &d, &["start", "web"]);
    assert!(wait_until(10, || fetch(&d, "http://127.0.0.1:18091/hostname").is_some()));
    docker_bin_ok(DOCKER, &d, &["rm", "-f", "web"]);
}

#[test]
fn a_restarted_berthd_removes_bridge_ports_no_container_records() {
    let mut d = TestDaemon::modular("nswp");
    d.import_busybox();
    docker_bin_ok(DOCKER, &d, &["run", "-d", "--name", "keep", "busybox", "sleep", "1000"]);
    // A veth on berth0 that no container records, as a start cut short by a crash leaves.
    d.netns.run_ok("ip", &["link", "add", "vethdead0", "type", "veth", "peer", "name", "vethdead1"]);
    d.netns.run_ok("ip", &["link", "set", "vethdead0", "master", "berth0"]);
    d.kill_daemon();
    d.start();
    let links = d.netns.run_ok("ip", &["-o", "link"]);
    assert!(!links.contains("vethdead0"), "{links}");
    // The running container's own veth stays, and it still has its address.
    assert_eq!(links.matches("veth").count(), 1, "{links}");
    let addr = docker_bin_ok(DOCKER, &d, &["exec", "keep", "ip", "-4", "-o", "addr", "show", "eth0"]);
    assert!(addr.contains("inet 172.17."), "{addr}");
    docker_bin_ok(DOCKER, &d, &["rm", "-f", "keep"]);
}

fn berth_client_flow(d: &TestDaemon) {
    d.import_busybox();
    d.berth_ok(&["network", "create", "--subnet", "10.44.0.0/24", "bnet"]);
    let listed = d.berth_ok(&["network", "ls", "--format", "{{.Name}} {{.Driver}}"]);
    assert!(listed.lines().any(|l| l == "bnet bridge"), "{listed}");
    d.berth_ok(&[
        "run",
        "-d",
        "--name",
        "bweb",
        "--network",
        "bnet",
        "--ip",
        "10.44.0.7",
        "--network-alias",
        "site",
        "-p",
        "127.0.0.1:18120:80",
        "busybox",
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/etc",
    ]);
    let host = d.berth_ok(&["inspect", "-f", "{{.Config.Hostname}}", "bweb"]);
    let inside = d.berth_ok(&["exec", "bweb", "ip", "-4", "-o", "addr", "show", "eth0"]);
    assert!(inside.contains("inet 10.44.0.7/24"), "{inside}");
    let out = d.berth_ok(&["run", "--rm", "--network", "bnet", "busybox", "wget", "-qO-", "http://site/hostname"]);
    assert_eq!(out, host);
    assert_eq!(fetch(d, "http://127.0.0.1:18120/hostname").as_deref(), Some(host.as_str()));
    assert_eq!(d.berth_ok(&["port", "bweb"]), "80/tcp -> 127.0.0.1:18120\n");
    let ps = d.berth_ok(&["ps", "--format", "{{.Names}} {{.Ports}}"]);
    assert_eq!(ps.trim(), "bweb 127.0.0.1:18120->80/tcp");
    d.berth_ok(&["rm", "-f", "bweb"]);
    d.berth_ok(&["network", "rm", "bnet"]);
    assert!(!d.berth_ok(&["network", "ls", "-q"]).is_empty(), "the predefined networks stay");
}

#[test]
fn the_berth_client_creates_networks_runs_on_them_and_publishes_ports_modular() {
    berth_client_flow(&TestDaemon::modular("nbcm"));
}

#[test]
fn the_berth_client_creates_networks_runs_on_them_and_publishes_ports_monolithic() {
    berth_client_flow(&TestDaemon::monolithic("nbco"));
}
