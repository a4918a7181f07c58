//! docker-archive interop with a real dockerd (Debian's docker.io 20.10) started on private
//! dirs: what `berth save` writes, dockerd loads and runs under the same image id; what
//! `docker save` writes, berth loads and runs.

mod common;
mod images_support;

use common::{TempDir, TestDaemon};
use images_support::*;
use std::process::{Child, Command};

/// A dockerd on a private socket and dirs, without bridge or iptables; stopped by its pid.
struct Dockerd {
    dir: TempDir,
    child: Option<Child>,
}

impl Dockerd {
    fn start() -> Dockerd {
        let bin = need("dockerd", "docker.io");
        let dir = TempDir::new("dkd");
        let log = std::fs::File::create(dir.path().join("dockerd.log")).expect("dockerd log");
        let child = Command::new(bin)
            .arg("--host")
            .arg(format!("unix://{}", dir.path().join("docker.sock").display()))
            .arg("--data-root")
            .arg(dir.path().join("root"))
            .arg("--exec-root")
            .arg(dir.path().join("exec"))
            .arg("--pidfile")
            .arg(dir.path().join("dockerd.pid"))
            .args(["--bridge=none", "--iptables=false", "--ip6tables=false", "--ip-forward=false"])
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone().expect("log fd"))
            .stderr(log)
            .spawn()
            .expect("spawn dockerd");
        let d = Dockerd { dir, child: Some(child) };
        let up = common::wait_until(30, || d.docker(&["version"]).status.success());
        assert!(up, "dockerd did not come up: {}", std::fs::read_to_string(d.dir.path().join("dockerd.log")).unwrap_or_default());
        d
    }

    fn docker(&self, args: &[&str]) -> std::process::Output {
        Command::new("/usr/bin/docker")
            .env("DOCKER_HOST", format!("unix://{}", self.dir.path().join("docker.sock").display()))
            .env("DOCKER_CONFIG", self.dir.path().join("config"))
            .args(args)
            .output()
            .expect("run docker")
    }

    fn docker_ok(&self, args: &[&str]) -> String {
        let out = self.docker(args);
        assert!(out.status.success(), "docker {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let pid = nix::unistd::Pid::from_raw(c.id() as i32);
            // SIGTERM lets dockerd stop the containerd it started; SIGKILL if it hangs.
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            if !common::wait_until(20, || matches!(c.try_wait(), Ok(Some(_)))) {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
        // Anything still running from our private dirs was started by this dockerd.
        let needle = self.dir.path().to_string_lossy().into_owned();
        if let Ok(rd) = std::fs::read_dir("/proc") {
            for e in rd.flatten() {
                let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else { continue };
                if std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| String::from_utf8_lossy(&c).contains(&needle)) {
                    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
                }
            }
        }
    }
}

#[test]
fn berth_save_loads_into_dockerd_and_docker_save_loads_into_berth() {
    let dockerd = Dockerd::start();
    let d = TestDaemon::modular("dkd");
    let tmp = TempDir::new("dkdarch");
    let l2 = layer(&[E::File("etc/.wh.group", b""), E::File("hello", b"from berth\n")]);
    let archive = write_file(tmp.path(), "in.tar", &docker_archive("interop:berth", &[busybox_layer(), l2]));
    d.berth_ok(&["load", "-i", &archive]);
    let id = d.berth_ok(&["image", "inspect", "interop:berth"]);
    let id: serde_json::Value = serde_json::from_str(&id).expect("inspect json");
    let id = id[0]["Id"].as_str().expect("id").to_owned();

    let saved = tmp.path().join("berth-saved.tar");
    d.berth_ok(&["save", "-o", &saved.to_string_lossy(), "interop:berth"]);
    assert!(dockerd.docker_ok(&["load", "-i", &saved.to_string_lossy()]).contains("Loaded image: interop:berth"));
    assert_eq!(dockerd.docker_ok(&["image", "inspect", "--format", "{{.Id}}", "interop:berth"]).trim(), id, "same image id in dockerd");
    let ran = dockerd.docker_ok(&["run", "--rm", "--network", "none", "interop:berth", "sh", "-c", "cat /hello; test -e /etc/group || echo nogroup"]);
    assert_eq!(ran, "from berth\nnogroup\n");

    // And back: dockerd's own save format (with its VERSION/json/repositories files).
    dockerd.docker_ok(&["tag", "interop:berth", "interop:docker"]);
    let dsaved = tmp.path().join("docker-saved.tar");
    dockerd.docker_ok(&["save", "-o", &dsaved.to_string_lossy(), "interop:docker"]);
    let d2 = TestDaemon::modular("dkd2");
    assert_eq!(d2.berth_ok(&["load", "-i", &dsaved.to_string_lossy()]), "Loaded image: interop:docker\n");
    assert_eq!(d2.berth_ok(&["run", "--rm", "interop:docker", "cat", "/hello"]), "from berth\n");
}
