/**
 * vsftpd (Debian's) as the real FTP server of the end-to-end tests: one instance per
 * real server and address family, bound to the RIP, with its own configuration file in
 * a temporary directory. Anonymous users may read and upload; passive mode uses a fixed
 * port range and active-mode data connections come from port 20, so the director's
 * FTP helper sees exactly what it would see in front of a real FTP farm.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sh, waitFor, type Lab } from './harness.js';

export const VSFTPD = '/usr/sbin/vsftpd';
export const PASV_MIN = 30000;
export const PASV_MAX = 30099;

/** Why the FTP tests cannot run here (programs missing), or null. */
export function ftpToolsMissing(): string | null {
  const missing = [VSFTPD, '/usr/bin/lftp', '/usr/bin/curl'].filter((p) => !existsSync(p));
  if (missing.length === 0 && ftpUser()) return null;
  return `FTP tests need vsftpd, lftp and curl (apt-get install vsftpd lftp curl; scripts/test.sh does): missing ${missing.join(', ') || 'the ftp user'}`;
}

/** uid/gid of vsftpd's anonymous user `ftp` (created by the Debian package). */
function ftpUser(): { uid: number; gid: number } | null {
  try {
    for (const l of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const f = l.split(':');
      if (f[0] === 'ftp') return { uid: Number(f[2]), gid: Number(f[3]) };
    }
  } catch {
    /* no passwd file */
  }
  return null;
}

export interface FtpServer {
  rs: 0 | 1;
  af: 4 | 6;
  addr: string;
  /** Anonymous root (read-only for `ftp`); `pub/` below it is writable. */
  root: string;
  pub: string;
  /** vsftpd's log: every command and reply (log_ftp_protocol). */
  log: string;
  proc: ChildProcess;
}

/**
 * Directories of one real server under `base`: `rsN/root` (anonymous root, owned by
 * root: vsftpd refuses a root the anonymous user can write), `rsN/root/pub` (owned by
 * ftp, uploads go there), `rsN/empty` (vsftpd's secure_chroot_dir). Both address
 * families of a real server share them, as one host's disk would be.
 */
function dirs(base: string, rs: 0 | 1): { root: string; pub: string; empty: string } {
  const top = join(base, `rs${rs + 1}`);
  const root = join(top, 'root');
  const pub = join(root, 'pub');
  const empty = join(top, 'empty');
  for (const d of [top, root, pub, empty]) {
    mkdirSync(d, { recursive: true });
    chmodSync(d, 0o755);
  }
  const u = ftpUser();
  if (u) chownSync(pub, u.uid, u.gid);
  return { root, pub, empty };
}

/**
 * Start vsftpd on real server `rs` for family `af`, listening on its RIP port 21, and
 * wait until it listens. `base` must be traversable by the ftp user (mode 755).
 */
export async function startVsftpd(
  lab: Lab,
  rs: 0 | 1,
  af: 4 | 6,
  base: string,
): Promise<FtpServer> {
  const { root, pub, empty } = dirs(base, rs);
  const addr = af === 4 ? lab.env.rs[rs].ip4 : lab.env.rs[rs].ip6;
  const ns = rs === 0 ? lab.ns.rs1 : lab.ns.rs2;
  const log = join(base, `rs${rs + 1}`, `vsftpd-v${af}.log`);
  const conf = join(base, `rs${rs + 1}`, `vsftpd-v${af}.conf`);
  const lines = [
    // one address per instance: IPv4 "listen", IPv6 "listen_ipv6" (never both)
    ...(af === 4
      ? ['listen=YES', `listen_address=${addr}`]
      : ['listen=NO', 'listen_ipv6=YES', `listen_address6=${addr}`]),
    'listen_port=21',
    // in the foreground, so the test owns the process
    'background=NO',
    'anonymous_enable=YES',
    'no_anon_password=YES',
    'local_enable=NO',
    'write_enable=YES',
    'anon_upload_enable=YES',
    'anon_mkdir_write_enable=YES',
    'anon_other_write_enable=YES',
    'anon_umask=022',
    `anon_root=${root}`,
    `secure_chroot_dir=${empty}`,
    'pasv_enable=YES',
    `pasv_min_port=${PASV_MIN}`,
    `pasv_max_port=${PASV_MAX}`,
    'port_enable=YES',
    'connect_from_port_20=YES',
    // the RIP, as a real server behind NAT answers: the director must rewrite it
    'pasv_addr_resolve=NO',
    // containers and namespaces: no seccomp filter, no extra namespaces of its own
    'seccomp_sandbox=NO',
    'isolate=NO',
    'isolate_network=NO',
    'ssl_enable=NO',
    'xferlog_enable=YES',
    'xferlog_std_format=NO',
    'log_ftp_protocol=YES',
    `vsftpd_log_file=${log}`,
    '',
  ];
  writeFileSync(conf, lines.join('\n'), { mode: 0o600 });
  writeFileSync(log, '');
  const proc = lab.track(
    spawn('ip', ['netns', 'exec', ns, VSFTPD, conf], { stdio: ['ignore', 'pipe', 'pipe'] }),
  );
  // vsftpd says why it refuses to run ("500 OOPS: …") on stdout/stderr
  let said = '';
  proc.stdout?.setEncoding('latin1').on('data', (d: string) => (said += d));
  proc.stderr?.setEncoding('latin1').on('data', (d: string) => (said += d));
  const want = af === 4 ? `${addr}:21` : `[${addr}]:21`;
  await waitFor(`vsftpd on ${ns} ${want}`, 10_000, async () => {
    if (proc.exitCode !== null) throw new Error(`vsftpd exited (${proc.exitCode}): ${said}`);
    const r = await sh(ns, 'ss', ['-Hltn', 'sport = :21'], { timeoutMs: 2000 });
    return r.stdout.includes(want);
  });
  return { rs, af, addr, root, pub, log, proc };
}

/** The replies vsftpd logged ("FTP response: Client "…", "text""). */
export function serverReplies(s: FtpServer): string[] {
  const out: string[] = [];
  for (const l of readFileSync(s.log, 'latin1').split('\n')) {
    const m = /FTP response: Client "[^"]*", "(.*)"$/.exec(l);
    if (m) out.push(m[1]);
  }
  return out;
}
