/**
 * FTP through the NAT director (issue 6): real vsftpd on both real servers behind a NAT
 * service on VIP:21, real clients (lftp, curl) in the client namespace, the real daemon
 * with its FTP helper in between.
 *
 * - Passive (PASV, EPSV) and active (PORT, EPRT) mode, IPv4 and IPv6: 5 MiB up and down
 *   byte-exact (sha256), several transfers per control session. A PASV reply names the
 *   RIP (`10,201,2,11`, 11 characters) and the client must see the VIP (`10,201,3,100`,
 *   12), so every later segment of that control connection needs its seq/ack adjusted;
 *   several PASV per session make the difference grow. An EPSV reply carries no address.
 * - The data connections in the connection table: passive ones created with client
 *   port 0 (NO_CPORT) in LISTEN before the client connects, active ones from RIP:20 in
 *   LISTEN before the server connects; their controller, the control connection, is kept
 *   ("expire later", 60 s) while it controls one and goes once it controls none.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, configure, e2eUnavailable, waitFor, type Daemon } from './harness.js';
import { FtpProbe } from './ftp-probe.js';
import {
  PASV_MAX,
  PASV_MIN,
  ftpToolsMissing,
  serverReplies,
  startVsftpd,
  type FtpServer,
} from './ftp-server.js';
import type { ConnEntry } from '../../src/control/model.js';
import { CONN_F_NFCT, CONN_F_NO_CPORT } from '../../src/engine/constants.js';

const skip = e2eUnavailable() ?? ftpToolsMissing();

const BLOB_BYTES = 5 * 1024 * 1024;
/** Per FTP client run: a broken data path fails the run well before the suite's limit. */
const SESSION_MS = 60_000;

/** A promise with a time limit (the control client has none of its own). */
function timed<T>(what: string, p: Promise<T>, ms = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

/** Anonymous login (vsftpd asks no password: no_anon_password), binary type. */
async function login(p: FtpProbe): Promise<void> {
  const r = await p.cmd('USER anonymous');
  if (r.startsWith('331')) await p.cmd('PASS tsvs@', '230');
  else assert.match(r, /^230/);
  await p.cmd('TYPE I', '200');
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const connKey = (c: ConnEntry): string =>
  `${c.caddr}|${c.cport}|${c.vaddr}|${c.vport}|${c.daddr}|${c.dport}`;

/** What one FTP client run did, as seen on the client and in the connection table. */
interface SessionResult {
  /** The client's protocol trace: the commands it sent and the replies it got. */
  sent: string[];
  received: string[];
  /** Connections that appeared during the run. */
  control: ConnEntry[];
  data: ConnEntry[];
  /** The real server that had the session (the control connection's). */
  server: FtpServer;
}

describe('e2e FTP through the NAT director', { skip: skip ?? false, timeout: 150_000 }, () => {
  let lab: Lab;
  let d: Daemon;
  let base: string;
  let blob: Buffer;
  let blobHash: string;
  let blobFile: string;
  let outDir: string;
  const servers: FtpServer[] = [];
  let vip4: string;
  let vip6: string;

  /** A control call with a time limit; a failure says how the daemon is. */
  const call = async <T>(what: string, p: Promise<T>): Promise<T> => {
    try {
      return await timed(what, p);
    } catch (e) {
      const how = d.proc.exitCode ?? d.proc.signalCode ?? 'running';
      throw new Error(`${what}: ${(e as Error).message}; daemon ${how}:\n${d.log.join('\n')}`);
    }
  };
  const conns = (): Promise<ConnEntry[]> =>
    call('listConnections', d.client.call({ cmd: 'listConnections' }));

  const serverOf = (c: ConnEntry): FtpServer => {
    const s = servers.find((x) => x.addr === c.daddr);
    assert.ok(s, `no FTP server at ${c.daddr}`);
    return s;
  };

  before(async () => {
    lab = Lab.up('e2eftp');
    vip4 = lab.env.vip4;
    vip6 = lab.env.vip6;
    // vsftpd changes to the anonymous root as the ftp user: every directory on the
    // way must be traversable (the lab's own directory is 0700)
    base = mkdtempSync(join(tmpdir(), 'tsvs-ftp-'));
    chmodSync(base, 0o755);
    outDir = join(base, 'client');
    mkdirSync(outDir);
    blob = randomBytes(BLOB_BYTES);
    blobHash = sha256(blob);
    blobFile = join(base, 'blob');
    writeFileSync(blobFile, blob);
    for (const rs of [0, 1] as const) {
      for (const af of [4, 6] as const) servers.push(await startVsftpd(lab, rs, af, base));
      // what clients download: world-readable (vsftpd's anon_world_readable_only)
      writeFileSync(join(servers[servers.length - 1].pub, 'blob'), blob, { mode: 0o644 });
    }
    d = await lab.daemon();
    assert.ok(
      d.log.some((l) => l.includes('FTP helper on port(s) 21')),
      `the daemon registers its FTP helper: ${d.log.join(' | ')}`,
    );
    await configure(
      d.client,
      { af: 4, protocol: 6, addr: vip4, port: 21, scheduler: 'rr' },
      lab.env.rs.map((r) => ({ addr: r.ip4, port: 21, fwd: 'masq' as const, weight: 1 })),
    );
    await configure(
      d.client,
      { af: 6, protocol: 6, addr: vip6, port: 21, scheduler: 'wlc' },
      lab.env.rs.map((r) => ({ addr: r.ip6, port: 21, fwd: 'masq' as const, weight: 1 })),
    );
  });

  after(async () => {
    await lab?.down();
    if (base) rmSync(base, { recursive: true, force: true });
  });

  /** The VIP:21 service's byte counters (data connections count for its dests). */
  const bytes = async (af: 4 | 6): Promise<{ inbytes: number; outbytes: number }> => {
    const svc = await call(
      'getService',
      d.client.call({
        cmd: 'getService',
        service: { af, protocol: 6, addr: af === 4 ? vip4 : vip6, port: 21 },
      }),
    );
    return svc.stats;
  };

  /**
   * Before/after snapshot of the connection table around one client run, and proof
   * that the files went through the director: the service counted at least `up` bytes
   * from the client and `down` bytes to it.
   */
  async function observe(
    af: 4 | 6,
    up: number,
    down: number,
    run: () => Promise<{ sent: string[]; received: string[] }>,
  ) {
    const before0 = new Set((await conns()).map(connKey));
    const b0 = await bytes(af);
    const trace = await run();
    const b1 = await bytes(af);
    assert.ok(b1.inbytes - b0.inbytes >= up, `in through the director: ${b1.inbytes - b0.inbytes}`);
    assert.ok(
      b1.outbytes - b0.outbytes >= down,
      `out through the director: ${b1.outbytes - b0.outbytes}`,
    );
    // the last FIN/ACKs may still be on their way when the client exits
    let fresh: ConnEntry[] = [];
    await waitFor('the session to close', 5000, async () => {
      fresh = (await conns()).filter((c) => !before0.has(connKey(c)));
      return fresh.every((c) => c.state === 'TIME_WAIT');
    }).catch(() => undefined);
    const control = fresh.filter((c) => c.vport === 21);
    assert.equal(control.length, 1, `one control connection: ${JSON.stringify(fresh)}`);
    const data = fresh.filter((c) => c.vport !== 21);
    return { ...trace, control, data, server: serverOf(control[0]) };
  }

  /**
   * lftp, one control session: two 5 MiB uploads, two 5 MiB downloads (one of them a
   * file just uploaded) and a listing, so five data connections.
   */
  async function lftpSession(
    tag: string,
    af: 4 | 6,
    passive: boolean,
    epsv: boolean,
  ): Promise<SessionResult> {
    const host = af === 4 ? vip4 : `[${vip6}]`;
    const script = [
      'set cmd:fail-exit yes',
      // no retries: a broken data path must fail the run, not be papered over
      'set net:max-retries 1',
      'set net:timeout 10',
      'set net:reconnect-interval-base 1',
      'set xfer:clobber on',
      'set ftp:use-site-utime no',
      'set ftp:use-site-utime2 no',
      // use the address of the 227 reply as it arrives (the VIP after the rewrite)
      'set ftp:fix-pasv-address no',
      'set ftp:ignore-pasv-address no',
      `set ftp:passive-mode ${passive ? 'on' : 'off'}`,
      `set ftp:prefer-epsv ${epsv ? 'yes' : 'no'}`,
      `open -u anonymous,tsvs@ ftp://${host}`,
      `put ${blobFile} -o pub/${tag}-1`,
      `put ${blobFile} -o pub/${tag}-2`,
      `get pub/blob -o ${join(outDir, `${tag}-blob`)}`,
      `get pub/${tag}-1 -o ${join(outDir, `${tag}-1`)}`,
      'cls -1 pub',
    ].join('; ');
    let out = '';
    const s = await observe(af, 2 * BLOB_BYTES, 2 * BLOB_BYTES, async () => {
      const r = await lab.client('lftp', ['-d', '-c', script], { timeoutMs: SESSION_MS });
      out = r.stdout + r.stderr;
      assert.equal(r.code, 0, `lftp failed (${r.code}):\n${out.slice(-3000)}\n${d.log.join('\n')}`);
      const lines = out.split('\n');
      return {
        sent: lines.filter((l) => l.startsWith('---> ')).map((l) => l.slice(5).trim()),
        received: lines.filter((l) => l.startsWith('<--- ')).map((l) => l.slice(5).trim()),
      };
    });
    // cls prints the names with their directory
    const names = out.split('\n').map((l) => l.trim().replace(/^pub\//, ''));
    assert.ok(
      names.includes(`${tag}-1`) && names.includes(`${tag}-2`),
      `the listing arrived:\n${out.slice(-3000)}`,
    );
    checkFiles(tag, s.server, [`${tag}-blob`, `${tag}-1`], [`${tag}-1`, `${tag}-2`]);
    return s;
  }

  /** Downloads (client side) and uploads (server side) are the blob, byte for byte. */
  function checkFiles(tag: string, server: FtpServer, got: string[], put: string[]): void {
    for (const f of got) {
      const b = readFileSync(join(outDir, f));
      assert.equal(b.length, BLOB_BYTES, `${f}: length`);
      assert.equal(sha256(b), blobHash, `${f}: content`);
    }
    for (const f of put) {
      const b = readFileSync(join(server.pub, f));
      assert.equal(b.length, BLOB_BYTES, `${f} on ${server.addr}: length`);
      assert.equal(sha256(b), blobHash, `${f} on ${server.addr}: content`);
      // the other real server never saw this session
      const other = servers.find((x) => x.rs !== server.rs && x.af === server.af)!;
      assert.ok(!existsSync(join(other.pub, f)), `${f} only on ${server.addr} (${tag})`);
    }
  }

  /** Data connections of a session: one per data command, tied to its control conn. */
  function checkDataConns(s: SessionResult, kind: 'passive' | 'active'): void {
    const ctl = s.control[0];
    const dataCmds = s.sent.filter((l) => /^(PASV|EPSV|PORT|EPRT)\b/i.test(l));
    assert.ok(dataCmds.length >= 5, `several data connections: ${dataCmds.join(', ')}`);
    assert.equal(s.data.length, dataCmds.length, JSON.stringify(s.data, null, 1));
    for (const c of s.data) {
      const what = JSON.stringify(c);
      assert.equal(c.protocol, 6, what);
      assert.equal(c.caddr, ctl.caddr, what);
      assert.equal(c.vaddr, ctl.vaddr, what);
      assert.equal(c.daddr, ctl.daddr, what);
      assert.notEqual(c.cport, 0, `the client's port was filled in: ${what}`);
      assert.equal(c.flags & CONN_F_NO_CPORT, 0, what);
      assert.equal(c.flags & CONN_F_NFCT, CONN_F_NFCT, what);
      if (kind === 'passive') {
        // vport = the announced (real server's) port, the client connected to VIP:port
        assert.equal(c.vport, c.dport, what);
        assert.ok(c.dport >= PASV_MIN && c.dport <= PASV_MAX, what);
      } else {
        // from RIP:20, seen by the client as VIP:20
        assert.equal(c.vport, 20, what);
        assert.equal(c.dport, 20, what);
      }
      // closed cleanly by both ends
      assert.equal(c.state, 'TIME_WAIT', what);
    }
  }

  /** IPv4 PASV: the client saw the VIP where the server said its RIP. */
  function checkPasvRewrite(s: SessionResult): void {
    const seen = s.received.filter((l) => l.startsWith('227 '));
    assert.ok(seen.length >= 5, `227 replies: ${seen.join(' / ')}`);
    const said = serverReplies(s.server).filter((l) => l.startsWith('227 '));
    const vipText = vip4.replace(/\./g, ',');
    const ripText = s.server.addr.replace(/\./g, ',');
    assert.notEqual(vipText.length, ripText.length, 'the rewrite changes the length');
    const dataPorts = new Set(s.data.map((c) => c.vport));
    for (const l of seen) {
      const m = /\((\d+,\d+,\d+,\d+),(\d+),(\d+)\)/.exec(l);
      assert.ok(m, l);
      assert.equal(m[1], vipText, `the client sees the VIP: ${l}`);
      const port = Number(m[2]) * 256 + Number(m[3]);
      assert.ok(dataPorts.has(port), `a data connection for ${l}`);
      const orig = l.replace(vipText, ripText);
      assert.ok(said.includes(orig), `the server said ${orig}`);
      assert.equal(l.length - orig.length, vipText.length - ripText.length);
    }
  }

  /** EPSV: the reply has no address and reaches the client unchanged. */
  function checkEpsvReplies(s: SessionResult): void {
    const seen = s.received.filter((l) => l.startsWith('229 '));
    assert.ok(seen.length >= 5, `229 replies: ${seen.join(' / ')}`);
    const said = serverReplies(s.server);
    const dataPorts = new Set(s.data.map((c) => c.vport));
    for (const l of seen) {
      const m = /\(\|\|\|(\d+)\|\)/.exec(l);
      assert.ok(m, `no address in ${l}`);
      assert.ok(dataPorts.has(Number(m[1])), `a data connection for ${l}`);
      assert.ok(said.includes(l), `unchanged: ${l}`);
    }
  }

  /** PORT/EPRT: the address the client announced is its own, and each got a conn. */
  function checkActiveCommands(s: SessionResult, af: 4 | 6): void {
    const client = af === 4 ? lab.env.client4 : lab.env.client6;
    const ports = new Set<number>();
    for (const l of s.sent.filter((x) => /^(PORT|EPRT) /.test(x))) {
      if (l.startsWith('PORT ')) {
        const n = l.slice(5).split(',').map(Number);
        assert.equal(n.slice(0, 4).join('.'), client, l);
        ports.add(n[4] * 256 + n[5]);
      } else {
        const f = l.slice(5).split('|');
        assert.equal(f[1], af === 4 ? '1' : '2', l);
        assert.equal(f[2], client, l);
        ports.add(Number(f[3]));
      }
    }
    assert.deepEqual(
      s.data.map((c) => c.cport).sort(),
      [...ports].sort(),
      'one data connection per announced port',
    );
  }

  test('IPv4 passive (PASV): 5 MiB up and down, five transfers in one session', async () => {
    const s = await lftpSession('pasv4', 4, true, false);
    assert.ok(
      s.sent.every((l) => !/^EPSV/.test(l)),
      'PASV only',
    );
    checkDataConns(s, 'passive');
    checkPasvRewrite(s);
  });

  test('IPv4 passive (EPSV): 5 MiB up and down, five transfers in one session', async () => {
    const s = await lftpSession('epsv4', 4, true, true);
    checkDataConns(s, 'passive');
    checkEpsvReplies(s);
  });

  test('IPv4 active (PORT): 5 MiB up and down from RIP:20, five transfers', async () => {
    const s = await lftpSession('port4', 4, false, false);
    assert.ok(
      s.sent.some((l) => l.startsWith('PORT ')),
      'PORT used',
    );
    checkDataConns(s, 'active');
    checkActiveCommands(s, 4);
  });

  test('IPv4 active (EPRT, curl): 5 MiB up and down, four transfers, one session', async () => {
    const url = (f: string): string => `ftp://${vip4}/pub/${f}`;
    const common = ['-sS', '-v', '--max-time', '30', '--ftp-port', '-'];
    const args = [
      ...common,
      '-T',
      blobFile,
      url('eprt4-1'),
      '--next',
      ...common,
      '-T',
      blobFile,
      url('eprt4-2'),
      '--next',
      ...common,
      '-o',
      join(outDir, 'eprt4-blob'),
      url('blob'),
      '--next',
      ...common,
      '-o',
      join(outDir, 'eprt4-1'),
      url('eprt4-1'),
    ];
    const s = await observe(4, 2 * BLOB_BYTES, 2 * BLOB_BYTES, async () => {
      const r = await lab.client('curl', args, { timeoutMs: SESSION_MS });
      assert.equal(r.code, 0, `curl failed:\n${r.stderr.slice(-3000)}`);
      const lines = r.stderr.split('\n').map((l) => l.trim());
      assert.ok(
        lines.filter((l) => /Re-using existing connection/.test(l)).length >= 3,
        `one control connection for all four:\n${r.stderr.slice(-3000)}`,
      );
      return {
        sent: lines.filter((l) => l.startsWith('> ')).map((l) => l.slice(2)),
        received: lines.filter((l) => l.startsWith('< ')).map((l) => l.slice(2)),
      };
    });
    assert.equal(s.sent.filter((l) => l.startsWith('EPRT ')).length, 4, s.sent.join(' / '));
    checkFiles('eprt4', s.server, ['eprt4-blob', 'eprt4-1'], ['eprt4-1', 'eprt4-2']);
    const ctl = s.control[0];
    assert.equal(s.data.length, 4);
    for (const c of s.data) {
      assert.deepEqual([c.caddr, c.vport, c.daddr, c.dport], [ctl.caddr, 20, ctl.daddr, 20]);
      assert.equal(c.flags & CONN_F_NO_CPORT, 0);
    }
    checkActiveCommands(s, 4);
  });

  test('IPv6 passive (EPSV): 5 MiB up and down, five transfers in one session', async () => {
    const s = await lftpSession('epsv6', 6, true, true);
    assert.equal(s.control[0].af, 6);
    checkDataConns(s, 'passive');
    checkEpsvReplies(s);
  });

  test('IPv6 active (EPRT): 5 MiB up and down from [RIP]:20, five transfers', async () => {
    const s = await lftpSession('eprt6', 6, false, false);
    assert.ok(
      s.sent.some((l) => l.startsWith('EPRT |2|')),
      'EPRT used',
    );
    checkDataConns(s, 'active');
    checkActiveCommands(s, 6);
  });

  test('a passive data connection waits as NO_CPORT in LISTEN until the client connects', async () => {
    for (const af of [4, 6] as const) {
      const vip = af === 4 ? vip4 : vip6;
      const client = af === 4 ? lab.env.client4 : lab.env.client6;
      const p = new FtpProbe(lab.ns.client);
      try {
        const open = await p.send({ op: 'open', host: vip, port: 21 });
        assert.match(open.reply ?? '', /^220/);
        await login(p);
        let port: number;
        if (af === 4) {
          const r = await p.cmd('PASV', '227');
          const m = /\((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)/.exec(r);
          assert.ok(m, r);
          assert.equal(m.slice(1, 5).join('.'), vip4, `rewritten to the VIP: ${r}`);
          port = Number(m[5]) * 256 + Number(m[6]);
        } else {
          const r = await p.cmd('EPSV', '229');
          const m = /\(\|\|\|(\d+)\|\)$|\(\|\|\|(\d+)\|\)\.?$/.exec(r.trim());
          assert.ok(m, `no address in an EPSV reply: ${r}`);
          port = Number(m[1] ?? m[2]);
        }
        let all = await conns();
        const ctl = all.find((c) => c.vport === 21 && c.cport === open.port && c.caddr === client);
        assert.ok(ctl, `control connection in ${JSON.stringify(all)}`);
        // (an earlier session may have left a conn on the same port in TIME_WAIT)
        const waiting = all.filter((c) => c.caddr === client && c.vport === port && c.cport === 0);
        assert.equal(waiting.length, 1, JSON.stringify(waiting));
        const w = waiting[0];
        assert.equal(w.cport, 0, 'client port not known yet');
        assert.equal(w.flags & CONN_F_NO_CPORT, CONN_F_NO_CPORT);
        assert.equal(w.flags & CONN_F_NFCT, CONN_F_NFCT);
        assert.equal(w.state, 'LISTEN');
        assert.ok(w.expires > 100 && w.expires <= 120, `LISTEN lasts 120 s: ${w.expires}`);
        assert.deepEqual([w.vaddr, w.daddr, w.dport], [ctl.vaddr, ctl.daddr, port]);
        assert.equal(w.control, ctl.id, 'the control connection is its controller');
        assert.ok(ctl.nControl >= 1);

        const data = await p.send({ op: 'dataOpen', host: vip, port });
        await p.cmd('RETR pub/blob', '150');
        const got = await p.send({ op: 'dataWait' });
        assert.equal(got.bytes, BLOB_BYTES);
        assert.equal(got.sha256, blobHash);
        assert.match((await p.send({ op: 'reply' })).reply ?? '', /^226/);
        all = await conns();
        const used = all.filter(
          (c) => c.caddr === client && c.vport === port && (c.cport === 0 || c.cport === data.port),
        );
        assert.equal(
          used.length,
          1,
          `the same conn, now with the client's port: ${JSON.stringify(used)}`,
        );
        assert.equal(used[0].cport, data.port);
        assert.equal(used[0].flags & CONN_F_NO_CPORT, 0);
        await p.cmd('QUIT', '221');
      } finally {
        await p.close();
      }
    }
  });

  test('an active data connection waits in LISTEN until the server connects from port 20', async () => {
    const p = new FtpProbe(lab.ns.client);
    try {
      const client = lab.env.client4;
      const open = await p.send({ op: 'open', host: vip4, port: 21 });
      await login(p);
      const l = await p.send({ op: 'dataListen', host: client });
      const lp = l.port!;
      await p.cmd(`PORT ${client.replace(/\./g, ',')},${lp >> 8},${lp & 255}`, '200');
      let all = await conns();
      const ctl = all.find((c) => c.vport === 21 && c.cport === open.port && c.caddr === client);
      assert.ok(ctl);
      const waiting = all.filter((c) => c.caddr === client && c.cport === lp);
      assert.equal(waiting.length, 1, JSON.stringify(all));
      const w = waiting[0];
      assert.deepEqual(
        [w.vaddr, w.vport, w.daddr, w.dport, w.state],
        [vip4, 20, ctl.daddr, 20, 'LISTEN'],
      );
      assert.equal(w.flags & CONN_F_NO_CPORT, 0);
      assert.equal(w.flags & CONN_F_NFCT, CONN_F_NFCT);
      assert.equal(w.control, ctl.id, 'the control connection is its controller');
      await p.cmd('RETR pub/blob', '150');
      const got = await p.send({ op: 'dataWait' });
      assert.equal(got.bytes, BLOB_BYTES);
      assert.equal(got.sha256, blobHash);
      // the server's connection arrives from the VIP, port 20
      assert.deepEqual([got.remoteAddress, got.remotePort], [vip4, 20]);
      assert.match((await p.send({ op: 'reply' })).reply ?? '', /^226/);
      all = await conns();
      assert.equal(all.filter((c) => c.caddr === client && c.cport === lp).length, 1);
      await p.cmd('QUIT', '221');
    } finally {
      await p.close();
    }
  });

  test('the control connection outlives its own timeout while it controls a data connection, and goes when that is gone', async () => {
    const old = await call('getTimeouts', d.client.call({ cmd: 'getTimeouts' }));
    // ESTABLISHED 3 s: the control connection's own timeout runs out quickly
    await call('setTimeouts', d.client.call({ cmd: 'setTimeouts', timeouts: { tcp: 3 } }));
    const p = new FtpProbe(lab.ns.client);
    try {
      const client = lab.env.client4;
      const open = await p.send({ op: 'open', host: vip4, port: 21 });
      await login(p);
      const r = await p.cmd('PASV', '227');
      const m = /,(\d+),(\d+)\)/.exec(r)!;
      const port = Number(m[1]) * 256 + Number(m[2]);
      // the data conn: client port 0 until the client connects from `dataPort`
      let dataPort = 0;
      const find = async (): Promise<{ ctl?: ConnEntry; data?: ConnEntry }> => {
        const all = await conns();
        return {
          ctl: all.find((c) => c.vport === 21 && c.cport === open.port && c.caddr === client),
          data: all.find(
            (c) =>
              c.vport === port && c.caddr === client && (c.cport === 0 || c.cport === dataPort),
          ),
        };
      };
      let now = await find();
      assert.ok(now.ctl && now.data, 'control and waiting data connection');
      assert.ok(now.ctl.expires <= 3, `ESTABLISHED 3 s: ${now.ctl.expires}`);
      // its 3 s run out with the data connection still waiting: kept for 60 s more
      await waitFor('the control connection to be kept 60 s', 10_000, async () => {
        now = await find();
        assert.ok(now.ctl, 'the control connection is still there');
        return now.ctl.expires > 30;
      });
      assert.equal(now.ctl!.state, 'ESTABLISHED');
      assert.ok(now.data, 'the data connection is still there');

      // use the data connection, then reset it: CLOSE, 10 s
      dataPort = (await p.send({ op: 'dataOpen', host: vip4, port })).port ?? 0;
      await p.cmd('RETR pub/blob', '150');
      const got = await p.send({ op: 'dataWait' });
      assert.equal(got.sha256, blobHash);
      await p.send({ op: 'dataReset' });
      assert.match((await p.send({ op: 'reply' })).reply ?? '', /^226/);
      await waitFor('the data connection to expire', 20_000, async () => {
        now = await find();
        return now.data === undefined;
      });
      // still in its 60 s step, though it controls nothing any more
      assert.ok(now.ctl, 'the control connection is still there');
      assert.ok(now.ctl.expires > 3, `in its 60 s step: ${now.ctl.expires}`);
      // one exchange re-arms its own 3 s, after which it expires
      await p.cmd('NOOP', '200');
      await waitFor('the control connection to expire', 8_000, async () => {
        now = await find();
        return now.ctl === undefined;
      });
    } finally {
      await p.close();
      await call('setTimeouts', d.client.call({ cmd: 'setTimeouts', timeouts: old }));
    }
  });

  test('the daemon is still running', () => {
    assert.equal(d.proc.exitCode, null, d.log.join('\n'));
    assert.equal(d.proc.signalCode, null, d.log.join('\n'));
  });

  test('the director transmitted every packet (no transmit faults in its log)', () => {
    // NAT packets whose next hop is not resolved yet go back to the kernel with their
    // rewritten payload, so even the first 64 KB super-packets are never refused
    assert.deepEqual(
      d.log.filter((l) => /fault|cannot|error/i.test(l)),
      [],
      d.log.join('\n'),
    );
  });
});
