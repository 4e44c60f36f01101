/**
 * A stand-in for systemd's notification socket: a real Unix datagram socket (Python's,
 * since Node has none) that records every message as systemd would receive it. Fds a
 * sender passes (systemd-notify's BARRIER=1 pipe) are closed on receipt, which is how
 * the manager answers a barrier.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '../helpers/wait.js';

const RECEIVER = `
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print(json.dumps("BOUND"), flush=True)
while True:
    d = s.recv(65536)
    print(json.dumps(d.decode("utf-8", "replace")), flush=True)
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
  close(): void;
}

/** Start a notification socket receiver; resolves once it is bound. */
export async function fakeNotifySocket(): Promise<FakeNotifySocket> {
  const dir = mkdtempSync(join(tmpdir(), 'tsvs-notify-'));
  const path = join(dir, 'notify.sock');
  const messages: string[] = [];
  let bound = false;
  const py: ChildProcess = spawn('python3', ['-c', RECEIVER, path], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let buf = '';
  py.stdout!.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const m = JSON.parse(buf.slice(0, nl)) as string;
      buf = buf.slice(nl + 1);
      if (m === 'BOUND') bound = true;
      else messages.push(m);
    }
  });
  await waitFor(() => bound, { what: 'the notification socket' });
  return {
    path,
    messages,
    close(): void {
      py.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
