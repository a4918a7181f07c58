//! Output formatting the way the docker CLI does it: tab-aligned tables, "5 seconds ago",
//! "1.2MB", short ids, truncated and quoted commands.

/// Renders rows like Go's `tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)` as docker uses it:
/// every column but the last is padded to max(widest cell + 3, 10).
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let ncols = header.len();
    let mut widths = vec![0usize; ncols];
    let all = std::iter::once(header.iter().map(|s| s.to_string()).collect::<Vec<_>>()).chain(rows.iter().cloned());
    let all: Vec<Vec<String>> = all.collect();
    for row in &all {
        for (i, cell) in row.iter().enumerate().take(ncols) {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in &all {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate().take(ncols) {
            if i + 1 == ncols {
                line.push_str(cell);
            } else {
                let w = (widths[i] + 3).max(10);
                line.push_str(cell);
                line.extend(std::iter::repeat_n(' ', w - cell.chars().count()));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

pub use crate::units::human_duration;

/// "5 seconds ago" for a unix timestamp, relative to `now` (unix seconds).
pub fn ago(created: i64, now: i64) -> String {
    format!("{} ago", human_duration(now - created))
}

/// Go's `%.{prec}g`: `prec` significant digits, trailing zeros dropped, exponent form when
/// the exponent is < -4 or >= prec (so 999999 bytes is "1e+03kB", exactly like docker).
pub fn go_g(v: f64, prec: usize) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let sci = format!("{:.*e}", prec.saturating_sub(1), v);
    let (mant, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let trim = |s: &str| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_owned()
        } else {
            s.to_owned()
        }
    };
    if exp < -4 || exp >= prec as i32 {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim(mant), exp.abs())
    } else {
        let decimals = (prec as i32 - 1 - exp).max(0) as usize;
        trim(&format!("{v:.decimals$}"))
    }
}

fn scaled(size: f64, base: f64, units: &[&'static str]) -> (f64, &'static str) {
    let mut size = size;
    let mut i = 0;
    while size >= base && i + 1 < units.len() {
        size /= base;
        i += 1;
    }
    (size, units.get(i).copied().unwrap_or(""))
}

/// Docker's `units.HumanSizeWithPrecision(size, 3)` (decimal units), used by `images`.
pub fn human_size(bytes: i64) -> String {
    human_size_prec(bytes, 3)
}

/// Docker's `units.HumanSizeWithPrecision(size, prec)`; `units.HumanSize` is `prec` 4
/// (`system df`).
pub fn human_size_prec(bytes: i64, prec: usize) -> String {
    let (v, unit) = scaled(bytes as f64, 1000.0, &["B", "kB", "MB", "GB", "TB", "PB"]);
    format!("{}{unit}", go_g(v, prec))
}

/// Docker's `units.BytesSize` (binary units, 4 significant digits), used by `info`.
pub fn bytes_size(bytes: i64) -> String {
    let (v, unit) = scaled(bytes as f64, 1024.0, &["B", "KiB", "MiB", "GiB", "TiB", "PiB"]);
    format!("{}{unit}", go_g(v, 4))
}

/// Docker's `formatter.Ellipsis`: at most `max` characters, the last one "…" when cut.
pub fn ellipsis(s: &str, max: usize) -> String {
    let n = s.chars().count();
    if n <= max {
        return s.to_owned();
    }
    if max == 0 {
        return String::new();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

/// Go's `strconv.Quote` for the strings the CLI shows (commands): double quotes, with
/// backslash escapes for quotes, backslashes and control characters.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The 12-character id docker shows; strips an algorithm prefix ("sha256:").
pub fn short_id(id: &str) -> String {
    let id = id.split_once(':').map(|(_, h)| h).unwrap_or(id);
    id.chars().take(12).collect()
}

/// Splits "repo:tag" (the tag is after the last ':' that follows the last '/').
pub fn split_repo_tag(reference: &str) -> (String, String) {
    let slash = reference.rfind('/').map(|i| i + 1).unwrap_or(0);
    match reference[slash..].rfind(':') {
        Some(i) => (reference[..slash + i].to_owned(), reference[slash + i + 1..].to_owned()),
        None => (reference.to_owned(), String::new()),
    }
}

/// Go's `json.Indent(dst, src, "", "    ")` on raw JSON text: keeps the daemon's member
/// order and escapes, puts every member on its own line, writes empty `{}`/`[]` compactly.
/// `depth` indents everything as if nested that deep (for elements of an outer array).
pub fn indent_json(raw: &str, depth: usize) -> String {
    let mut out = String::with_capacity(raw.len() * 2);
    let mut level = depth;
    let mut in_string = false;
    let mut escaped = false;
    let mut chars = raw.chars().peekable();
    let newline = |out: &mut String, level: usize| {
        out.push('\n');
        for _ in 0..level {
            out.push_str("    ");
        }
    };
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        match c {
            ' ' | '\t' | '\n' | '\r' => {}
            '"' => {
                in_string = true;
                out.push(c);
            }
            '{' | '[' => {
                out.push(c);
                while chars.peek().is_some_and(|c| c.is_ascii_whitespace()) {
                    chars.next();
                }
                let close = if c == '{' { '}' } else { ']' };
                if chars.peek() == Some(&close) {
                    chars.next();
                    out.push(close);
                } else {
                    level += 1;
                    newline(&mut out, level);
                }
            }
            '}' | ']' => {
                level = level.saturating_sub(1);
                newline(&mut out, level);
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, level);
            }
            ':' => out.push_str(": "),
            c => out.push(c),
        }
    }
    out
}

/// Docker's inspect output: a JSON array of the raw objects, indented with four spaces.
pub fn inspect_array(raws: &[String]) -> String {
    if raws.is_empty() {
        return "[]".into();
    }
    let items: Vec<String> = raws.iter().map(|r| format!("    {}", indent_json(r.trim(), 1))).collect();
    format!("[\n{}\n]", items.join(",\n"))
}

/// Current time as unix seconds.
pub fn now_unix() -> i64 {
    chrono::Utc::now().timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_durations_match_docker() {
        assert_eq!(human_duration(0), "Less than a second");
        assert_eq!(human_duration(1), "1 second");
        assert_eq!(human_duration(5), "5 seconds");
        assert_eq!(human_duration(60), "About a minute");
        assert_eq!(human_duration(150), "2 minutes");
        assert_eq!(human_duration(3600), "About an hour");
        assert_eq!(human_duration(3 * 3600), "3 hours");
        assert_eq!(human_duration(3 * 86400), "3 days");
        assert_eq!(human_duration(20 * 86400), "2 weeks");
        assert_eq!(human_duration(90 * 86400), "3 months");
        assert_eq!(human_duration(800 * 86400), "2 years");
        assert_eq!(ago(100, 105), "5 seconds ago");
    }

    #[test]
    fn human_sizes_match_docker() {
        assert_eq!(human_size(0), "0B");
        assert_eq!(human_size(999), "999B");
        assert_eq!(human_size(1_234_567), "1.23MB");
        assert_eq!(human_size(1_200_000), "1.2MB");
        assert_eq!(human_size(5_000_000), "5MB");
        assert_eq!(human_size(4_860_000), "4.86MB");
        assert_eq!(human_size(999_999), "1e+03kB");
        assert_eq!(human_size(2_000_000_000), "2GB");
        assert_eq!(bytes_size(8_192_000_000), "7.629GiB");
        assert_eq!(bytes_size(1024), "1KiB");
    }

    #[test]
    fn commands_are_cut_and_quoted_like_docker() {
        let c = "sh -c 'while true; do echo hi; sleep 1; done'";
        assert_eq!(go_quote(&ellipsis(c, 20)), "\"sh -c 'while true; …\"");
        assert_eq!(go_quote(&ellipsis("echo hi", 20)), "\"echo hi\"");
        assert_eq!(go_quote("a\"b"), "\"a\\\"b\"");
    }

    #[test]
    fn ids_and_references() {
        assert_eq!(short_id("sha256:0123456789abcdef0123"), "0123456789ab");
        assert_eq!(short_id("abcdef0123456789"), "abcdef012345");
        assert_eq!(split_repo_tag("busybox:latest"), ("busybox".into(), "latest".into()));
        assert_eq!(split_repo_tag("localhost:5000/app"), ("localhost:5000/app".into(), "".into()));
        assert_eq!(split_repo_tag("localhost:5000/app:v1"), ("localhost:5000/app".into(), "v1".into()));
    }

    #[test]
    fn json_is_indented_like_go_json_indent() {
        let raw = r#"{"Id":"x","Args":[],"State":{"Running":true,"Error":"a, b: {c}\"q"},"Env":["A=1","B=2"],"L":{}}"#;
        let want = "{\n    \"Id\": \"x\",\n    \"Args\": [],\n    \"State\": {\n        \"Running\": true,\n        \"Error\": \"a, b: {c}\\\"q\"\n    },\n    \"Env\": [\n        \"A=1\",\n        \"B=2\"\n    ],\n    \"L\": {}\n}";
        assert_eq!(indent_json(raw, 0), want);
        assert_eq!(inspect_array(&[]), "[]");
        assert_eq!(inspect_array(&["{\"a\":1}".into()]), "[\n    {\n        \"a\": 1\n    }\n]");
    }

    #[test]
    fn tables_are_padded_like_tabwriter() {
        let t = table(&["A", "LONGER HEADER", "C"], &[vec!["x".into(), "y".into(), "z".into()]]);
        assert_eq!(t, "A         LONGER HEADER   C\nx         y               z\n");
    }
}
