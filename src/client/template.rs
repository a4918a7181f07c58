//! `--format`: Go templates as the docker CLI runs them (the gtmpl crate), with docker's
//! functions (`json`, `join`, `split`, `upper`, `lower`, `title`, `truncate`, `pad`), its
//! `table` directive and its `json` shorthand, and values printed the way Go's `fmt` prints
//! them (`[a b]`, `map[k:v]`), not in Rust's debug form.

use crate::client::error::ClientError;
use gtmpl::{Context, Func, FuncError, Template, Value};
use gtmpl_value::Number;

/// Words that open template control structures: their actions print nothing themselves.
const CONTROL: &[&str] = &["if", "else", "end", "range", "with", "define", "template", "block", "break", "continue"];

/// A parsed `--format`.
pub struct Format {
    tmpl: Template,
    /// `table ...`: a header row, and columns aligned as docker's tabwriter aligns them.
    table: bool,
}

impl Format {
    /// Parses a list command's `--format` (`ps`, `images`, `history`, `events`, ...): the
    /// `table` directive and the `\t`/`\n` escapes docker's formatter context expands.
    /// `default_table` is what a bare `table` means.
    pub fn list(format: &str, default_table: &str) -> Result<Format, ClientError> {
        let (table, body) = match format.strip_prefix("table") {
            Some(rest) if rest.is_empty() || rest.starts_with([' ', '\t']) => {
                (true, if rest.trim().is_empty() { default_table.strip_prefix("table").unwrap_or(default_table) } else { rest })
            }
            _ if format == "json" => (false, "{{json .}}"),
            _ => (false, format),
        };
        let body = body.trim_matches(' ').replace("\\t", "\t").replace("\\n", "\n");
        Ok(Format { tmpl: parse(&body)?, table })
    }

    /// Parses `inspect -f`: the text as given (`json` for the whole object).
    pub fn inspect(format: &str) -> Result<Format, ClientError> {
        let body = if format == "json" { "{{json .}}" } else { format };
        Ok(Format { tmpl: parse(body)?, table: false })
    }

    /// Whether this is a `table` format.
    pub fn is_table(&self) -> bool {
        self.table
    }

    /// Runs the template on one item.
    pub fn render(&self, item: &serde_json::Value) -> Result<String, ClientError> {
        self.tmpl.render(&Context::from(value_of(item))).map_err(|e| ClientError::Invalid(format!("template: {e}")))
    }

    /// Renders `items` one per line; a `table` format first renders `header` (each field
    /// mapped to its column title) and aligns the tab-separated cells.
    pub fn render_all(&self, header: &serde_json::Value, items: &[serde_json::Value]) -> Result<String, ClientError> {
        let mut lines = Vec::with_capacity(items.len() + 1);
        if self.table {
            lines.push(self.render(header)?);
        }
        for it in items {
            lines.push(self.render(it)?);
        }
        if !self.table {
            return Ok(lines.into_iter().map(|l| l + "\n").collect());
        }
        Ok(tabwriter(&lines.join("\n"), 10))
    }
}

/// Go's `tabwriter.NewWriter(out, minwidth, 1, 3, ' ', 0)` as docker uses it: every
/// tab-terminated cell is padded to the widest cell of its column plus 3, at least `minwidth`.
pub fn tabwriter(text: &str, minwidth: usize) -> String {
    let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split('\t').collect()).collect();
    let mut widths: Vec<usize> = Vec::new();
    for row in &rows {
        for (i, cell) in row.iter().enumerate().take(row.len().saturating_sub(1)) {
            if widths.len() <= i {
                widths.push(0);
            }
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            out.push_str(cell);
            if i + 1 < row.len() {
                let w = (widths[i] + 3).max(minwidth);
                out.extend(std::iter::repeat_n(' ', w - cell.chars().count()));
            }
        }
        out.push('\n');
    }
    out
}

fn parse(body: &str) -> Result<Template, ClientError> {
    let mut t = Template::default();
    for (name, f) in FUNCS {
        t.add_func(name, *f);
    }
    t.parse(go_printed(body)).map_err(|e| ClientError::Invalid(format!("template parsing error: {e}")))?;
    Ok(t)
}

/// docker's template functions, and `_goprint` (see [`go_printed`]).
const FUNCS: &[(&str, Func)] = &[
    ("json", json),
    ("join", join),
    ("split", split),
    ("upper", upper),
    ("lower", lower),
    ("title", title),
    ("truncate", truncate),
    ("pad", pad),
    ("_goprint", goprint),
    ("_keys", keys),
    ("_values", values),
];

/// Pipes every printing action through `_goprint`, so what it prints reads as Go's `fmt`
/// prints it; control actions, comments and variable declarations are left alone.
fn go_printed(src: &str) -> String {
    let mut out = String::with_capacity(src.len() + 32);
    let mut rest = src;
    let mut ranges = 0;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let Some(len) = action_len(after) else {
            // Unterminated: leave it to the parser to report.
            out.push_str(&rest[open..]);
            return out;
        };
        let inner = &after[..len];
        let (lead, body, trail) = trim_markers(inner);
        let first = body.split(|c: char| c.is_whitespace() || c == '(').next().unwrap_or("");
        let prints = !(body.is_empty() || body.starts_with("/*") || CONTROL.contains(&first) || (first.starts_with('$') && declares(body)));
        out.push_str("{{");
        out.push_str(lead);
        if first == "range" {
            ranges += 1;
            out.push_str(&sorted_range(body, ranges));
        } else {
            out.push_str(body);
        }
        if prints {
            out.push_str(" | _goprint");
        }
        out.push_str(trail);
        out.push_str("}}");
        rest = &after[len + 2..];
    }
    out.push_str(rest);
    out
}

/// A `range` that visits a map's entries in key order, as Go's does (gtmpl's order is the
/// hash map's): it keeps the collection in a variable, ranges over its sorted keys
/// (`_keys`) and looks each value up; a range
/// without variables ranges over the values in key order (`_values`). `n` makes the
/// helper variables of nested ranges distinct.
fn sorted_range(body: &str, n: usize) -> String {
    let spec = body["range".len()..].trim_start();
    let Some((vars, pipe)) = spec.split_once(":=").filter(|(vars, _)| vars.trim_start().starts_with('$') && !vars.contains(['"', '(', '|'])) else {
        return format!("range _values ({spec})");
    };
    let pipe = pipe.trim();
    let vars: Vec<&str> = vars.split(',').map(str::trim).collect();
    match vars.as_slice() {
        // The collection is kept in a variable first: inside the range, dot is the element.
        [k, v] => format!("$__m{n} := {pipe}}}}}{{{{range $__i{n}, {k} := _keys $__m{n}}}}}{{{{{v} := index $__m{n} {k}"),
        [v] => format!("$__m{n} := {pipe}}}}}{{{{range $__i{n}, $__k{n} := _keys $__m{n}}}}}{{{{{v} := index $__m{n} $__k{n}"),
        _ => body.to_owned(),
    }
}

/// The length of an action's text up to its closing `}}`, skipping quoted strings.
fn action_len(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            q @ (b'"' | b'\'' | b'`') => {
                i += 1;
                while i < b.len() && b[i] != q {
                    if b[i] == b'\\' && q != b'`' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'}' if b.get(i + 1) == Some(&b'}') => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

/// Splits an action's text into its trim markers (`- `, ` -`) and its trimmed body.
fn trim_markers(inner: &str) -> (&str, &str, &str) {
    let lead_len = if inner.starts_with("- ") { 2 } else { 0 };
    let trail_len = if inner.len() >= lead_len + 2 && inner.ends_with(" -") { 2 } else { 0 };
    let body = &inner[lead_len..inner.len() - trail_len];
    let start = body.len() - body.trim_start().len();
    let end = body.trim_end().len();
    (&inner[..lead_len + start], &body[start..end.max(start)], &inner[lead_len + end.max(start)..])
}

/// Whether an action starting with a variable declares or assigns it (`$x := ...`).
fn declares(body: &str) -> bool {
    let mut words = body.split_whitespace();
    words.next();
    matches!(words.next(), Some(":=") | Some("=")) || body.split_once(":=").is_some_and(|(l, _)| !l.contains(['"', '|', '(']))
}

/// The template value of a JSON value; integers stay integers.
pub fn value_of(j: &serde_json::Value) -> Value {
    match j {
        serde_json::Value::Null => Value::Nil,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Value::from(i),
            (None, Some(u)) => Value::from(u),
            _ => Value::from(n.as_f64().unwrap_or(0.0)),
        },
        serde_json::Value::String(s) => Value::String(s.clone()),
        serde_json::Value::Array(a) => Value::Array(a.iter().map(value_of).collect()),
        serde_json::Value::Object(o) => Value::Map(o.iter().map(|(k, v)| (k.clone(), value_of(v))).collect()),
    }
}

/// The JSON of a template value (object members sorted, as Go marshals maps).
fn json_of(v: &Value) -> serde_json::Value {
    match v {
        Value::NoValue | Value::Nil | Value::Function(_) => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::String(s) => serde_json::Value::String(s.clone()),
        Value::Number(n) => number_json(n),
        Value::Array(a) => serde_json::Value::Array(a.iter().map(json_of).collect()),
        Value::Map(m) | Value::Object(m) => serde_json::Value::Object(m.iter().map(|(k, v)| (k.clone(), json_of(v))).collect()),
    }
}

fn number_json(n: &Number) -> serde_json::Value {
    if let Some(i) = n.as_i64() {
        i.into()
    } else if let Some(u) = n.as_u64() {
        u.into()
    } else {
        n.as_f64().and_then(serde_json::Number::from_f64).map(serde_json::Value::Number).unwrap_or(serde_json::Value::Null)
    }
}

/// How Go's `fmt` prints a value decoded from JSON: `[a b]`, `map[k:v]` (keys sorted),
/// `<nil>`.
fn go_fmt(v: &Value) -> String {
    match v {
        Value::NoValue => "<no value>".into(),
        Value::Nil => "<nil>".into(),
        Value::Bool(b) => b.to_string(),
        Value::String(s) => s.clone(),
        Value::Number(n) => number_json(n).to_string(),
        Value::Function(_) => "<func>".into(),
        Value::Array(a) => format!("[{}]", a.iter().map(go_fmt).collect::<Vec<_>>().join(" ")),
        Value::Map(m) | Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            format!("map[{}]", keys.iter().map(|k| format!("{k}:{}", go_fmt(&m[*k]))).collect::<Vec<_>>().join(" "))
        }
    }
}

fn arg<'a>(args: &'a [Value], i: usize, func: &str) -> Result<&'a Value, FuncError> {
    args.get(i).ok_or_else(|| FuncError::Generic(format!("{func}: missing argument {}", i + 1)))
}

fn str_arg(args: &[Value], i: usize, func: &str) -> Result<String, FuncError> {
    match arg(args, i, func)? {
        Value::String(s) => Ok(s.clone()),
        other => Err(FuncError::Generic(format!("{func}: argument {} is {}, not a string", i + 1, go_fmt(other)))),
    }
}

fn int_arg(args: &[Value], i: usize, func: &str) -> Result<i64, FuncError> {
    match arg(args, i, func)? {
        Value::Number(n) => n.as_i64().ok_or_else(|| FuncError::Generic(format!("{func}: argument {} is not an integer", i + 1))),
        other => Err(FuncError::Generic(format!("{func}: argument {} is {}, not an integer", i + 1, go_fmt(other)))),
    }
}

/// A map's keys in order (a list's indexes): what [`sorted_range`] ranges over.
fn keys(args: &[Value]) -> Result<Value, FuncError> {
    match arg(args, 0, "range")? {
        Value::Map(m) | Value::Object(m) => {
            let mut k: Vec<&String> = m.keys().collect();
            k.sort();
            Ok(Value::Array(k.into_iter().map(|k| Value::String(k.clone())).collect()))
        }
        Value::Array(a) => Ok(Value::Array((0..a.len() as i64).map(Value::from).collect())),
        Value::Nil | Value::NoValue => Ok(Value::Array(Vec::new())),
        other => Err(FuncError::Generic(format!("range can't iterate over {}", go_fmt(other)))),
    }
}

/// A map's values in key order (a list as it is).
fn values(args: &[Value]) -> Result<Value, FuncError> {
    match arg(args, 0, "range")? {
        Value::Map(m) | Value::Object(m) => {
            let mut k: Vec<&String> = m.keys().collect();
            k.sort();
            Ok(Value::Array(k.into_iter().map(|k| m[k].clone()).collect()))
        }
        Value::Nil | Value::NoValue => Ok(Value::Array(Vec::new())),
        other => Ok(other.clone()),
    }
}

fn goprint(args: &[Value]) -> Result<Value, FuncError> {
    Ok(Value::String(go_fmt(arg(args, 0, "print")?)))
}

fn json(args: &[Value]) -> Result<Value, FuncError> {
    Ok(Value::String(json_of(arg(args, 0, "json")?).to_string()))
}

fn join(args: &[Value]) -> Result<Value, FuncError> {
    let sep = str_arg(args, 1, "join")?;
    match arg(args, 0, "join")? {
        Value::Array(a) => Ok(Value::String(a.iter().map(go_fmt).collect::<Vec<_>>().join(&sep))),
        Value::Nil => Ok(Value::String(String::new())),
        other => Err(FuncError::Generic(format!("join: {} is not a list", go_fmt(other)))),
    }
}

fn split(args: &[Value]) -> Result<Value, FuncError> {
    let (s, sep) = (str_arg(args, 0, "split")?, str_arg(args, 1, "split")?);
    let parts: Vec<Value> = if sep.is_empty() {
        s.chars().map(|c| Value::String(c.to_string())).collect()
    } else {
        s.split(sep.as_str()).map(|p| Value::String(p.to_owned())).collect()
    };
    Ok(Value::Array(parts))
}

fn upper(args: &[Value]) -> Result<Value, FuncError> {
    Ok(Value::String(str_arg(args, 0, "upper")?.to_uppercase()))
}

fn lower(args: &[Value]) -> Result<Value, FuncError> {
    Ok(Value::String(str_arg(args, 0, "lower")?.to_lowercase()))
}

/// Go's `strings.Title`: the first letter of every word upper-cased.
fn title(args: &[Value]) -> Result<Value, FuncError> {
    let s = str_arg(args, 0, "title")?;
    let mut out = String::with_capacity(s.len());
    let mut start = true;
    for c in s.chars() {
        if start && c.is_alphabetic() {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        start = !(c.is_alphanumeric() || c == '_' || c == '\'');
    }
    Ok(Value::String(out))
}

/// docker's `truncate`: at most `n` bytes (whole characters here).
fn truncate(args: &[Value]) -> Result<Value, FuncError> {
    let (s, n) = (str_arg(args, 0, "truncate")?, int_arg(args, 1, "truncate")?);
    Ok(Value::String(s.chars().take(n.max(0) as usize).collect()))
}

/// docker's `pad`: `prefix` spaces before and `suffix` after a non-empty string.
fn pad(args: &[Value]) -> Result<Value, FuncError> {
    let s = str_arg(args, 0, "pad")?;
    let (pre, post) = (int_arg(args, 1, "pad")?.max(0) as usize, int_arg(args, 2, "pad")?.max(0) as usize);
    if s.is_empty() {
        return Ok(Value::String(s));
    }
    Ok(Value::String(format!("{}{s}{}", " ".repeat(pre), " ".repeat(post))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn inspect(fmt: &str, v: serde_json::Value) -> String {
        Format::inspect(fmt).and_then(|f| f.render(&v)).unwrap_or_else(|e| format!("ERR {e}"))
    }

    #[test]
    fn fields_print_as_go_prints_them() {
        let c = json!({"State": {"Running": true, "Pid": 12}, "Args": ["a", "b"], "Labels": {"b": "2", "a": "1"}, "E": null});
        assert_eq!(inspect("{{.State.Running}} {{.State.Pid}}", c.clone()), "true 12");
        assert_eq!(inspect("{{.Args}} {{.Labels}} {{.E}} {{.Nope}}", c.clone()), "[a b] map[a:1 b:2] <nil> <no value>");
        assert_eq!(inspect("{{range .Args}}<{{.}}>{{end}}", c.clone()), "<a><b>");
        // Maps are visited in key order, as Go does, with or without variables.
        let many = json!({"L": {"d": 4, "b": 2, "a": 1, "c": 3, "e": 5}, "Args": ["x", "y"]});
        assert_eq!(inspect("{{range $k, $v := .L}}{{$k}}={{$v}};{{end}}", many.clone()), "a=1;b=2;c=3;d=4;e=5;");
        assert_eq!(inspect("{{range $v := .L}}{{$v}}{{end}}|{{range .L}}{{.}}{{end}}", many.clone()), "12345|12345");
        assert_eq!(inspect("{{range $i, $a := .Args}}{{$i}}{{$a}}{{range $k, $v := $.L}}{{$k}}{{end}};{{end}}", many.clone()), "0xabcde;1yabcde;");
        assert_eq!(inspect("{{range $k, $v := .Nope}}x{{else}}none{{end}}", many), "none");
        assert_eq!(inspect("{{index .Labels \"a\"}}{{if .State.Running}} up{{else}} down{{end}}", c.clone()), "1 up");
        assert_eq!(inspect("{{$p := .State.Pid}}{{$p}}", c.clone()), "12");
        assert_eq!(inspect("{{- .State.Pid -}}  ", c.clone()), "12");
        assert_eq!(inspect("{{printf \"%s}}\" \"x\"}}", c), "x}}");
    }

    #[test]
    fn dockers_functions() {
        let c = json!({"State": {"Status": "running", "Pid": 1}, "Name": "/web", "Args": ["a", "b"]});
        assert_eq!(inspect("{{json .State}}", c.clone()), r#"{"Pid":1,"Status":"running"}"#);
        assert_eq!(inspect("{{join .Args \",\"}}|{{upper .Name}}|{{title \"hello world\"}}", c.clone()), "a,b|/WEB|Hello World");
        assert_eq!(inspect("{{lower \"AB\"}}|{{truncate .Name 3}}|{{pad .Name 1 2}}|", c.clone()), "ab|/we| /web  |");
        assert_eq!(inspect("{{index (split .Name \"w\") 1}}", c.clone()), "eb");
        assert_eq!(inspect("json", json!({"b": [1], "a": "<&>"})), r#"{"a":"<&>","b":[1]}"#);
        assert!(inspect("{{nosuchfunc .Name}}", c.clone()).starts_with("ERR template parsing error"));
        assert!(inspect("{{.Name", c).starts_with("ERR template parsing error"));
    }

    #[test]
    fn table_directive_aligns_columns_under_a_header() {
        let f = Format::list("table {{.ID}}\\t{{.Name}}", "").ok();
        let f = f.as_ref().filter(|f| f.is_table());
        let out = f.and_then(|f| f.render_all(&json!({"ID": "CONTAINER ID", "Name": "NAME"}), &[json!({"ID": "abc", "Name": "x"})]).ok());
        assert_eq!(out.as_deref(), Some("CONTAINER ID   NAME\nabc            x\n"));
        let plain = Format::list("{{.ID}}", "").and_then(|f| f.render_all(&json!({}), &[json!({"ID": "a"}), json!({"ID": "b"})])).ok();
        assert_eq!(plain.as_deref(), Some("a\nb\n"));
        let bare = Format::list("table", "table {{.ID}}").ok();
        assert!(bare.is_some_and(|f| f.is_table()));
    }
}
