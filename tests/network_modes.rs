//! Networks (issue 15), seen from inside the containers: the default bridge gives each
//! container its own eth0 and address (two can bind port 80); user-defined networks are
//! their own bridges and subnets; `--network host` is the daemon's namespace (its
//! interfaces and hostname), `none` only loopback, `container:X` X's interfaces; `network
//! connect`/`disconnect` add and remove an interface live; bad input gets Docker's status and
//! a clear message with nothing half made. Each berthd runs in a network namespace of the
//! test's own. Both modes, docker CLI 28.x and 20.10.

mod common;

use common::{docker_bin_fails_saying, docker_bin_ok, wait_until, TestDaemon};

const DOCKER: &str = "/usr/local/bin/docker";
const DOCKER_20: &str = "/usr/bin/docker";

/// The links of the daemon's namespace (`ip -o link`), names only.
fn links(d: &TestDaemon) -> Vec<String> {
    d.netns.run_ok("ip", &["-o", "link"]).lines().filter_map(|l| l.split(": ").nth(1).map(|n| n.split('@').next().unwrap_or(n).to_owned())).collect()
}

fn veths(d: &TestDaemon) -> usize {
    links(d).iter().filter(|l| l.starts_with("veth")).count()
}

/// `httpd` serving the container's /etc (so `/hostname` names it).
const HTTPD: &[&str] = &["busybox", "httpd", "-f", "-p", "80", "-h", "/etc"];

fn run_web(bin: &str, d: &TestDaemon, name: &str, extra: &[&str]) -> String {
    let mut args = vec!["run", "-d", "--name", name];
    args.extend_from_slice(extra);
    args.extend_from_slice(HTTPD);
    docker_bin_ok(bin, d, &args).trim().to_owned()
}

fn ip_of(bin: &str, d: &TestDaemon, name: &str, net: &str) -> String {
    docker_bin_ok(bin, d, &["inspect", "-f", &format!("{{{{(index .NetworkSettings.Networks \"{net}\").IPAddress}}}}"), name]).trim().to_owned()
}

fn bridge_flow(d: &TestDaemon) {
    d.import_busybox();
    for (bin, tag) in [(DOCKER, "a"), (DOCKER_20, "b")] {
        // Two containers on the default bridge each bind port 80 in their own namespace.
        let (w1, w2) = (format!("w1{tag}"), format!("w2{tag}"));
        run_web(bin, d, &w1, &[]);
        run_web(bin, d, &w2, &[]);
        let (ip1, ip2) = (ip_of(bin, d, &w1, "bridge"), ip_of(bin, d, &w2, "bridge"));
        assert!(ip1.starts_with("172.17.") && ip2.starts_with("172.17.") && ip1 != ip2, "{bin}: {ip1} {ip2}");
        // The address inspect shows is the one inside, on eth0, with the gateway's route.
        let inside = docker_bin_ok(bin, d, &["exec", &w1, "sh", "-c", "ip -4 -o addr show eth0; ip route"]);
        assert!(inside.contains(&format!("inet {ip1}/16")) && inside.contains("default via 172.17.0.1 dev eth0"), "{bin}: {inside}");
        let hosts = docker_bin_ok(bin, d, &["exec", &w1, "cat", "/etc/hosts"]);
        let short = docker_bin_ok(bin, d, &["inspect", "-f", "{{.Config.Hostname}}", &w1]);
        assert!(hosts.contains(&format!("{ip1}\t{}", short.trim())), "{bin}: {hosts}");
        // Each serves its own page, to another container and to the daemon's namespace.
        let page = docker_bin_ok(bin, d, &["run", "--rm", "busybox", "wget", "-qO-", &format!("http://{ip2}/hostname")]);
        assert_eq!(page.trim(), docker_bin_ok(bin, d, &["inspect", "-f", "{{.Config.Hostname}}", &w2]).trim(), "{bin}");
        let page = d.netns.run_ok("wget", &["-qO-", &format!("http://{ip1}/hostname")]);
        assert_eq!(page.trim(), short.trim(), "{bin}");
        docker_bin_ok(bin, d, &["rm", "-f", &w1, &w2]);
    }
    // Stopped containers keep no veth; the default bridge stays.
    assert!(wait_until(10, || veths(d) == 0), "veths left: {:?}", links(d));
    assert!(links(d).contains(&"berth0".to_owned()), "{:?}", links(d));
}

#[test]
fn containers_on_the_default_bridge_have_their_own_address_and_port_80_modular() {
    bridge_flow(&TestDaemon::modular("nbrm"));
}

#[test]
fn containers_on_the_default_bridge_have_their_own_address_and_port_80_monolithic() {
    bridge_flow(&TestDaemon::monolithic("nbro"));
}

fn modes_flow(d: &TestDaemon) {
    d.import_busybox();
    for (bin, tag) in [(DOCKER, "a"), (DOCKER_20, "b")] {
        // host: the daemon namespace's interfaces and the host's name.
        let out = docker_bin_ok(bin, d, &["run", "--rm", "--network", "host", "busybox", "sh", "-c", "ls /sys/class/net; hostname"]);
        let host_name = nix::unistd::gethostname().expect("hostname").to_string_lossy().into_owned();
        assert!(out.lines().any(|l| l == "berth0") && out.lines().any(|l| l == host_name), "{bin}: {out}");
        // none: loopback only.
        let out = docker_bin_ok(bin, d, &["run", "--rm", "--network", "none", "busybox", "ls", "/sys/class/net"]);
        assert_eq!(out.split_whitespace().collect::<Vec<_>>(), ["lo"], "{bin}");
        // container:X: X's interfaces (its MAC) and its hostname.
        let x = format!("x{tag}");
        run_web(bin, d, &x, &[]);
        let mac = docker_bin_ok(bin, d, &["exec", &x, "cat", "/sys/class/net/eth0/address"]);
        let hostname = docker_bin_ok(bin, d, &["exec", &x, "hostname"]);
        let out = docker_bin_ok(
            bin,
            d,
            &[
                "run",
                "--rm",
                "--network",
                &format!("container:{x}"),
                "busybox",
                "sh",
                "-c",
                "cat /sys/class/net/eth0/address; hostname; wget -qO- http://127.0.0.1/hostname",
            ],
        );
        assert_eq!(out, format!("{mac}{hostname}{hostname}"), "{bin}");
        docker_bin_ok(bin, d, &["rm", "-f", &x]);
        // Conflicting asks are refused, naming the conflict.
        docker_bin_fails_saying(bin, d, &["create", "--network", "host", "-p", "80:80", "busybox", "true"], "port publishing");
        docker_bin_fails_saying(bin, d, &["create", "--network", "none", "--ip", "10.0.0.2", "busybox", "true"], "none");
    }
}

#[test]
fn host_none_and_container_modes_see_what_docker_shows_modular() {
    modes_flow(&TestDaemon::modular("nmdm"));
}

#[test]
fn host_none_and_container_modes_see_what_docker_shows_monolithic() {
    modes_flow(&TestDaemon::monolithic("nmdo"));
}

fn user_networks_flow(d: &TestDaemon) {
    d.import_busybox();
    for (bin, tag) in [(DOCKER, "a"), (DOCKER_20, "b")] {
        let (app, other) = (format!("app{tag}"), format!("other{tag}"));
        let subnet = if tag == "a" { "10.31.0.0/24" } else { "10.32.0.0/24" };
        docker_bin_ok(bin, d, &["network", "create", &app]);
        docker_bin_ok(bin, d, &["network", "create", "--subnet", subnet, &other]);
        let web = format!("web{tag}");
        run_web(bin, d, &web, &["--network", &app]);
        let ip = ip_of(bin, d, &web, &app);
        let inspect = docker_bin_ok(bin, d, &["network", "inspect", "-f", "{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}}", &app]);
        let (sub, gw) = inspect.trim().split_once(' ').expect("subnet and gateway");
        let sub: ipnet::IpNet = sub.parse().expect("subnet");
        assert!(sub.contains(&ip.parse::<std::net::IpAddr>().expect("ip")), "{bin}: {ip} in {sub}");
        // The network's containers, with the address the container has inside.
        let members = docker_bin_ok(bin, d, &["network", "inspect", "-f", "{{range .Containers}}{{.Name}} {{.IPv4Address}}{{end}}", &app]);
        assert_eq!(members.trim(), format!("{web} {ip}/{}", sub.prefix_len()), "{bin}");
        let page = docker_bin_ok(bin, d, &["run", "--rm", "--network", &app, "busybox", "wget", "-qO-", &format!("http://{ip}/hostname")]);
        assert!(!page.trim().is_empty(), "{bin}");
        let route = docker_bin_ok(bin, d, &["run", "--rm", "--network", &app, "busybox", "ip", "route"]);
        assert!(route.contains(&format!("default via {gw}")), "{bin}: {route}");

        // connect: a second interface appears live, on the other subnet; disconnect takes it.
        docker_bin_ok(bin, d, &["network", "connect", &other, &web]);
        let addrs = docker_bin_ok(bin, d, &["exec", &web, "ip", "-4", "-o", "addr"]);
        let prefix = &subnet[..subnet.len() - 5];
        assert!(addrs.lines().any(|l| l.contains("eth1") && l.contains(prefix)), "{bin}: {addrs}");
        docker_bin_fails_saying(bin, d, &["network", "connect", &other, &web], "already exists");
        docker_bin_ok(bin, d, &["network", "disconnect", &other, &web]);
        let addrs = docker_bin_ok(bin, d, &["exec", &web, "ip", "-4", "-o", "addr"]);
        assert!(!addrs.contains("eth1"), "{bin}: {addrs}");

        // Bad input: Docker's words, nothing half made.
        docker_bin_fails_saying(bin, d, &["network", "create", "--subnet", &format!("{prefix}.128/25"), "clash"], "overlaps");
        docker_bin_fails_saying(bin, d, &["network", "rm", &app], "active endpoints");
        docker_bin_fails_saying(bin, d, &["network", "rm", "bridge"], "pre-defined");
        docker_bin_fails_saying(bin, d, &["network", "connect", "nope", &web], "network nope not found");
        // (--pull never: the CLI takes any 404 of create for a missing image.)
        docker_bin_fails_saying(bin, d, &["run", "--rm", "--pull", "never", "--network", "nope", "busybox", "true"], "network nope not found");
        let static_ip = format!("{prefix}.9");
        docker_bin_ok(bin, d, &["run", "-d", "--name", &format!("s1{tag}"), "--network", &other, "--ip", &static_ip, "busybox", "sleep", "100"]);
        let got = docker_bin_ok(bin, d, &["exec", &format!("s1{tag}"), "ip", "-4", "-o", "addr", "show", "eth0"]);
        assert!(got.contains(&format!("{static_ip}/24")), "{bin}: {got}");
        let before = veths(d);
        docker_bin_fails_saying(
            bin,
            d,
            &["run", "-d", "--name", &format!("s2{tag}"), "--network", &other, "--ip", &static_ip, "busybox", "sleep", "100"],
            "Address already in use",
        );
        assert_eq!(veths(d), before, "{bin}: a failed start leaves no veth");
        docker_bin_fails_saying(bin, d, &["create", "--network", &other, "--ip", "10.99.0.5", "busybox", "true"], "does not belong");
        // A network whose containers are all stopped can go (only running ones have
        // endpoints, as Docker's); their next start fails naming it.
        docker_bin_ok(bin, d, &["kill", &format!("s1{tag}")]);
        assert!(wait_until(10, || docker_bin_ok(bin, d, &["network", "inspect", "-f", "{{len .Containers}}", &other]).trim() == "0"));
        docker_bin_ok(bin, d, &["network", "rm", &other]);
        docker_bin_fails_saying(bin, d, &["start", &format!("s1{tag}")], &format!("network {other} not found"));
        docker_bin_ok(bin, d, &["rm", "-f", &web, &format!("s1{tag}"), &format!("s2{tag}")]);
        docker_bin_ok(bin, d, &["network", "rm", &app]);
        let bridges: Vec<String> = links(d).into_iter().filter(|l| l.starts_with("br-")).collect();
        assert!(bridges.is_empty(), "{bin}: {bridges:?}");
    }
}

#[test]
fn user_networks_connect_disconnect_and_refuse_bad_input_modular() {
    user_networks_flow(&TestDaemon::modular("nusm"));
}

#[test]
fn user_networks_connect_disconnect_and_refuse_bad_input_monolithic() {
    user_networks_flow(&TestDaemon::monolithic("nuso"));
}
