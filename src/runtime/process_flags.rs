//! runc exec's command-line flags over a process: what `berth-runtime exec` runs when it is
//! given inline arguments (the container's own process with the flags applied) or a
//! process.json (the flags applied on top), with runc's rules.

use std::path::PathBuf;

use oci_spec::runtime::{Capability, Process};

use super::RuntimeError;

/// The flags of `exec` that change the process.
#[derive(Debug, Default, Clone)]
pub struct ProcessFlags {
    /// `--tty`: the process gets a terminal.
    pub tty: bool,
    /// `--env K=V`: replaces an entry with the same key, else adds it.
    pub env: Vec<String>,
    /// `--cwd`.
    pub cwd: Option<String>,
    /// `--user uid[:gid]` (numeric).
    pub user: Option<String>,
    /// `--additional-gids`.
    pub additional_gids: Vec<u32>,
    /// `--no-new-privs`.
    pub no_new_privs: bool,
    /// `--cap NAME`: added to the bounding, effective and permitted sets.
    pub caps: Vec<String>,
}

impl ProcessFlags {
    /// `process` with the flags applied (container `id` names errors).
    pub fn apply(&self, id: &str, mut process: Process) -> Result<Process, RuntimeError> {
        let bad = |reason: String| RuntimeError::InvalidArgument { id: id.into(), reason };
        if self.tty {
            process.set_terminal(Some(true));
        }
        if !self.env.is_empty() {
            let key = |kv: &str| kv.split_once('=').map_or(kv, |(k, _)| k).to_owned();
            let mut env = process.env().clone().unwrap_or_default();
            for kv in &self.env {
                env.retain(|old| key(old) != key(kv));
                env.push(kv.clone());
            }
            process.set_env(Some(env));
        }
        if let Some(cwd) = &self.cwd {
            process.set_cwd(PathBuf::from(cwd));
        }
        if let Some(u) = &self.user {
            let (uid, gid) = match u.split_once(':') {
                Some((a, b)) => (a, Some(b)),
                None => (u.as_str(), None),
            };
            let mut user = process.user().clone();
            user.set_uid(uid.parse().map_err(|_| bad(format!("--user {u:?}: uid must be a number")))?);
            if let Some(g) = gid {
                user.set_gid(g.parse().map_err(|_| bad(format!("--user {u:?}: gid must be a number")))?);
            }
            process.set_user(user);
        }
        if !self.additional_gids.is_empty() {
            let mut user = process.user().clone();
            user.set_additional_gids(Some(self.additional_gids.clone()));
            process.set_user(user);
        }
        if self.no_new_privs {
            process.set_no_new_privileges(Some(true));
        }
        if !self.caps.is_empty() {
            let mut caps = process.capabilities().clone().unwrap_or_default();
            for name in &self.caps {
                let c: Capability = serde_json::from_value(serde_json::Value::String(name.to_ascii_uppercase()))
                    .map_err(|_| bad(format!("unknown capability {name:?}")))?;
                let add = |set: &Option<oci_spec::runtime::Capabilities>| {
                    let mut s = set.clone().unwrap_or_default();
                    s.insert(c);
                    Some(s)
                };
                let (b, e, p) = (add(caps.bounding()), add(caps.effective()), add(caps.permitted()));
                caps.set_bounding(b).set_effective(e).set_permitted(p);
            }
            process.set_capabilities(Some(caps));
        }
        Ok(process)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_flags_replace_env_by_key_and_set_identity_cwd_and_caps() {
        let mut base = Process::default();
        base.set_env(Some(vec!["PATH=/bin".into(), "A=1".into()]));
        let flags = ProcessFlags {
            tty: true,
            env: vec!["A=2".into(), "B=3".into()],
            cwd: Some("/tmp".into()),
            user: Some("1000:1001".into()),
            additional_gids: vec![5],
            no_new_privs: true,
            caps: vec!["cap_net_admin".into()],
        };
        let p = flags.apply("c", base).expect("apply");
        assert_eq!(p.env().clone().unwrap_or_default(), ["PATH=/bin", "A=2", "B=3"]);
        assert_eq!(p.terminal(), Some(true));
        assert_eq!(p.cwd(), &PathBuf::from("/tmp"));
        assert_eq!((p.user().uid(), p.user().gid(), p.user().additional_gids().clone()), (1000, 1001, Some(vec![5])));
        assert_eq!(p.no_new_privileges(), Some(true));
        let caps = p.capabilities().clone().expect("caps");
        for set in [caps.bounding(), caps.effective(), caps.permitted()] {
            assert!(set.as_ref().is_some_and(|s| s.contains(&Capability::NetAdmin)));
        }
    }

    #[test]
    fn bad_exec_flags_are_refused_by_name() {
        let e = ProcessFlags { user: Some("bob".into()), ..Default::default() }.apply("c", Process::default()).expect_err("user");
        assert!(e.to_string().contains("--user"), "{e}");
        let e = ProcessFlags { caps: vec!["CAP_FLY".into()], ..Default::default() }.apply("c", Process::default()).expect_err("cap");
        assert!(e.to_string().contains("CAP_FLY"), "{e}");
    }
}
