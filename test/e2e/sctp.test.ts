/**
 * SCTP through the real daemon. This kernel has no SCTP stack (CONFIG_IP_SCTP is not
 * set), so both ends are Python raw sockets on IP protocol 132 speaking a hand-built
 * association (IPv4 NAT and DR, IPv6 NAT): the client sends INIT, COOKIE-ECHO, DATA, HEARTBEAT, SHUTDOWN,
 * SHUTDOWN-COMPLETE; the real server answers each (INIT-ACK, COOKIE-ACK, SACK,
 * HEARTBEAT-ACK, SHUTDOWN-ACK) from the address and port it was sent to. Every packet
 * either end sees is checked: addresses and ports as NAT (VIP:3868 ↔ RIP:13868) or DR
 * (unchanged) leave them, and the CRC32c valid by the bit-at-a-time CRC in the script
 * (a third implementation, apart from the engine's and the engine tests'). After each
 * step the director's connection table shows the kernel's SCTP state.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { Lab, configure, e2eUnavailable, waitFor, type Daemon } from './harness.js';

const skip = e2eUnavailable();

/** Both ends of the association, one script: `server` loops, `client` does one step. */
const PEER = String.raw`
import socket, struct, sys, json, select, time

def crc32c(data):
    crc = 0xffffffff
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82f63b78 if crc & 1 else crc >> 1
    return crc ^ 0xffffffff

def chunk(t, value=b''):
    n = 4 + len(value)
    return struct.pack('!BBH', t, 0, n) + value + b'\0' * ((4 - n % 4) % 4)

VALUES = {
    1: struct.pack('!IIHHI', 0x11111111, 65536, 1, 1, 1000),                       # INIT
    2: struct.pack('!IIHHI', 0x22222222, 65536, 1, 1, 5000) + struct.pack('!HH', 7, 12) + b'cookie!!',
    10: b'cookie!!',                                                               # COOKIE-ECHO
    0: struct.pack('!IHHI', 1000, 0, 0, 0) + b'hello',                             # DATA
    3: struct.pack('!IIHH', 1000, 65536, 0, 0),                                    # SACK
    4: struct.pack('!HH', 1, 8) + b'beat',                                         # HEARTBEAT
    5: struct.pack('!HH', 1, 8) + b'beat',                                         # HEARTBEAT-ACK
    7: struct.pack('!I', 5000),                                                    # SHUTDOWN
}
ANSWER = {1: 2, 10: 11, 0: 3, 4: 5, 7: 8}

def sctp(sport, dport, vtag, ctype):
    body = chunk(ctype, VALUES.get(ctype, b''))
    head = struct.pack('!HHI', sport, dport, vtag)
    crc = crc32c(head + b'\0\0\0\0' + body)
    return head + struct.pack('<I', crc) + body

def parse_sctp(s, src, dst):
    sport, dport, vtag = struct.unpack('!HHI', s[:8])
    stored = struct.unpack('<I', s[8:12])[0]
    return dict(src=src, dst=dst, sport=sport, dport=dport, vtag=vtag,
                chunk=s[12] if len(s) > 12 else -1,
                crcOk=stored == crc32c(s[:8] + b'\0\0\0\0' + s[12:]), len=len(s))

def v6(a):
    return ':' in a

def sock(six):
    if six:
        s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, 132)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 132)
        s.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
    return s

def receive(s, six):
    if not six:
        # IPv4 raw sockets see the IP header
        p = s.recv(65535)
        ihl = (p[0] & 15) * 4
        return parse_sctp(p[ihl:], socket.inet_ntoa(p[12:16]), socket.inet_ntoa(p[16:20]))
    # IPv6: the payload only; the destination from IPV6_PKTINFO
    data, anc, _, addr = s.recvmsg(65535, 256)
    dst = ''
    for level, kind, value in anc:
        if level == socket.IPPROTO_IPV6 and kind == socket.IPV6_PKTINFO:
            dst = socket.inet_ntop(socket.AF_INET6, value[:16])
    return parse_sctp(data, addr[0], dst)

def send(src, dst, sport, dport, vtag, ctype):
    six = v6(dst)
    # bound to the source: the route is looked up from the socket's address (with
    # IP_HDRINCL too), which sends the RIP's answers by its policy route to the director
    t = sock(six)
    t.bind((src, 0))
    body = sctp(sport, dport, vtag, ctype)
    if not six:
        body = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(body), 0, 0x4000, 64, 132, 0,
                           socket.inet_aton(src), socket.inet_aton(dst)) + body
    t.sendto(body, (dst, 0))
    t.close()

if sys.argv[1] == 'server':
    socks = {sock(False): False, sock(True): True}
    print(json.dumps({'ready': True}), flush=True)
    while True:
        r, _, _ = select.select(list(socks), [], [])
        for s in r:
            p = receive(s, socks[s])
            print(json.dumps(p), flush=True)
            a = ANSWER.get(p['chunk'])
            if a is not None:
                send(p['dst'], p['src'], p['dport'], p['sport'], 0x11111111, a)
else:
    src, dst, dport, sport, ctype, wait = sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), float(sys.argv[7])
    six = v6(dst)
    s = sock(six)
    send(src, dst, sport, dport, 0x22222222, ctype)
    end = time.time() + wait
    got = None
    while got is None and time.time() < end:
        r, _, _ = select.select([s], [], [], max(0, end - time.time()))
        if r:
            p = receive(s, six)
            if p['dport'] == sport and p['src'] != src:
                got = p
    print(json.dumps(got), flush=True)
`;

interface Seen {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  vtag: number;
  chunk: number;
  crcOk: boolean;
  len: number;
}

const INIT = 1;
const INIT_ACK = 2;
const SACK = 3;
const HEARTBEAT = 4;
const HEARTBEAT_ACK = 5;
const SHUTDOWN = 7;
const SHUTDOWN_ACK = 8;
const COOKIE_ECHO = 10;
const COOKIE_ACK = 11;
const DATA = 0;
const SHUTDOWN_COMPLETE = 14;

describe(
  'e2e SCTP through the daemon (raw sockets, IP protocol 132)',
  { skip: skip ?? false, timeout: 120_000 },
  () => {
    let lab: Lab;
    let d: Daemon;
    let server: ChildProcess;
    const seen: Seen[] = [];

    before(async () => {
      lab = Lab.up('e2esctp');
      server = lab.track(
        spawn('ip', ['netns', 'exec', lab.ns.rs1, 'python3', '-c', PEER, 'server'], {
          stdio: ['ignore', 'pipe', 'inherit'],
        }),
      );
      let ready = false;
      let buf = '';
      server.stdout!.setEncoding('utf8').on('data', (s: string) => {
        buf += s;
        for (;;) {
          const i = buf.indexOf('\n');
          if (i < 0) break;
          const line = JSON.parse(buf.slice(0, i)) as Seen & { ready?: boolean };
          buf = buf.slice(i + 1);
          if (line.ready) ready = true;
          else seen.push(line);
        }
      });
      await waitFor('the SCTP peer on rs1', 10_000, () => Promise.resolve(ready));
      d = await lab.daemon();
      const rip = lab.env.rs[0].ip4;
      await configure(
        d.client,
        { af: 4, protocol: 132, addr: lab.env.vip4, port: 3868, scheduler: 'rr' },
        [{ addr: rip, port: 13868, fwd: 'masq', weight: 1 }],
      );
      await configure(
        d.client,
        { af: 4, protocol: 132, addr: lab.env.vip4, port: 3869, scheduler: 'rr' },
        [{ addr: rip, port: 3869, fwd: 'droute', weight: 1 }],
      );
      await configure(
        d.client,
        { af: 6, protocol: 132, addr: lab.env.vip6, port: 3868, scheduler: 'rr' },
        [{ addr: lab.env.rs[0].ip6, port: 13868, fwd: 'masq', weight: 1 }],
      );
    });

    after(async () => {
      if (lab) await lab.down();
    });

    /** One client step: send `chunk` from `sport`, return what came back (or null). */
    async function step(
      vport: number,
      sport: number,
      chunk: number,
      wait = 3,
      af: 4 | 6 = 4,
    ): Promise<Seen | null> {
      const r = await lab.client('python3', [
        '-c',
        PEER,
        'client',
        af === 4 ? lab.env.client4 : lab.env.client6,
        af === 4 ? lab.env.vip4 : lab.env.vip6,
        String(vport),
        String(sport),
        String(chunk),
        String(wait),
      ]);
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout) as Seen | null;
    }

    async function connState(vport: number, cport: number, af = 4): Promise<string | null> {
      const all = await d.client.call({ cmd: 'listConnections' });
      const c = all.find(
        (x) => x.protocol === 132 && x.af === af && x.vport === vport && x.cport === cport,
      );
      return c ? c.state : null;
    }

    async function expectState(vport: number, cport: number, want: string, af = 4): Promise<void> {
      await waitFor(
        `conn ${cport} in ${want}`,
        5000,
        async () => (await connState(vport, cport, af)) === want,
      );
    }

    for (const mode of ['NAT', 'DR', 'NAT IPv6'] as const) {
      test(`${mode}: a whole association, every packet's addresses, ports and CRC32c checked`, async () => {
        const nat = mode !== 'DR';
        const af = mode === 'NAT IPv6' ? 6 : 4;
        const vport = nat ? 3868 : 3869;
        const rport = nat ? 13868 : 3869;
        const cport = mode === 'NAT' ? 40000 : mode === 'DR' ? 40001 : 40002;
        const vip = af === 4 ? lab.env.vip4 : lab.env.vip6;
        const rip = af === 4 ? lab.env.rs[0].ip4 : lab.env.rs[0].ip6;
        const client = af === 4 ? lab.env.client4 : lab.env.client6;
        // [sent, answer expected, state after (NAT: both directions; DR: INPUT-ONLY)]
        const steps: [number, number, string, string][] = [
          [INIT, INIT_ACK, 'C-SENT', 'INIT1'],
          [COOKIE_ECHO, COOKIE_ACK, 'ESTABLISHED', 'ESTABLISHED'],
          [DATA, SACK, 'ESTABLISHED', 'ESTABLISHED'],
          [HEARTBEAT, HEARTBEAT_ACK, 'ESTABLISHED', 'ESTABLISHED'],
          [SHUTDOWN, SHUTDOWN_ACK, 'S-ACK-SENT', 'S-RECEIVED'],
          [SHUTDOWN_COMPLETE, -1, 'CLOSED', 'CLOSED'],
        ];
        for (const [chunk, answer, natState, drState] of steps) {
          const from = seen.length;
          const got = await step(vport, cport, chunk, answer < 0 ? 0.3 : 3, af);
          // what the real server received
          await waitFor(`rs1 to see chunk ${chunk}`, 5000, () =>
            Promise.resolve(seen.slice(from).some((s) => s.chunk === chunk && s.sport === cport)),
          );
          const atServer = seen.slice(from).find((s) => s.chunk === chunk && s.sport === cport)!;
          assert.deepEqual(
            [atServer.src, atServer.dst, atServer.sport, atServer.dport],
            [client, nat ? rip : vip, cport, rport],
            `chunk ${chunk} at the real server`,
          );
          assert.ok(atServer.crcOk, `chunk ${chunk}: CRC32c valid at the real server`);
          // what came back to the client: from the VIP and its port, CRC valid
          if (answer >= 0) {
            assert.ok(got !== null, `an answer to chunk ${chunk}`);
            assert.deepEqual(
              [got.src, got.dst, got.sport, got.dport, got.chunk],
              [vip, client, vport, cport, answer],
              `answer to chunk ${chunk} at the client`,
            );
            assert.ok(got.crcOk, `answer ${answer}: CRC32c valid at the client`);
          }
          await expectState(vport, cport, nat ? natState : drState, af);
        }
        const svc = await d.client.call({
          cmd: 'getService',
          service: { af, protocol: 132, addr: vip, port: vport },
        });
        assert.equal(svc.dests[0].activeconns, 0);
        assert.equal(svc.dests[0].inactconns, 1);
        assert.equal(svc.stats.conns, 1);
        if (nat)
          assert.equal(svc.stats.outpkts, 5, 'the five answers came back through the director');
        else assert.equal(svc.stats.outpkts, 0, 'DR answers bypass the director');
      });
    }

    test('an ABORT or a DATA chunk opens no connection; /proc/net/ip_vs lists SCTP', async () => {
      assert.equal(await step(3868, 40100, 6, 0.3), null);
      assert.equal(await step(3868, 40101, DATA, 0.3), null);
      assert.equal(await connState(3868, 40100), null);
      assert.equal(await connState(3868, 40101), null);
      const text = await d.client.call({ cmd: 'proc', name: 'ip_vs' });
      assert.match(
        String(text),
        /\nSCTP {2}[0-9A-F]{8}:0F1C rr +\n {2}-> [0-9A-F]{8}:362C {6}Masq /,
      );
      assert.match(
        String(text),
        /\nSCTP {2}[0-9A-F]{8}:0F1D rr +\n {2}-> [0-9A-F]{8}:0F1D {6}Route /,
      );
    });
  },
);
