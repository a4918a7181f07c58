//! The daily verbs through docker-py (issue 14), as a Python program drives them: update
//! (read back inside the container), stats, top, get_archive/put_archive, diff, logs with
//! since/until/tail/timestamps, rename, restart, list filters and prune. Both modes.

mod common;

use common::TestDaemon;
use std::process::Command;

/// Each check prints one line; the test compares the whole transcript.
const SCRIPT: &str = r#"import docker, io, sys, tarfile, time
c = docker.DockerClient(base_url=sys.argv[1])
ct = c.containers.run('busybox', ['sh', '-c', 'echo one; echo two; echo three; mkdir /made; exec sleep 1000'],
                      name='py1', labels={'proj': 'a'}, detach=True)
deadline = time.time() + 20
while (ct.logs().count(b'\n') < 3 or ct.exec_run(['test', '-d', '/made'])[0] != 0) and time.time() < deadline:
    time.sleep(0.05)
# update: the live limits, read inside the container's cgroup
ct.update(mem_limit='128m', cpu_period=100000, cpu_quota=50000)
rc, out = ct.exec_run(['cat', '/sys/fs/cgroup/memory/memory.limit_in_bytes', '/sys/fs/cgroup/cpu/cpu.cfs_quota_us'])
print('update', rc, out.decode().split())
# stats: one sample, memory and pids of a live container
s = ct.stats(stream=False)
print('stats', s['memory_stats']['usage'] > 0, s['pids_stats']['current'] >= 1, 'system_cpu_usage' in s['precpu_stats'] or 'cpu_usage' in s['precpu_stats'])
# top with ps options
t = ct.top(ps_args='-o pid,comm')
print('top', t['Titles'], [p[1] for p in t['Processes']])
# put_archive then get_archive: ownership and mode kept
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode='w') as tar:
    info = tarfile.TarInfo('hello.txt'); data = b'hi from py\n'
    info.size = len(data); info.mode = 0o640; info.uid = 1234; info.gid = 5678
    tar.addfile(info, io.BytesIO(data))
print('put', ct.put_archive('/tmp', buf.getvalue()))
rc, out = ct.exec_run(['stat', '-c', '%u:%g %a', '/tmp/hello.txt'])
print('inside', out.decode().strip())
stream, stat = ct.get_archive('/tmp/hello.txt')
with tarfile.open(fileobj=io.BytesIO(b''.join(stream))) as tar:
    m = tar.getmember('hello.txt')
    print('get', stat['name'], stat['size'], m.uid, m.gid, oct(m.mode), tar.extractfile(m).read())
try:
    ct.get_archive('/no/such')
except docker.errors.NotFound as e:
    print('missing', e.status_code)
# diff: what the container added (Kind 1: added, as the API numbers it)
print('diff', sorted((d['Kind'], d['Path']) for d in ct.diff() if d['Path'].startswith('/made') or d['Path'] == '/tmp/hello.txt'))
# logs: tail, timestamps, since/until by a line's own time
print('tail', ct.logs(tail=2))
stamped = ct.logs(timestamps=True).decode().splitlines()
print('stamped', [l.split(' ', 1)[1] for l in stamped])
# rename, then list filters find it by the new name only
ct.rename('py1-new')
print('names', [x.name for x in c.containers.list(all=True, filters={'name': 'py1'})])
print('label', [x.name for x in c.containers.list(all=True, filters={'label': 'proj=a'})], [x.name for x in c.containers.list(all=True, filters={'label': 'proj=b'})])
# restart: a new process
pid = c.api.inspect_container(ct.id)['State']['Pid']
ct.restart(timeout=0)
print('restart', c.api.inspect_container(ct.id)['State']['Pid'] != pid, c.api.inspect_container(ct.id)['State']['Running'])
# prune: only stopped containers, filtered by label
dead = c.containers.run('busybox', 'true', labels={'proj': 'z'}, detach=True); dead.wait()
keep = c.containers.run('busybox', 'true', labels={'proj': 'y'}, detach=True); keep.wait()
r = c.containers.prune(filters={'label': 'proj=z'})
print('prune', r['ContainersDeleted'] == [dead.id], [x.id == keep.id for x in c.containers.list(all=True, filters={'label': 'proj=y'})])
try:
    ct.update(mem_limit='1m')
except docker.errors.APIError as e:
    print('small', e.status_code, 'Minimum memory limit' in str(e))
ct.remove(force=True); keep.remove()
try:
    ct.update(mem_limit='64m')
except docker.errors.NotFound as e:
    print('removed', e.status_code)
"#;

const EXPECTED: &str = "update 0 ['134217728', '50000']
stats True True True
top ['PID', 'COMMAND'] ['sleep']
put True
inside 1234:5678 640
get hello.txt 11 1234 5678 0o640 b'hi from py\\n'
missing 404
diff [(1, '/made'), (1, '/tmp/hello.txt')]
tail b'two\\nthree\\n'
stamped ['one', 'two', 'three']
names ['py1-new']
label ['py1-new'] []
restart True True
prune True [True]
small 400 True
removed 404
";

fn docker_py_flow(d: &TestDaemon) {
    common::need(std::path::Path::new("/usr/lib/python3/dist-packages/docker").exists(), "python3-docker");
    d.import_busybox();
    let out = Command::new("/usr/bin/python3").args(["-c", SCRIPT, &d.host()]).output().expect("python3");
    assert_eq!(String::from_utf8_lossy(&out.stdout), EXPECTED, "stderr:\n{}\ndaemon log:\n{}", String::from_utf8_lossy(&out.stderr), d.log());
}

#[test]
fn docker_py_drives_the_daily_verbs_modular() {
    docker_py_flow(&TestDaemon::modular("pyv"));
}

#[test]
fn docker_py_drives_the_daily_verbs_monolithic() {
    docker_py_flow(&TestDaemon::monolithic("pyvm"));
}
