//! The daemons' own logs: written to a file or a pipe, they are plain text (no terminal
//! colour codes), as dockerd's and containerd's are.

mod common;

use common::TestDaemon;

/// Terminal escape sequences start with ESC.
const ESC: char = '\x1b';

fn logs_are_plain(d: &TestDaemon) {
    d.import_busybox();
    d.berth_ok(&["run", "--name", "plain", "busybox", "echo", "hi"]);
    d.berth_ok(&["rm", "plain"]);
    // berthd's stderr goes to a file (TestDaemon's berthd.log).
    let log = d.log();
    assert!(log.contains("API listening"), "berthd logged: {log}");
    assert!(!log.contains(ESC), "berthd's log holds colour codes:\n{log}");
    if !d.monolithic {
        // The supervisor berthd started writes its stderr to supervisor.log.
        let path = d.exec_root().join("supervisor/supervisor.log");
        let sup = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(!sup.is_empty(), "the supervisor logged nothing");
        assert!(!sup.contains(ESC), "the supervisor's log holds colour codes:\n{sup}");
    }
}

#[test]
fn daemon_logs_sent_to_a_file_hold_no_colour_codes_modular() {
    logs_are_plain(&TestDaemon::modular("plainm"));
}

#[test]
fn daemon_logs_sent_to_a_file_hold_no_colour_codes_monolithic() {
    logs_are_plain(&TestDaemon::monolithic("plaino"));
}
