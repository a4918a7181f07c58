//! `GET /events` (`docker events`): what happened to containers and images, in order, with
//! Docker's types, actions and attributes — create, start, health_status, exec_*, pause,
//! unpause, kill, die, stop, destroy, image tag/untag — replayed with `since`/`until`, live
//! to a reader, filtered by type, container, event, image and label; an unknown filter is
//! refused by name. Both modes, docker CLI 28.x and 20.10, and docker-py.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::{docker_bin_cmd, docker_bin_ok, TestDaemon};

const DOCKER: &str = "/usr/local/bin/docker";
const DOCKER_20: &str = "/usr/bin/docker";

/// docker-py: the destroy events between two times.
const DOCKER_PY_EVENTS: &str = r#"import docker, sys
c = docker.DockerClient(base_url=sys.argv[1])
for e in c.events(since=float(sys.argv[2]), until=float(sys.argv[3]), decode=True, filters={'event': 'destroy'}):
    print(e['Type'], e['Action'], e['Actor']['Attributes']['name'], e['status'], e['id'] == e['Actor']['ID'])
"#;

/// Now as the docker CLI sends a time: Unix seconds with nanoseconds.
fn now() -> String {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock");
    format!("{}.{:09}", t.as_secs(), t.subsec_nanos())
}

/// Whether `want` appears in `lines` in this order (other lines may come between).
fn in_order(lines: &[&str], want: &[&str]) -> bool {
    let mut it = lines.iter();
    want.iter().all(|w| it.any(|l| l == w))
}

fn inspect(d: &TestDaemon, name: &str, format: &str) -> String {
    docker_bin_ok(DOCKER, d, &["inspect", "-f", format, name]).trim().to_owned()
}

fn events_flow(d: &TestDaemon) {
    d.import_busybox();
    let t0 = now();
    docker_bin_ok(
        DOCKER,
        d,
        &["run", "-d", "--name", "ev1", "--label", "tier=db", "--health-cmd", "true", "--health-interval", "1s", "busybox", "sleep", "1000"],
    );
    assert!(common::wait_until(20, || inspect(d, "ev1", "{{.State.Health.Status}}") == "healthy"), "ev1 never became healthy");
    docker_bin_ok(DOCKER, d, &["exec", "ev1", "true"]);
    docker_bin_ok(DOCKER, d, &["pause", "ev1"]);
    docker_bin_ok(DOCKER, d, &["unpause", "ev1"]);
    docker_bin_ok(DOCKER, d, &["stop", "-t", "0", "ev1"]);
    docker_bin_ok(DOCKER, d, &["rm", "ev1"]);
    docker_bin_ok(
        DOCKER,
        d,
        &["run", "-d", "--name", "ev3", "--health-cmd", "false", "--health-retries", "1", "--health-interval", "1s", "busybox", "sleep", "1000"],
    );
    assert!(common::wait_until(20, || inspect(d, "ev3", "{{.State.Health.Status}}") == "unhealthy"), "ev3 never became unhealthy");
    docker_bin_ok(DOCKER, d, &["rm", "-f", "ev3"]);
    docker_bin_ok(DOCKER, d, &["tag", "busybox", "ev-tag:1"]);
    docker_bin_ok(DOCKER, d, &["rmi", "ev-tag:1"]);
    let t1 = now();

    for bin in [DOCKER, DOCKER_20] {
        let all = docker_bin_ok(bin, d, &["events", "--since", &t0, "--until", &t1, "--format", "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}"]);
        let lines: Vec<&str> = all.lines().collect();
        let want = [
            "container create ev1",
            "container start ev1",
            "container health_status: healthy ev1",
            "container exec_create: true ev1",
            "container exec_start: true ev1",
            "container exec_die ev1",
            "container pause ev1",
            "container unpause ev1",
            "container kill ev1",
            "container die ev1",
            "container stop ev1",
            "container destroy ev1",
            "container health_status: unhealthy ev3",
            "container destroy ev3",
            "image tag ev-tag:1",
            "image untag ev-tag:1",
        ];
        assert!(in_order(&lines, &want), "{bin}: events out of order or missing:\n{all}");

        // Filters: event (with its attributes), label, type, container.
        let die = docker_bin_ok(
            bin,
            d,
            &[
                "events",
                "--since",
                &t0,
                "--until",
                &t1,
                "--filter",
                "event=die",
                "--format",
                "{{.Actor.Attributes.name}} {{.Actor.Attributes.exitCode}} {{.Actor.Attributes.image}}",
            ],
        );
        assert_eq!(die, "ev1 137 busybox\nev3 137 busybox\n", "{bin}");
        let labelled =
            docker_bin_ok(bin, d, &["events", "--since", &t0, "--until", &t1, "--filter", "label=tier=db", "--format", "{{.Actor.Attributes.name}}"]);
        assert!(!labelled.is_empty() && labelled.lines().all(|l| l == "ev1"), "{bin}: {labelled}");
        let images = docker_bin_ok(bin, d, &["events", "--since", &t0, "--until", &t1, "--filter", "type=image", "--format", "{{.Action}}"]);
        assert_eq!(images, "tag\nuntag\n", "{bin}");
        let health = docker_bin_ok(
            bin,
            d,
            &["events", "--since", &t0, "--until", &t1, "--filter", "container=ev3", "--filter", "event=health_status", "--format", "{{.Action}}"],
        );
        assert_eq!(health, "health_status: unhealthy\n", "{bin}");
        let out = docker_bin_cmd(bin, d).args(["events", "--since", &t0, "--until", &t1, "--filter", "bogus=1"]).output().expect("docker events");
        assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("bogus"), "{bin}: {out:?}");
    }

    // Live: a reader that has printed one container's death (so it is connected) gets the
    // next container's as it happens; the stream stays open until its `until`.
    let until = format!("{}", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs() + 60);
    let mut reader = docker_bin_cmd(DOCKER, d)
        .args(["events", "--since", &now(), "--until", &until, "--filter", "event=die", "--format", "{{.Actor.Attributes.name}}"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("docker events");
    let mut lines = BufReader::new(reader.stdout.take().expect("stdout")).lines();
    docker_bin_ok(DOCKER, d, &["run", "--rm", "--name", "ev2", "busybox", "true"]);
    let first = lines.next().map(|l| l.expect("read events"));
    docker_bin_ok(DOCKER, d, &["run", "--rm", "--name", "ev4", "busybox", "true"]);
    let second = lines.next().map(|l| l.expect("read events"));
    let _ = reader.kill();
    let _ = reader.wait();
    assert_eq!((first.as_deref(), second.as_deref()), (Some("ev2"), Some("ev4")));

    // docker-py reads the same stream.
    let script = DOCKER_PY_EVENTS;
    let out = Command::new("/usr/bin/python3").args(["-c", script, &d.host(), &t0, &t1]).output().expect("python3");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "container destroy ev1 destroy True\ncontainer destroy ev3 destroy True\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn events_are_reported_in_order_filtered_and_live_modular() {
    events_flow(&TestDaemon::modular("evm"));
}

#[test]
fn events_are_reported_in_order_filtered_and_live_monolithic() {
    events_flow(&TestDaemon::monolithic("evmo"));
}
