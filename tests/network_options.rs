//! Network options (issue 15), seen from inside: `--internal` networks have no way out,
//! `enable_icc=false` keeps a network's containers apart, `--ipv6` networks give containers
//! IPv6 addresses they serve on, `berthd --bridge none` gives default containers loopback
//! only, network events are reported, and docker-py drives networks and published ports.
//! Each berthd runs in a network namespace of the test's own. Both modes.

mod common;

use common::{docker_bin_cmd, docker_bin_ok, TestDaemon};

const DOCKER: &str = "/usr/local/bin/docker";

fn ok(d: &TestDaemon, args: &[&str]) -> String {
    docker_bin_ok(DOCKER, d, args)
}

fn ip_of(d: &TestDaemon, name: &str, net: &str, field: &str) -> String {
    ok(d, &["inspect", "-f", &format!("{{{{(index .NetworkSettings.Networks \"{net}\").{field}}}}}"), name]).trim().to_owned()
}

/// `sh -c script` in a throwaway container on `net`.
fn run_on(d: &TestDaemon, net: &str, script: &str) -> String {
    ok(d, &["run", "--rm", "--network", net, "busybox", "sh", "-c", script])
}

fn options_flow(d: &TestDaemon) {
    d.import_busybox();
    let since = chrono::Utc::now().timestamp().to_string();
    // internal: no default route, nothing beyond its own bridge.
    ok(d, &["network", "create", "--internal", "inner"]);
    ok(d, &["run", "-d", "--name", "outside", "busybox", "httpd", "-f", "-p", "80", "-h", "/etc"]);
    let outside = ip_of(d, "outside", "bridge", "IPAddress");
    let out = run_on(d, "inner", &format!("ip route | grep -c default; timeout 3 wget -qO- http://{outside}/hostname || echo unreachable"));
    assert_eq!(out, "0\nunreachable\n");
    // icc off: two containers of one network cannot talk; with icc they can.
    ok(d, &["network", "create", "-o", "com.docker.network.bridge.enable_icc=false", "apart"]);
    ok(d, &["run", "-d", "--name", "a1", "--network", "apart", "busybox", "httpd", "-f", "-p", "80", "-h", "/etc"]);
    let a1 = ip_of(d, "a1", "apart", "IPAddress");
    assert_eq!(run_on(d, "apart", &format!("timeout 3 wget -qO- http://{a1}/hostname || echo unreachable")), "unreachable\n");
    ok(d, &["network", "create", "together"]);
    ok(d, &["run", "-d", "--name", "t1", "--network", "together", "busybox", "httpd", "-f", "-p", "80", "-h", "/etc"]);
    let t1 = ip_of(d, "t1", "together", "IPAddress");
    assert_ne!(run_on(d, "together", &format!("timeout 3 wget -qO- http://{t1}/hostname || echo unreachable")), "unreachable\n");
    // IPv6: the container's global address, on eth0, and a page served over it.
    ok(d, &["network", "create", "--ipv6", "--subnet", "fd00:b7:1::/64", "six"]);
    ok(d, &["run", "-d", "--name", "v6", "--network", "six", "busybox", "httpd", "-f", "-p", "80", "-h", "/etc"]);
    let v6 = ip_of(d, "v6", "six", "GlobalIPv6Address");
    assert_eq!(v6, "fd00:b7:1::2");
    let inside = ok(d, &["exec", "v6", "ip", "-6", "-o", "addr", "show", "eth0"]);
    assert!(inside.contains("inet6 fd00:b7:1::2/64"), "{inside}");
    let page = run_on(d, "six", &format!("wget -qO- http://[{v6}]/hostname"));
    assert_eq!(page.trim(), ok(d, &["inspect", "-f", "{{.Config.Hostname}}", "v6"]).trim());
    ok(d, &["network", "connect", "together", "v6"]);
    ok(d, &["network", "disconnect", "together", "v6"]);
    ok(d, &["rm", "-f", "outside", "a1", "t1", "v6"]);
    ok(d, &["network", "rm", "inner", "apart", "together", "six"]);
    // Docker's network events, in order.
    let until = (chrono::Utc::now().timestamp() + 1).to_string();
    let events =
        ok(d, &["events", "--since", &since, "--until", &until, "--filter", "type=network", "--filter", "network=six", "--format", "{{.Action}}"]);
    // v6 starts on it, a throwaway container comes and goes, v6 is removed.
    let expected = ["create", "connect", "connect", "disconnect", "disconnect", "destroy"];
    assert_eq!(events.split_whitespace().collect::<Vec<_>>(), expected, "{events}");
    // t1 starts on it, a throwaway container comes and goes, v6 is connected and
    // disconnected, t1 is removed.
    let events = ok(d, &["events", "--since", &since, "--until", &until, "--filter", "network=together", "--format", "{{.Action}}"]);
    let expected = ["create", "connect", "connect", "disconnect", "connect", "disconnect", "disconnect", "destroy"];
    assert_eq!(events.split_whitespace().collect::<Vec<_>>(), expected, "{events}");
}

#[test]
fn internal_icc_ipv6_networks_and_events_work_as_dockers_modular() {
    options_flow(&TestDaemon::modular("nopm"));
}

#[test]
fn internal_icc_ipv6_networks_and_events_work_as_dockers_monolithic() {
    options_flow(&TestDaemon::monolithic("nopo"));
}

#[test]
fn without_a_default_bridge_containers_get_loopback_only_and_bridge_is_not_found() {
    let d = TestDaemon::with_args("nobr", false, &["--bridge", "none"]);
    d.import_busybox();
    let nets = ok(&d, &["network", "ls", "--format", "{{.Name}}"]);
    assert_eq!(nets.split_whitespace().collect::<Vec<_>>(), ["host", "none"]);
    assert_eq!(ok(&d, &["run", "--rm", "busybox", "ls", "/sys/class/net"]).trim(), "lo");
    let out = docker_bin_cmd(DOCKER, &d).args(["run", "--rm", "--pull", "never", "--network", "bridge", "busybox", "true"]).output().expect("docker");
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("not found"), "{out:?}");
    assert!(!d.netns.run_ok("ip", &["-o", "link"]).contains("berth0"));
    // User-defined networks still work.
    ok(&d, &["network", "create", "app"]);
    assert!(ok(&d, &["run", "--rm", "--network", "app", "busybox", "ip", "-o", "addr", "show", "eth0"]).contains("inet 172."));
    ok(&d, &["network", "rm", "app"]);
}

/// docker-py: networks, connect with an alias, a published port read back, removal.
const SCRIPT: &str = r#"import docker, sys, urllib.request
c = docker.DockerClient(base_url=sys.argv[1])
net = c.networks.create('pynet', driver='bridge', labels={'k': 'v'})
print('net', net.name, net.attrs['Driver'], net.attrs['Labels'])
web = c.containers.run('busybox', ['httpd', '-f', '-p', '80', '-h', '/etc'], name='pyweb', detach=True,
                       network='pynet', ports={'80/tcp': ('127.0.0.1', 18110)})
web.reload()
print('ports', web.ports)
print('page', urllib.request.urlopen('http://127.0.0.1:18110/hostname', timeout=5).read().decode().strip() == web.attrs['Config']['Hostname'])
out = c.containers.run('busybox', ['wget', '-qO-', 'http://pyweb/hostname'], network='pynet', remove=True)
print('by name', out.decode().strip() == web.attrs['Config']['Hostname'])
other = c.networks.create('pyother')
other.connect(web, aliases=['alias1'])
out = c.containers.run('busybox', ['wget', '-qO-', 'http://alias1/hostname'], network='pyother', remove=True)
print('by alias', out.decode().strip() == web.attrs['Config']['Hostname'])
other.reload()
print('members', [x.name for x in other.containers])
print('listed', [n.name for n in c.networks.list(names=['pynet'])])
try:
    net.remove()
except docker.errors.APIError as e:
    print('busy', e.status_code)
web.remove(force=True)
net.remove()
other.remove()
try:
    c.networks.get('pynet')
except docker.errors.NotFound as e:
    print('gone', e.status_code)
"#;

const EXPECTED: &str = "net pynet bridge {'k': 'v'}
ports {'80/tcp': [{'HostIp': '127.0.0.1', 'HostPort': '18110'}]}
page True
by name True
by alias True
members ['pyweb']
listed ['pynet']
busy 403
gone 404
";

fn docker_py_flow(d: &TestDaemon) {
    common::need(std::path::Path::new("/usr/lib/python3/dist-packages/docker").exists(), "python3-docker");
    d.import_busybox();
    // In the daemon's namespace, so that 127.0.0.1:18110 is the published port.
    let out = d.netns.cmd("/usr/bin/python3").args(["-c", SCRIPT, &d.host()]).output().expect("python3");
    assert_eq!(String::from_utf8_lossy(&out.stdout), EXPECTED, "stderr:\n{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn docker_py_drives_networks_and_published_ports_modular() {
    docker_py_flow(&TestDaemon::modular("npym"));
}

#[test]
fn docker_py_drives_networks_and_published_ports_monolithic() {
    docker_py_flow(&TestDaemon::monolithic("npyo"));
}

fn addressing_flow(d: &TestDaemon) {
    d.import_busybox();
    ok(
        d,
        &[
            "network",
            "create",
            "-o",
            "com.docker.network.driver.mtu=1400",
            "--subnet",
            "10.55.0.0/16",
            "--ip-range",
            "10.55.7.0/24",
            "--ipv6",
            "--subnet",
            "fd00:55::/64",
            "m",
        ],
    );
    let script = "cat /sys/class/net/eth0/mtu /sys/class/net/eth0/address; ip -4 -o addr show eth0; ip -6 -o addr show eth0 scope global";
    // docker 28 sends a per-network MAC only to API 1.44 daemons; 20.10 sends Config.MacAddress.
    let out = docker_bin_ok(
        "/usr/bin/docker",
        d,
        &["run", "--rm", "--network", "m", "--mac-address", "02:42:0a:37:00:99", "--ip6", "fd00:55::99", "busybox", "sh", "-c", script],
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[..2], ["1400", "02:42:0a:37:00:99"], "{out}");
    assert!(lines[2].contains("inet 10.55.7."), "a dynamic address from the --ip-range: {out}");
    assert!(lines[3].contains("inet6 fd00:55::99/64"), "{out}");
    ok(d, &["network", "rm", "m"]);
}

#[test]
fn mtu_ip_range_mac_address_and_static_ipv6_are_what_the_container_has_modular() {
    addressing_flow(&TestDaemon::modular("naddm"));
}

#[test]
fn mtu_ip_range_mac_address_and_static_ipv6_are_what_the_container_has_monolithic() {
    addressing_flow(&TestDaemon::monolithic("naddo"));
}

/// berthd's network flags as a container sees them: `--bip` is its subnet and gateway,
/// `--mtu` its eth0's MTU, `--icc=false` keeps the default bridge's containers apart;
/// `--ip-forward` and `--ip-masq` are the namespace's forwarding switch and its
/// masquerading rule. Also, on a user network: `--dns-search`/`--dns-option` with the
/// embedded server, and the `bridge.name` option naming the Linux bridge.
fn daemon_flags_flow(monolithic: bool, tag: &str) {
    // The modular daemon forwards and masquerades (Docker's defaults), the monolithic one
    // is told not to.
    let switches: &[&str] = if monolithic { &["--ip-forward=false", "--ip-masq=false"] } else { &[] };
    let mut args = vec!["--bip", "10.123.0.1/24", "--mtu", "1400", "--icc=false"];
    args.extend_from_slice(switches);
    let mut d = TestDaemon::unstarted(tag, monolithic);
    // A new namespace inherits the host's IPv4 forwarding switch: off in the test's own
    // namespace before berthd starts, whatever the host's.
    d.netns.run_ok("sh", &["-c", "echo 0 > /proc/sys/net/ipv4/ip_forward"]);
    d.start_with(&args);
    d.import_busybox();
    let inside = ok(&d, &["run", "--rm", "busybox", "sh", "-c", "ip -4 -o addr show eth0; ip route | grep ^default; cat /sys/class/net/eth0/mtu"]);
    let lines: Vec<&str> = inside.lines().collect();
    assert!(lines[0].contains("inet 10.123.0.2/24"), "{inside}");
    assert!(lines[1].starts_with("default via 10.123.0.1 dev eth0"), "{inside}");
    assert_eq!(lines[2], "1400", "{inside}");
    // icc off on the default bridge: a page one container serves is unreachable from another.
    ok(&d, &["run", "-d", "--name", "served", "busybox", "httpd", "-f", "-p", "80", "-h", "/etc"]);
    let served = ip_of(&d, "served", "bridge", "IPAddress");
    let got = ok(&d, &["run", "--rm", "busybox", "sh", "-c", &format!("timeout 3 wget -qO- http://{served}/hostname || echo unreachable")]);
    assert_eq!(got, "unreachable\n");
    // From the namespace's own side of the bridge the page is there.
    assert_eq!(
        d.netns.run_ok("curl", &["-s", "--max-time", "5", &format!("http://{served}/hostname")]).trim(),
        ok(&d, &["inspect", "-f", "{{.Config.Hostname}}", "served"]).trim()
    );
    let forward = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").ok();
    let ns_forward = d.netns.run_ok("cat", &["/proc/sys/net/ipv4/ip_forward"]);
    assert_eq!(ns_forward.trim(), if monolithic { "0" } else { "1" }, "--ip-forward turns it on, =false leaves it off");
    assert_eq!(std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").ok(), forward, "the host's switch is untouched");
    let rules = d.netns.run_ok("nft", &["list", "ruleset"]);
    assert_eq!(rules.contains("masquerade"), !monolithic, "{rules}");
    // A user network named by bridge.name, with the embedded server's resolv.conf.
    ok(&d, &["network", "create", "-o", "com.docker.network.bridge.name=br-named", "named"]);
    ok(
        &d,
        &[
            "run",
            "-d",
            "--name",
            "member",
            "--network",
            "named",
            "--dns-search",
            "example.test",
            "--dns-option",
            "ndots:3",
            "busybox",
            "sleep",
            "600",
        ],
    );
    assert_eq!(ok(&d, &["exec", "member", "cat", "/etc/resolv.conf"]), "nameserver 127.0.0.11\nsearch example.test\noptions ndots:3\n");
    let ports = d.netns.run_ok("ip", &["-o", "link", "show", "master", "br-named"]);
    assert_eq!(ports.lines().count(), 1, "the member's veth is on br-named: {ports}");
    ok(&d, &["rm", "-f", "served", "member"]);
    ok(&d, &["network", "rm", "named"]);
    assert!(!d.netns.run_ok("ip", &["-o", "link"]).contains("br-named"));
}

#[test]
fn daemon_network_flags_and_bridge_name_are_what_the_containers_have_modular() {
    daemon_flags_flow(false, "nflm");
}

#[test]
fn daemon_network_flags_and_bridge_name_are_what_the_containers_have_monolithic() {
    daemon_flags_flow(true, "nflo");
}
