/**
 * A stand-in for systemd's notification socket: a real Unix datagram socket (Python's,
 * since Node has none) that records every message as systemd would receive it. Fds a
 * sender passes (systemd-notify's BARRIER=1 pipe) are closed on receipt, which is how
 * the manager answers a barrier — except those of the descriptor store: `FDSTORE=1`
 * keeps the descriptor under its `FDNAME` (replacing one of that name),
 * `FDSTOREREMOVE=1` closes it, and {@link FakeNotifySocket.spawn} starts a program as
 * systemd starts a service: the stored descriptors from 3 on, `LISTEN_FDS`,
 * `LISTEN_FDNAMES` and `LISTEN_PID` set.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '../helpers/wait.js';

const RECEIVER = `
import array, fcntl, json, os, signal, socket, sys, threading
# spawned programs are reaped at once: their pid leaves /proc when they exit
signal.signal(signal.SIGCHLD, signal.SIG_IGN)
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
store = {}
lock = threading.Lock()
def out(v):
    with lock:
        print(json.dumps(v), flush=True)
out("BOUND")
def spawn(req):
    # what systemd does at a start: the stored descriptors from 3 on, LISTEN_* for them
    with lock:
        names = list(store.keys())
        fds = [store[n] for n in names]
    log = os.open(req["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    pid = os.fork()
    if pid == 0:
        try:
            os.dup2(log, 1)
            os.dup2(log, 2)
            # above the range they go to, so none is overwritten on the way
            moved = [fcntl.fcntl(f, fcntl.F_DUPFD, 100 + len(fds)) for f in fds]
            for i, f in enumerate(moved):
                os.dup2(f, 3 + i, inheritable=True)
            env = dict(req["env"])
            if fds:
                env["LISTEN_FDS"] = str(len(fds))
                env["LISTEN_FDNAMES"] = ":".join(names)
                env["LISTEN_PID"] = str(os.getpid())
            os.closerange(3 + len(fds), 65536)
            os.execvpe(req["argv"][0], req["argv"], env)
        finally:
            os._exit(127)
    os.close(log)
    out({"spawned": pid, "fds": names})
def commands():
    for line in sys.stdin:
        req = json.loads(line)
        if "spawn" in req:
            spawn(req["spawn"])
        elif "reap" in req:
            try:
                os.waitpid(req["reap"], 0)
            except ChildProcessError:
                pass
threading.Thread(target=commands, daemon=True).start()
while True:
    d, anc, _, _ = s.recvmsg(65536, socket.CMSG_SPACE(253 * 4))
    fds = array.array("i")
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[: len(data) - (len(data) % 4)])
    text = d.decode("utf-8", "replace")
    v = dict(l.split("=", 1) for l in text.split("\\n") if "=" in l)
    if v.get("FDSTORE") == "1" and fds:
        name = v.get("FDNAME", "stored")
        with lock:
            old = store.pop(name, None)
            store[name] = fds[0]
        if old is not None:
            os.close(old)
        for f in fds[1:]:
            os.close(f)
    else:
        if v.get("FDSTOREREMOVE") == "1":
            with lock:
                old = store.pop(v.get("FDNAME", ""), None)
            if old is not None:
                os.close(old)
        for f in fds:
            os.close(f)
    out(text)
`;

/** Why the fake socket cannot run here (python3 or systemd-notify missing), or null. */
export function notifySocketUnavailable(): string | null {
  for (const [cmd, pkg] of [
    ['python3', 'python3'],
    ['systemd-notify', 'systemd'],
  ]) {
    const r = spawnSync('sh', ['-c', `command -v ${cmd}`]);
    if (r.status !== 0) return `${cmd} is not installed (apt-get install ${pkg})`;
  }
  return null;
}

export interface FakeNotifySocket {
  /** The socket path (NOTIFY_SOCKET). */
  path: string;
  /** Every message received, oldest first (each the datagram's text). */
  messages: string[];
  /**
   * Starts `argv` with the stored descriptors (see the module comment), its output
   * appended to `log`; resolves with its pid and the names of the descriptors passed.
   */
  spawn(
    argv: string[],
    env: NodeJS.ProcessEnv,
    log: string,
  ): Promise<{ pid: number; fds: string[] }>;
  /** Collects the exit status of a spawned program (after it exited). */
  reap(pid: number): void;
  close(): void;
}

/** Start a notification socket receiver; resolves once it is bound. */
export async function fakeNotifySocket(): Promise<FakeNotifySocket> {
  const dir = mkdtempSync(join(tmpdir(), 'tsvs-notify-'));
  const path = join(dir, 'notify.sock');
  const messages: string[] = [];
  let bound = false;
  const py: ChildProcess = spawn('python3', ['-c', RECEIVER, path], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const spawned: ((r: { pid: number; fds: string[] }) => void)[] = [];
  let buf = '';
  py.stdout!.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const m = JSON.parse(buf.slice(0, nl)) as string | { spawned: number; fds: string[] };
      buf = buf.slice(nl + 1);
      if (m === 'BOUND') bound = true;
      else if (typeof m === 'object') spawned.shift()?.({ pid: m.spawned, fds: m.fds });
      else messages.push(m);
    }
  });
  await waitFor(() => bound, { what: 'the notification socket' });
  return {
    path,
    messages,
    spawn(argv, env, log) {
      return new Promise((resolve) => {
        spawned.push(resolve);
        py.stdin!.write(JSON.stringify({ spawn: { argv, env, log } }) + '\n');
      });
    },
    reap(pid) {
      py.stdin!.write(JSON.stringify({ reap: pid }) + '\n');
    },
    close(): void {
      py.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
