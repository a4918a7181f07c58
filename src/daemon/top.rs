//! `GET /containers/{id}/top` (`docker top`), as Docker's: the host's `ps` run with the
//! caller's arguments (`-ef` by default), its rows kept for the processes in the container's
//! cgroup, the last column (the command) whole.

use std::path::PathBuf;

use serde::Serialize;

use super::container::Status;
use super::error::DaemonError;

/// The answer: ps's column titles and the container's rows.
#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct Top {
    pub titles: Vec<String>,
    pub processes: Vec<Vec<String>>,
}

/// The `cgroup.procs` file of the container cgroup `path` (`/<parent>/<id>`): the unified
/// hierarchy's on cgroup v2, else the pids (or memory) controller's.
fn procs_file(path: &str) -> PathBuf {
    let rel = path.trim_start_matches('/');
    let base = PathBuf::from("/sys/fs/cgroup");
    if crate::runtime::cgroups::is_v2() {
        return base.join(rel).join("cgroup.procs");
    }
    ["pids", "memory", "cpu,cpuacct", "unified"]
        .iter()
        .map(|c| base.join(c).join(rel).join("cgroup.procs"))
        .find(|p| p.exists())
        .unwrap_or_else(|| base.join("pids").join(rel).join("cgroup.procs"))
}

/// Keeps the rows of `ps` output `out` whose PID is in `pids`; the command column takes the
/// rest of each line, spaces and all.
pub fn parse_ps(out: &str, pids: &[i32]) -> Result<Top, String> {
    let mut lines = out.lines();
    let titles: Vec<String> = lines.next().unwrap_or_default().split_whitespace().map(str::to_owned).collect();
    let pid_col = titles.iter().position(|t| t == "PID").ok_or("Couldn't find PID field in ps output")?;
    let mut processes = Vec::new();
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let Some(pid) = fields.get(pid_col).and_then(|p| p.parse::<i32>().ok()) else {
            return Err(format!("Unexpected pid '{}': ps output {line:?}", fields.get(pid_col).unwrap_or(&"")));
        };
        if !pids.contains(&pid) {
            continue;
        }
        let n = titles.len().max(1);
        let mut row: Vec<String> = fields.iter().take(n - 1).map(|f| (*f).to_owned()).collect();
        row.push(fields.iter().skip(n - 1).copied().collect::<Vec<_>>().join(" "));
        processes.push(row);
    }
    Ok(Top { titles, processes })
}

impl super::Daemon {
    /// `GET /containers/{id}/top?ps_args=`.
    pub async fn top(&self, name_or_id: &str, ps_args: Option<&str>) -> Result<Top, DaemonError> {
        let id = self.containers.resolve(name_or_id)?;
        let c = self.containers.get(&id)?;
        if c.state.status != Status::Running {
            return Err(DaemonError::Conflict(format!("Container {id} is not running")));
        }
        let parent = if c.host_config.cgroup_parent.is_empty() { &self.config.cgroup_parent } else { &c.host_config.cgroup_parent };
        let file = procs_file(&super::spec::cgroups_path(parent, &id));
        let procs = tokio::fs::read_to_string(&file).await.map_err(|source| DaemonError::Io { what: "read", path: file.clone(), source })?;
        let pids: Vec<i32> = procs.lines().filter_map(|l| l.trim().parse().ok()).collect();
        let args: Vec<&str> = ps_args.filter(|a| !a.trim().is_empty()).unwrap_or("-ef").split_whitespace().collect();
        let out = tokio::process::Command::new("ps")
            .args(&args)
            .stdin(std::process::Stdio::null())
            .output()
            .await
            .map_err(|e| DaemonError::Setup(format!("Error running ps: {e} (is procps installed?)")))?;
        if !out.status.success() {
            return Err(DaemonError::BadRequest(format!(
                "Error running ps {}: {}: {}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        let top = parse_ps(&String::from_utf8_lossy(&out.stdout), &pids).map_err(DaemonError::Setup)?;
        self.container_event(&c, "top", &[]);
        Ok(top)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_of_the_containers_pids_are_kept_with_the_command_whole() {
        let out = "UID PID PPID C STIME TTY TIME CMD\nroot 1 0 0 10:00 ? 00:00:01 /sbin/init\nroot 42 7 0 10:01 ? 00:00:00 sleep 1000 --x\n";
        let top = parse_ps(out, &[42]).expect("parse");
        assert_eq!(top.titles, ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]);
        assert_eq!(top.processes, [["root", "42", "7", "0", "10:01", "?", "00:00:00", "sleep 1000 --x"]]);
        assert!(parse_ps("USER COMMAND\nroot x\n", &[1]).expect_err("no pid").contains("PID field"));
    }
}
