//! `--change` instructions of `commit` and `import`: the Dockerfile instructions that only
//! touch an image's run config (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL,
//! USER, VOLUME, WORKDIR), applied to the config (Docker's JSON, PascalCase members) as the
//! builder would, and Docker's merge of a commit's config with the container's.

use serde_json::{Map, Value};

/// A change that is not one berth can apply.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    /// An instruction that is not allowed in a change (FROM, RUN, COPY, ...).
    #[error("{0} is not a valid change command")]
    NotAllowed(String),
    /// An allowed instruction with unusable arguments.
    #[error("dockerfile parse error on {line:?}: {reason}")]
    Invalid { line: String, reason: String },
}

/// One parsed change.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Cmd(Vec<String>),
    Entrypoint(Vec<String>),
    Env(Vec<(String, String)>),
    Expose(Vec<String>),
    Label(Vec<(String, String)>),
    OnBuild(String),
    StopSignal(String),
    User(String),
    Volume(Vec<String>),
    Workdir(String),
}

/// Parses change strings (each may hold several lines; a trailing `\` continues a line;
/// blank lines and `#` comments are skipped).
pub fn parse(changes: &[String]) -> Result<Vec<Change>, ChangeError> {
    let text = changes.join("\n");
    let mut logical = Vec::new();
    let mut cur = String::new();
    for line in text.lines() {
        match line.strip_suffix('\\') {
            Some(head) => cur.push_str(head),
            None => {
                cur.push_str(line);
                logical.push(std::mem::take(&mut cur));
            }
        }
    }
    logical.push(cur);
    logical.iter().map(|l| l.trim()).filter(|l| !l.is_empty() && !l.starts_with('#')).map(parse_line).collect()
}

fn parse_line(line: &str) -> Result<Change, ChangeError> {
    let (word, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
    let rest = rest.trim();
    let invalid = |reason: &str| ChangeError::Invalid { line: line.to_owned(), reason: reason.to_owned() };
    let instr = word.to_ascii_uppercase();
    if rest.is_empty() && instr != "CMD" && instr != "ENTRYPOINT" {
        return match instr.as_str() {
            "ENV" | "EXPOSE" | "LABEL" | "ONBUILD" | "STOPSIGNAL" | "USER" | "VOLUME" | "WORKDIR" => {
                Err(invalid(&format!("{instr} requires at least one argument")))
            }
            _ => Err(ChangeError::NotAllowed(instr)),
        };
    }
    Ok(match instr.as_str() {
        "CMD" => Change::Cmd(command(rest)),
        "ENTRYPOINT" => Change::Entrypoint(command(rest)),
        "ENV" => Change::Env(pairs(rest).map_err(|r| invalid(&r))?),
        "LABEL" => Change::Label(pairs(rest).map_err(|r| invalid(&r))?),
        "EXPOSE" => Change::Expose(
            words(rest)
                .map_err(|r| invalid(&r))?
                .into_iter()
                .map(|p| if p.contains('/') { p.to_ascii_lowercase() } else { format!("{p}/tcp") })
                .collect(),
        ),
        "VOLUME" => Change::Volume(json_array(rest).map_or_else(|| words(rest).map_err(|r| invalid(&r)), Ok)?),
        "USER" => Change::User(rest.to_owned()),
        "WORKDIR" => Change::Workdir(rest.to_owned()),
        "STOPSIGNAL" => Change::StopSignal(rest.to_owned()),
        "ONBUILD" => {
            let inner = rest.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
            if matches!(inner.as_str(), "ONBUILD" | "FROM" | "MAINTAINER") {
                return Err(invalid(&format!("{inner} isn't allowed as an ONBUILD trigger")));
            }
            Change::OnBuild(rest.to_owned())
        }
        _ => return Err(ChangeError::NotAllowed(instr)),
    })
}

/// `["a","b"]` (exec form) when the text is a JSON array of strings.
fn json_array(s: &str) -> Option<Vec<String>> {
    if !s.starts_with('[') {
        return None;
    }
    serde_json::from_str::<Vec<String>>(s).ok()
}

/// Exec form as given, anything else (shell form) run by `/bin/sh -c`, as the builder does.
fn command(s: &str) -> Vec<String> {
    if s.is_empty() {
        return Vec::new();
    }
    json_array(s).unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into(), s.to_owned()])
}

/// Splits on whitespace, honouring double and single quotes and backslash escapes.
fn words(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (Some(q), c) if c == q => quote = None,
            (Some('\''), c) => cur.push(c),
            (_, '\\') => {
                in_word = true;
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            (_, c) => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if quote.is_some() {
        return Err("unmatched quote".into());
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

/// `k=v k2="v 2"`, or the legacy `key value with spaces`.
fn pairs(s: &str) -> Result<Vec<(String, String)>, String> {
    let first = s.split_whitespace().next().unwrap_or("");
    if !first.contains('=') {
        let (k, v) = s.split_once(char::is_whitespace).ok_or("needs a value")?;
        return Ok(vec![(k.to_owned(), v.trim().to_owned())]);
    }
    words(s)?
        .into_iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
            _ => Err(format!("{w:?} is not of the form key=value")),
        })
        .collect()
}

/// Runs `f` on the object member `key` of `config` (made empty if absent or not an object).
fn with_object(config: &mut Map<String, Value>, key: &str, f: impl FnOnce(&mut Map<String, Value>)) {
    let mut m = match config.remove(key) {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    f(&mut m);
    config.insert(key.to_owned(), Value::Object(m));
}

fn strings(v: Vec<String>) -> Value {
    Value::Array(v.into_iter().map(Value::String).collect())
}

/// Applies `changes`, in order, to the run config `config`.
pub fn apply(changes: &[Change], config: &mut Map<String, Value>) {
    // As in the builder: an ENTRYPOINT resets the CMD unless a CMD was given before it.
    let mut cmd_set = false;
    for c in changes {
        match c {
            Change::Cmd(v) => {
                config.insert("Cmd".into(), strings(v.clone()));
                cmd_set = true;
            }
            Change::Entrypoint(v) => {
                config.insert("Entrypoint".into(), strings(v.clone()));
                if !cmd_set {
                    config.insert("Cmd".into(), Value::Null);
                }
            }
            Change::Env(kvs) => {
                let mut env: Vec<String> = config
                    .get("Env")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(|e| e.as_str().map(str::to_owned)).collect())
                    .unwrap_or_default();
                for (k, v) in kvs {
                    let prefix = format!("{k}=");
                    match env.iter_mut().find(|e| e.starts_with(&prefix) || *e == k) {
                        Some(e) => *e = format!("{k}={v}"),
                        None => env.push(format!("{k}={v}")),
                    }
                }
                config.insert("Env".into(), strings(env));
            }
            Change::Label(kvs) => with_object(config, "Labels", |labels| {
                for (k, v) in kvs {
                    labels.insert(k.clone(), Value::String(v.clone()));
                }
            }),
            Change::Expose(ports) => with_object(config, "ExposedPorts", |exposed| {
                for p in ports {
                    exposed.insert(p.clone(), Value::Object(Map::new()));
                }
            }),
            Change::Volume(vols) => with_object(config, "Volumes", |volumes| {
                for v in vols {
                    volumes.insert(v.clone(), Value::Object(Map::new()));
                }
            }),
            Change::OnBuild(trigger) => {
                let mut list = config.get("OnBuild").and_then(Value::as_array).cloned().unwrap_or_default();
                list.push(Value::String(trigger.clone()));
                config.insert("OnBuild".into(), Value::Array(list));
            }
            Change::StopSignal(s) => {
                config.insert("StopSignal".into(), Value::String(s.clone()));
            }
            Change::User(u) => {
                config.insert("User".into(), Value::String(u.clone()));
            }
            Change::Workdir(w) => {
                let base = config.get("WorkingDir").and_then(Value::as_str).filter(|b| !b.is_empty()).unwrap_or("/");
                let dir = if w.starts_with('/') { w.clone() } else { format!("{}/{w}", base.trim_end_matches('/')) };
                config.insert("WorkingDir".into(), Value::String(dir));
            }
        }
    }
}

fn is_empty(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        Some(Value::Object(o)) => o.is_empty(),
        Some(_) => false,
    }
}

/// Docker's merge of a commit's own config `user` with the container's `base`: what
/// `user` leaves empty comes from `base`; Env, Labels, ExposedPorts and Volumes are
/// combined (`user` wins per key); Cmd and Entrypoint come from `base` only when `user`
/// sets no Entrypoint.
pub fn merge(user: &mut Map<String, Value>, base: &Map<String, Value>) {
    if is_empty(user.get("Entrypoint")) {
        if is_empty(user.get("Cmd"))
            && let Some(c) = base.get("Cmd")
        {
            user.insert("Cmd".into(), c.clone());
        }
        if let Some(e) = base.get("Entrypoint") {
            user.insert("Entrypoint".into(), e.clone());
        }
    }
    let base_env: Vec<&str> = base.get("Env").and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    let mut env: Vec<String> =
        user.get("Env").and_then(Value::as_array).map(|a| a.iter().filter_map(|e| e.as_str().map(str::to_owned)).collect()).unwrap_or_default();
    for e in base_env {
        let key = e.split('=').next().unwrap_or(e);
        if !env.iter().any(|u| u.split('=').next() == Some(key)) {
            env.push(e.to_owned());
        }
    }
    if !env.is_empty() {
        user.insert("Env".into(), strings(env));
    }
    for key in ["Labels", "ExposedPorts", "Volumes"] {
        if let Some(Value::Object(b)) = base.get(key) {
            with_object(user, key, |m| {
                for (k, v) in b {
                    m.entry(k.clone()).or_insert_with(|| v.clone());
                }
            });
        }
    }
    for (k, v) in base {
        if is_empty(user.get(k)) && !matches!(k.as_str(), "Cmd" | "Entrypoint") {
            user.insert(k.clone(), v.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn applied(changes: &[&str], start: Value) -> Value {
        let parsed = parse(&changes.iter().map(|s| s.to_string()).collect::<Vec<_>>()).expect("parse");
        let mut m = start.as_object().cloned().unwrap_or_default();
        apply(&parsed, &mut m);
        Value::Object(m)
    }

    #[test]
    fn exec_and_shell_forms_env_labels_ports_volumes_and_workdir_apply_like_the_builder() {
        let c = applied(
            &[
                r#"CMD ["cat", "/f"]"#,
                "ENV A=1 B=\"two words\"",
                "ENV PATH /bin",
                "LABEL x=y",
                "EXPOSE 80 53/udp",
                "VOLUME /data",
                "WORKDIR /srv\nWORKDIR app",
                "USER nobody",
            ],
            json!({"Env": ["PATH=/usr/bin", "KEEP=1"]}),
        );
        assert_eq!(c["Cmd"], json!(["cat", "/f"]));
        assert_eq!(c["Env"], json!(["PATH=/bin", "KEEP=1", "A=1", "B=two words"]));
        assert_eq!(c["Labels"], json!({"x": "y"}));
        assert_eq!(c["ExposedPorts"], json!({"80/tcp": {}, "53/udp": {}}));
        assert_eq!(c["Volumes"], json!({"/data": {}}));
        assert_eq!(c["WorkingDir"], json!("/srv/app"));
        assert_eq!(c["User"], json!("nobody"));
        assert_eq!(applied(&["CMD echo hi"], json!({}))["Cmd"], json!(["/bin/sh", "-c", "echo hi"]));
        assert_eq!(applied(&["ENTRYPOINT [\"top\"]"], json!({"Cmd": ["x"]}))["Cmd"], Value::Null);
    }

    #[test]
    fn instructions_that_build_are_refused_by_name() {
        let err = parse(&["RUN rm -rf /".to_owned()]).err().map(|e| e.to_string());
        assert_eq!(err.as_deref(), Some("RUN is not a valid change command"));
        assert!(parse(&["ENV".to_owned()]).is_err());
        assert!(parse(&["ENV A=\"open".to_owned()]).is_err());
    }

    #[test]
    fn merge_fills_what_the_commit_left_empty_from_the_container() {
        let mut user = json!({"Cmd": ["new"], "Env": ["A=user"], "Labels": {"l": "user"}}).as_object().cloned().unwrap_or_default();
        let base =
            json!({"Cmd": ["old"], "Entrypoint": ["/init"], "Env": ["A=base", "B=base"], "Labels": {"l": "base", "m": "base"}, "WorkingDir": "/w"});
        merge(&mut user, base.as_object().unwrap_or(&Map::new()));
        let u = Value::Object(user);
        assert_eq!(u["Cmd"], json!(["new"]));
        assert_eq!(u["Entrypoint"], json!(["/init"]));
        assert_eq!(u["Env"], json!(["A=user", "B=base"]));
        assert_eq!(u["Labels"], json!({"l": "user", "m": "base"}));
        assert_eq!(u["WorkingDir"], json!("/w"));
    }
}
