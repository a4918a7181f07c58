//! `ps`: the processes of a container, as runc prints them (ps(1) lines of its pids).

use crate::runtime::Runtime;

/// The arguments of `ps`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// `table` or `json` (the pids).
    #[arg(short, long, default_value = "table", value_parser = ["table", "json"])]
    pub format: String,
    /// Container id.
    pub id: String,
    /// Arguments for ps(1) (default -ef).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

/// Prints the container's processes.
pub fn run(rt: &Runtime, a: &Args) -> Result<(), String> {
    let pids = rt.pids(&a.id).map_err(|e| e.to_string())?;
    if a.format == "json" {
        println!("{}", serde_json::to_string(&pids).map_err(|e| e.to_string())?);
        return Ok(());
    }
    let args: Vec<String> = if a.ps_args.is_empty() { vec!["-ef".into()] } else { a.ps_args.clone() };
    let out = std::process::Command::new("ps").args(&args).output().map_err(|e| format!("running ps: {e}"))?;
    if !out.status.success() {
        return Err(format!("ps {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()));
    }
    print!("{}", table(&String::from_utf8_lossy(&out.stdout), &pids)?);
    Ok(())
}

/// ps(1)'s header and the lines whose PID column is one of `pids`.
fn table(ps_output: &str, pids: &[i32]) -> Result<String, String> {
    let mut lines = ps_output.lines();
    let header = lines.next().unwrap_or_default();
    let col = header.split_whitespace().position(|h| h == "PID").ok_or("couldn't find PID field in ps output")?;
    let mut table = format!("{header}\n");
    for l in lines {
        if l.split_whitespace().nth(col).and_then(|p| p.parse::<i32>().ok()).is_some_and(|p| pids.contains(&p)) {
            table.push_str(l);
            table.push('\n');
        }
    }
    Ok(table)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_table_keeps_the_header_and_the_container_s_lines() {
        let ps = "UID PID PPID CMD\nroot 1 0 init\nroot 42 1 sleep\nroot 43 42 sh\n";
        assert_eq!(super::table(ps, &[42]).expect("table"), "UID PID PPID CMD\nroot 42 1 sleep\n");
        assert!(super::table("UID CMD\n", &[1]).is_err(), "no PID column");
    }
}
