/**
 * The FTP helper driven through a real Engine with whole control conversations (spec
 * §9.2, §9.1, §4.4, §4.6): passive and extended passive replies rewritten to the VIP with
 * the packet resized, seq/ack kept consistent in both directions over many packets and
 * several rewrites of different sizes, the data conns it creates (controller, NO_CPORT,
 * LISTEN, 120 s) and how they are used and expire, active mode through engine.out, and
 * hostile or broken control traffic.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine, type ConnInfo, type ServiceKey } from '../../../src/engine/engine.js';
import { DropReason, V_DROP, V_FORWARD } from '../../../src/engine/drop.js';
import {
  CONN_F_IN_SEQ,
  CONN_F_NFCT,
  CONN_F_NO_CPORT,
  CONN_F_OUT_SEQ,
} from '../../../src/engine/constants.js';
import {
  FTP_ACTIVE,
  FTP_EPSV,
  FTP_PASV,
  createFtpHelper,
  registerFtp,
  type FtpHelper,
} from '../../../src/engine/app/index.js';
import {
  ACK,
  FIN,
  PSH,
  RST,
  SYN,
  buildPacket,
  ipv4HeaderValid,
  l4ChecksumValid,
  parse,
  rng,
  type PacketSpec,
  type Parsed,
} from '../../helpers/packets.js';

const VIP = '10.0.3.100';
const RIP_SHORT = '10.0.2.9'; // "10,0,2,9" is 2 bytes shorter than "10,0,3,100"
const RIP_LONG = '192.168.100.200'; // "192,168,100,200" is 5 bytes longer
const CIP = '10.0.1.2';
const VIP6 = '2001:db8:3::100';
const RIP6_A = '2001:db8:2::9';
const RIP6_B = '2001:db8:2::1:200';
const CIP6 = '2001:db8:1::2';

const dec = new TextDecoder();
const enc = new TextEncoder();
const text = (b: Uint8Array): string => dec.decode(b);
const byteLen = (s: string): number => enc.encode(s).length;
/** RFC 5952 form of an IPv6 address (the WHATWG URL parser's), IPv4 unchanged. */
const canon = (a: string): string =>
  a.includes(':') ? new URL(`http://[${a}]/`).hostname.slice(1, -1) : a;
/** parse() with canonical addresses, so they compare with the engine's text. */
function parsed(pkt: Uint8Array): Parsed {
  const p = parse(pkt);
  return { ...p, src: canon(p.src), dst: canon(p.dst) };
}

interface Lab {
  e: Engine;
  ftp: FtpHelper;
  key: ServiceKey;
}

/** NAT FTP service on VIP:21 with two real servers (rr: the first conn goes to `rips[0]`). */
function lab(af: 4 | 6 = 4, rips = af === 4 ? [RIP_SHORT, RIP_LONG] : [RIP6_A, RIP6_B]): Lab {
  const e = new Engine({ random: rng(3) });
  const ftp = registerFtp(e);
  const key: ServiceKey = { af, protocol: 6, addr: af === 4 ? VIP : VIP6, port: 21 };
  e.addService(key, { scheduler: 'rr' });
  // dests go to the head of the list and rr starts at the head: add in reverse
  for (let i = rips.length - 1; i >= 0; i--)
    e.addDest(key, { addr: rips[i], port: 21, fwd: 'masq' });
  return { e, ftp, key };
}

interface Sent {
  v: number;
  pkt: Uint8Array;
  p: Parsed;
}

/** Push one packet through the engine with `room` spare bytes after it in the buffer. */
function send(e: Engine, dir: 'in' | 'out', spec: PacketSpec, now: number, room = 64): Sent {
  const raw = buildPacket(spec);
  const buf = new Uint8Array(64 + raw.length + room);
  buf.set(raw, 64);
  const v = dir === 'in' ? e.in(buf, 64, raw.length, now) : e.out(buf, 64, raw.length, now);
  const r = e.result;
  const pkt = r.buf.slice(r.off, r.off + r.len);
  if (v === V_FORWARD) {
    assert.ok(l4ChecksumValid(pkt), `${dir}: TCP checksum valid after the engine`);
    assert.ok(ipv4HeaderValid(pkt), `${dir}: IPv4 header checksum valid`);
    const lenField = pkt[0] >> 4 === 4 ? (pkt[2] << 8) | pkt[3] : 40 + ((pkt[4] << 8) | pkt[5]);
    assert.equal(lenField, pkt.length, `${dir}: IP length field matches the packet`);
  }
  return { v, pkt, p: parsed(pkt) };
}

/**
 * One FTP control connection with a simulated client and server TCP. Each side keeps its
 * own sequence space (snd = next seq it sends, rcv = next seq it expects) and every packet
 * that reaches the other side is checked: its seq is exactly what the receiver expects and
 * its ack exactly what the receiver has sent (in the receiver's own space).
 */
class Session {
  readonly e: Engine;
  readonly cip: string;
  readonly cport: number;
  readonly vip: string;
  rip = '';
  rport = 0;
  t: number;
  // client side, in client space (client's own seqs; server seqs as the client sees them)
  cSnd: number;
  cRcv = 0;
  // server side, in server space
  sSnd: number;
  sRcv = 0;
  /** Everything the client received / the server received, in order. */
  clientStream = '';
  serverStream = '';
  ctl = -1;

  constructor(e: Engine, cip: string, cport: number, vip: string, t: number, isn: number) {
    this.e = e;
    this.cip = cip;
    this.cport = cport;
    this.vip = vip;
    this.t = t;
    this.cSnd = isn;
    this.sSnd = (isn * 7 + 0x7654321) >>> 0;
  }

  /** Three-way handshake; learns which real server the scheduler chose. */
  open(): this {
    const syn = send(this.e, 'in', this.cspec(SYN, ''), (this.t += 1));
    assert.equal(syn.v, V_FORWARD);
    this.rip = syn.p.dst;
    this.rport = syn.p.dport;
    this.ctl = this.e.result.conn;
    this.cSnd = (this.cSnd + 1) >>> 0;
    this.sRcv = this.cSnd;
    const sa = send(this.e, 'out', this.sspec(SYN | ACK, ''), (this.t += 1));
    assert.equal(sa.v, V_FORWARD);
    this.sSnd = (this.sSnd + 1) >>> 0;
    this.cRcv = sa.p.seq + 1;
    this.client(ACK, '');
    return this;
  }

  cspec(flags: number, payload: string, ack = this.cRcv): PacketSpec {
    return {
      src: this.cip,
      dst: this.vip,
      sport: this.cport,
      dport: 21,
      flags,
      seq: this.cSnd,
      ack,
      payload,
    };
  }

  sspec(flags: number, payload: string, seq = this.sSnd): PacketSpec {
    return {
      src: this.rip,
      dst: this.cip,
      sport: this.rport,
      dport: this.cport,
      flags,
      seq,
      ack: this.sRcv,
      payload,
    };
  }

  /**
   * Client → server. `ack` defaults to everything the client has received; `expectAck`
   * is then everything the server has sent.
   */
  client(flags: number, payload: string, ack = this.cRcv, expectAck = this.sSnd): Sent {
    const r = send(this.e, 'in', this.cspec(flags, payload, ack), (this.t += 1));
    assert.equal(r.v, V_FORWARD, `client packet forwarded: ${JSON.stringify(payload)}`);
    assert.equal(r.p.dst, this.rip);
    assert.equal(r.p.seq, this.sRcv, 'server sees the client stream contiguous');
    assert.equal(r.p.ack, expectAck >>> 0, 'server sees an ack in its own space');
    assert.equal(text(r.p.payload), payload, 'client payload is never changed');
    this.cSnd = (this.cSnd + byteLen(payload)) >>> 0;
    this.sRcv = (this.sRcv + r.p.payload.length) >>> 0;
    this.serverStream += payload;
    return r;
  }

  /** Server → client; returns what the client received. `seq` overrides (retransmit). */
  server(payload: string, seq = this.sSnd, flags = ACK | PSH): Sent {
    const r = send(this.e, 'out', this.sspec(flags, payload, seq), (this.t += 1));
    assert.equal(r.v, V_FORWARD, `server packet forwarded: ${JSON.stringify(payload)}`);
    assert.equal(r.p.src, this.vip);
    assert.equal(r.p.sport, 21);
    assert.equal(r.p.ack, this.cSnd, 'client sees its own stream acked exactly');
    if (seq === this.sSnd) {
      assert.equal(r.p.seq, this.cRcv, 'client sees the server stream contiguous');
      this.sSnd = (this.sSnd + byteLen(payload)) >>> 0;
      this.cRcv = (this.cRcv + r.p.payload.length) >>> 0;
      this.clientStream += text(r.p.payload);
    }
    return r;
  }

  info(): ConnInfo {
    return this.e.connInfo(this.ctl);
  }
}

function dataConns(e: Engine, ctl: number): ConnInfo[] {
  return e.connections().filter((c) => c.control === ctl);
}

function pasvText(addr: string, port: number, sep = ','): string {
  return `${addr.split('.').join(sep)},${port >> 8},${port & 255}`;
}

test('PASV reply is rewritten to the VIP (growing the packet) and the data conn waits in LISTEN', () => {
  const { e, ftp } = lab();
  const s = new Session(e, CIP, 40001, VIP, 1000, 1_000_000).open();
  assert.equal(s.rip, RIP_SHORT);
  assert.equal(s.info().flags & CONN_F_NFCT, CONN_F_NFCT, 'control conn keeps conntrack');
  s.server('220 (vsFTPd 3.0.5)\r\n');
  s.client(ACK | PSH, 'USER anonymous\r\n');
  s.server('331 Please specify the password.\r\n');
  s.client(ACK | PSH, 'PASV\r\n');
  assert.equal(e.appData.get(s.ctl), FTP_PASV);

  const reply = `227 Entering Passive Mode (${pasvText(RIP_SHORT, 50000)}).\r\n`;
  const r = s.server(reply);
  const want = `227 Entering Passive Mode (${pasvText(VIP, 50000)}).\r\n`;
  assert.equal(text(r.p.payload), want);
  assert.equal(r.p.payload.length, reply.length + 2);
  assert.equal(e.appData.get(s.ctl), FTP_ACTIVE, 'mode back to ACTIVE after the reply');
  assert.equal(ftp.counters.passive, 1);

  const d = dataConns(e, s.ctl);
  assert.equal(d.length, 1);
  const dc = d[0];
  assert.equal(dc.caddr, CIP);
  assert.equal(dc.cport, 0);
  assert.equal(dc.vaddr, VIP);
  assert.equal(dc.vport, 50000);
  assert.equal(dc.daddr, RIP_SHORT);
  assert.equal(dc.dport, 50000);
  assert.equal(dc.flags & CONN_F_NO_CPORT, CONN_F_NO_CPORT);
  assert.equal(dc.flags & CONN_F_NFCT, CONN_F_NFCT);
  assert.equal(dc.state, 'LISTEN');
  assert.equal(dc.expires, 120);
  assert.equal(s.info().nControl, 1);
  assert.equal(e.conns.noCportCount, 1);

  // the client's data SYN from an ephemeral port finds it and fills the cport (§4.4)
  const syn = send(e, 'in', { src: CIP, dst: VIP, sport: 45678, dport: 50000, flags: SYN }, 2000);
  assert.equal(syn.v, V_FORWARD);
  assert.equal(syn.p.dst, RIP_SHORT);
  assert.equal(syn.p.dport, 50000);
  const filled = e.connInfo(dc.id);
  assert.equal(filled.cport, 45678);
  assert.equal(filled.flags & CONN_F_NO_CPORT, 0);
  assert.equal(filled.state, 'SYN_RECV');
  assert.equal(e.conns.noCportCount, 0);
  const sa = send(
    e,
    'out',
    { src: RIP_SHORT, dst: CIP, sport: 50000, dport: 45678, flags: SYN | ACK },
    2001,
  );
  assert.equal(sa.v, V_FORWARD);
  assert.equal(sa.p.src, VIP);
  assert.equal(sa.p.sport, 50000);
  send(e, 'in', { src: CIP, dst: VIP, sport: 45678, dport: 50000, flags: ACK }, 2002);
  assert.equal(e.connInfo(dc.id).state, 'ESTABLISHED');
});

test('PASV reply from a real server with a longer address shrinks the packet', () => {
  const { e } = lab(4, [RIP_LONG, RIP_SHORT]);
  const s = new Session(e, CIP, 40002, VIP, 1000, 0xfffffff0).open(); // seq wraps soon
  assert.equal(s.rip, RIP_LONG);
  s.client(ACK | PSH, 'PASV\r\n');
  const reply = `227 Entering Passive Mode (${pasvText(RIP_LONG, 61234)})\r\n`;
  const r = s.server(reply);
  assert.equal(text(r.p.payload), `227 Entering Passive Mode (${pasvText(VIP, 61234)})\r\n`);
  assert.equal(r.p.payload.length, reply.length - 5);
  const [dc] = dataConns(e, s.ctl);
  assert.equal(dc.daddr, RIP_LONG);
  assert.equal(dc.vport, 61234);
});

test('seq/ack stay consistent on both sides over many packets and rewrites of different sizes', () => {
  for (const [rips, isn] of [
    [[RIP_SHORT, RIP_LONG], 5000],
    [[RIP_LONG, RIP_SHORT], 0xffffff00],
  ] as const) {
    const { e } = lab(4, [...rips]);
    const s = new Session(e, CIP, 40003, VIP, 1000, isn).open();
    const rnd = rng(isn);
    s.server('220 ready\r\n');
    const variants = [
      // server formats: plain, leading zeros, no parenthesis, EPSV with and without address
      (p: number) => ({ cmd: 'PASV', reply: `227 Entering Passive Mode (${pasvText(s.rip, p)}).` }),
      (p: number) => ({
        cmd: 'PASV',
        reply: `227 =${s.rip
          .split('.')
          .map((x) => x.padStart(3, '0'))
          .join(',')},${String(p >> 8).padStart(3, '0')},${String(p & 255).padStart(3, '0')}`,
      }),
      (p: number) => ({ cmd: 'PASV', reply: `227 Passive ${pasvText(s.rip, p)}` }),
      (p: number) => ({ cmd: 'EPSV', reply: `229 Entering Extended Passive Mode (|||${p}|)` }),
      (p: number) => ({ cmd: 'EPSV', reply: `229 Extended Passive (|1|${s.rip}|${p}|)` }),
    ];
    const deltas = new Set<number>();
    let expected = '';
    for (let round = 0; round < 40; round++) {
      // some chatter in both directions
      for (let k = Math.floor(rnd() * 4); k > 0; k--) {
        s.client(ACK | PSH, `NOOP ${round}.${k}\r\n`);
        const line = `200 NOOP ok ${'x'.repeat(Math.floor(rnd() * 50))}\r\n`;
        s.server(line);
        expected += line;
      }
      const port = 1024 + Math.floor(rnd() * 64000);
      const v = variants[round % variants.length](port);
      s.client(ACK | PSH, `${v.cmd}\r\n`);
      const before = s.clientStream.length;
      const r = s.server(`${v.reply}\r\n`);
      const got = text(r.p.payload);
      deltas.add(got.length - v.reply.length - 2);
      if (v.cmd === 'PASV') assert.ok(got.includes(pasvText(VIP, port)), got);
      else assert.ok(got.includes(`(|||${port}|)`), got);
      assert.equal(s.clientStream.slice(before), got);
      expected += got;
      // a transfer that is never used; the client goes on
      s.client(ACK | PSH, 'LIST\r\n');
      const done = '150 Here comes the directory listing.\r\n226 Directory send OK.\r\n';
      s.server(done);
      expected += done;
    }
    assert.ok(deltas.size >= 3, `several different size changes: ${[...deltas]}`);
    assert.ok(s.clientStream.endsWith(expected));
    const f = s.info().flags;
    assert.equal(f & CONN_F_OUT_SEQ, CONN_F_OUT_SEQ);
    assert.equal(f & CONN_F_IN_SEQ, 0, 'client payload never changes size');
    // orderly close, still consistent
    s.client(ACK | FIN, '');
    s.cSnd = (s.cSnd + 1) >>> 0;
    s.sRcv = (s.sRcv + 1) >>> 0;
    s.server('', s.sSnd, ACK | FIN);
    s.sSnd = (s.sSnd + 1) >>> 0;
    s.cRcv = (s.cRcv + 1) >>> 0;
    s.client(ACK, '');
    assert.equal(s.info().state, 'TIME_WAIT');
  }
});

test('acks from before, at and after a rewritten reply map back exactly (grow and shrink)', () => {
  for (const rips of [
    [RIP_SHORT, RIP_LONG],
    [RIP_LONG, RIP_SHORT],
  ]) {
    const { e } = lab(4, rips);
    const s = new Session(e, CIP, 40004, VIP, 1000, 77).open();
    s.server('220 hi\r\n');
    s.client(ACK | PSH, 'PASV\r\n');
    const clientBefore = s.cRcv;
    const serverBefore = s.sSnd;
    s.server(`227 Entering Passive Mode (${pasvText(s.rip, 40000)}).\r\n`);
    // the client sends before it processed the reply: its ack is the reply's start
    s.client(ACK | PSH, 'NOOP\r\n', clientBefore, serverBefore);
    // then acks the whole reply
    s.client(ACK, '');
    s.server('200 NOOP ok.\r\n');
    s.client(ACK, '');
  }
});

test('a retransmitted PASV reply is rewritten again and keeps its place in the stream', () => {
  const { e } = lab(4, [RIP_LONG]);
  const s = new Session(e, CIP, 40005, VIP, 1000, 9).open();
  s.server('220 hi\r\n');
  s.client(ACK | PSH, 'PASV\r\n');
  const seq = s.sSnd;
  const at = s.cRcv;
  const reply = `227 Entering Passive Mode (${pasvText(RIP_LONG, 50100)}).\r\n`;
  const first = s.server(reply);
  // lost on the way to the client: the server sends it again
  const again = s.server(reply, seq);
  assert.equal(again.p.seq, at);
  assert.deepEqual(again.p.payload, first.p.payload);
  assert.equal(dataConns(e, s.ctl).length, 1, 'no second data conn');
  s.client(ACK, '');
  s.server('150 ok\r\n');
  s.client(ACK, '');
});

test('EPSV over IPv4: 229 reply, data conn on the announced port', () => {
  const { e } = lab();
  const s = new Session(e, CIP, 40006, VIP, 1000, 1).open();
  s.client(ACK | PSH, 'EPSV\r\n');
  assert.equal(e.appData.get(s.ctl), FTP_EPSV);
  const r = s.server('229 Entering Extended Passive Mode (|||50200|)\r\n');
  assert.equal(text(r.p.payload), '229 Entering Extended Passive Mode (|||50200|)\r\n');
  const [dc] = dataConns(e, s.ctl);
  assert.equal(dc.vport, 50200);
  assert.equal(dc.daddr, RIP_SHORT);
  assert.equal(dc.state, 'LISTEN');
  // "EPSV 1" is accepted on IPv4, "EPSV 2" and "EPSV ALL" are not
  s.client(ACK | PSH, 'EPSV 2\r\n');
  assert.equal(e.appData.get(s.ctl), FTP_ACTIVE);
  s.client(ACK | PSH, 'EPSV ALL\r\n');
  assert.equal(e.appData.get(s.ctl), FTP_ACTIVE);
  s.client(ACK | PSH, 'epsv 1\r\n');
  assert.equal(e.appData.get(s.ctl), FTP_EPSV);
});

test('EPSV over IPv6: address form shrunk to |||port|, data conn usable', () => {
  const { e } = lab(6);
  const s = new Session(e, CIP6, 40007, VIP6, 1000, 123456).open();
  assert.equal(s.rip, RIP6_A);
  s.server('220 v6\r\n');
  s.client(ACK | PSH, 'PASV\r\n');
  assert.equal(e.appData.get(s.ctl) ?? FTP_ACTIVE, FTP_ACTIVE, 'PASV means nothing on IPv6');
  s.server('500 no\r\n');
  s.client(ACK | PSH, 'EPSV 2\r\n');
  assert.equal(e.appData.get(s.ctl), FTP_EPSV);
  const r = s.server(`229 Extended Passive Mode OK (|2|${RIP6_A}|50300|)\r\n`);
  assert.equal(text(r.p.payload), '229 Extended Passive Mode OK (|||50300|)\r\n');
  const [dc] = dataConns(e, s.ctl);
  assert.equal(dc.caddr, CIP6);
  assert.equal(dc.vaddr, VIP6);
  assert.equal(dc.daddr, RIP6_A);
  assert.equal(dc.vport, 50300);
  assert.equal(dc.flags & CONN_F_NO_CPORT, CONN_F_NO_CPORT);
  for (let i = 0; i < 10; i++) {
    s.client(ACK | PSH, `NOOP ${i}\r\n`);
    s.server(`200 ok ${i}\r\n`);
  }
  const syn = send(e, 'in', { src: CIP6, dst: VIP6, sport: 51000, dport: 50300, flags: SYN }, 5000);
  assert.equal(syn.v, V_FORWARD);
  assert.equal(syn.p.dst, RIP6_A);
  assert.equal(e.connInfo(dc.id).cport, 51000);
});

test('PORT: active data conn from RIP:20 goes out as VIP:20 and walks to ESTABLISHED', () => {
  const { e, ftp } = lab();
  const s = new Session(e, CIP, 40008, VIP, 1000, 5).open();
  s.client(ACK | PSH, 'PORT 10,0,1,2,156,64\r\n');
  assert.equal(ftp.counters.active, 1);
  const d = dataConns(e, s.ctl);
  assert.equal(d.length, 1);
  const dc = d[0];
  assert.equal(dc.caddr, CIP);
  assert.equal(dc.cport, 156 * 256 + 64);
  assert.equal(dc.vaddr, VIP);
  assert.equal(dc.vport, 20);
  assert.equal(dc.daddr, RIP_SHORT);
  assert.equal(dc.dport, 20);
  assert.equal(dc.flags & CONN_F_NO_CPORT, 0);
  assert.equal(dc.flags & CONN_F_NFCT, CONN_F_NFCT);
  assert.equal(dc.state, 'LISTEN');
  assert.equal(dc.expires, 120);
  s.server('200 PORT command successful.\r\n');
  s.client(ACK | PSH, 'RETR file\r\n');

  const rs = { src: RIP_SHORT, dst: CIP, sport: 20, dport: 40000 };
  const syn = send(e, 'out', { ...rs, flags: SYN, seq: 500 }, 3000);
  assert.equal(syn.v, V_FORWARD);
  assert.equal(syn.p.src, VIP);
  assert.equal(syn.p.sport, 20);
  assert.equal(syn.p.dst, CIP);
  assert.equal(e.connInfo(dc.id).state, 'LISTEN', 'OUTPUT SYN keeps LISTEN');
  const cl = { src: CIP, dst: VIP, sport: 40000, dport: 20 };
  const sa = send(e, 'in', { ...cl, flags: SYN | ACK, seq: 9000, ack: 501 }, 3001);
  assert.equal(sa.v, V_FORWARD);
  assert.equal(sa.p.dst, RIP_SHORT);
  assert.equal(sa.p.dport, 20);
  assert.equal(e.connInfo(dc.id).state, 'SYN_RECV');
  send(e, 'out', { ...rs, flags: ACK, seq: 501, ack: 9001 }, 3002);
  assert.equal(e.connInfo(dc.id).state, 'ESTABLISHED');
  const data = send(e, 'out', { ...rs, flags: ACK | PSH, seq: 501, payload: 'file data' }, 3003);
  assert.equal(text(data.p.payload), 'file data', 'data conns are not helped');

  // the same PORT again finds the conn instead of making another
  s.client(ACK | PSH, 'PORT 10,0,1,2,156,64\r\n');
  assert.equal(dataConns(e, s.ctl).length, 1);
  assert.equal(e.connInfo(dc.id).state, 'LISTEN', 'put back in LISTEN, as the kernel does');
});

test('EPRT over IPv4 and IPv6 sets up the active data conn', () => {
  {
    const { e } = lab();
    const s = new Session(e, CIP, 40009, VIP, 1000, 5).open();
    s.client(ACK | PSH, `EPRT |1|${CIP}|40100|\r\n`);
    const [dc] = dataConns(e, s.ctl);
    assert.equal(dc.cport, 40100);
    assert.equal(dc.vport, 20);
    assert.equal(dc.dport, 20);
    assert.equal(e.appData.get(s.ctl), FTP_ACTIVE);
  }
  const { e } = lab(6);
  const s = new Session(e, CIP6, 40010, VIP6, 1000, 5).open();
  s.client(ACK | PSH, 'EPRT  !2!2001:DB8:1:0:0:0:0:2!40200!\r\n');
  const [dc] = dataConns(e, s.ctl);
  assert.equal(dc.caddr, CIP6);
  assert.equal(dc.cport, 40200);
  assert.equal(dc.vaddr, VIP6);
  assert.equal(dc.vport, 20);
  assert.equal(dc.daddr, RIP6_A);
  assert.equal(dc.dport, 20);
  const syn = send(e, 'out', { src: RIP6_A, dst: CIP6, sport: 20, dport: 40200, flags: SYN }, 4000);
  assert.equal(syn.v, V_FORWARD);
  assert.equal(syn.p.src, VIP6);
  assert.equal(syn.p.sport, 20);
});

test('data conns keep the control conn alive (60 s steps) and expire on their own', () => {
  const { e } = lab();
  const s = new Session(e, CIP, 40011, VIP, 1000, 5).open();
  s.client(ACK | PSH, 'PASV\r\n');
  s.server(`227 Entering Passive Mode (${pasvText(RIP_SHORT, 50400)}).\r\n`);
  s.client(ACK | PSH, 'PORT 10,0,1,2,160,0\r\n');
  const t0 = s.t;
  const d = dataConns(e, s.ctl);
  assert.equal(d.length, 2);
  assert.equal(s.info().nControl, 2);
  // the client aborts the control connection: CLOSE, 10 s
  send(e, 'in', s.cspec(RST, ''), t0);
  assert.equal(s.info().state, 'CLOSE');
  e.tick(t0 + 11_000);
  assert.equal(e.connections().length, 3, 'control conn outlives its timeout: it controls two');
  assert.equal(s.info().expires, 60);
  e.tick(t0 + 72_000);
  assert.equal(e.connections().length, 3, 'again 60 s');
  e.tick(t0 + 121_000);
  assert.equal(dataConns(e, s.ctl).length, 0, 'unused data conns expire after 120 s');
  assert.equal(e.connections().length, 1);
  assert.equal(s.info().nControl, 0);
  e.tick(t0 + 134_000);
  assert.equal(e.connections().length, 0, 'then the control conn goes at its next step');
  assert.equal(e.conns.noCportCount, 0);
  const svc = e.findService({ af: 4, protocol: 6, addr: VIP, port: 21 })!;
  for (const dd of svc.dests) {
    assert.equal(dd.activeconns, 0);
    assert.equal(dd.inactconns, 0);
  }
  assert.equal(e.appData.size + e.seqs.size + e.appOf.size, 0, 'helper state released');
});

test('a data transfer in progress keeps the control conn; deleting a data conn takes its controller', () => {
  const { e } = lab();
  const s = new Session(e, CIP, 40012, VIP, 1000, 5).open();
  s.client(ACK | PSH, 'PASV\r\n');
  s.server(`227 Entering Passive Mode (${pasvText(RIP_SHORT, 50500)}).\r\n`);
  const [dc] = dataConns(e, s.ctl);
  const t = s.t;
  send(e, 'in', { src: CIP, dst: VIP, sport: 46000, dport: 50500, flags: SYN }, t);
  send(e, 'out', { src: RIP_SHORT, dst: CIP, sport: 50500, dport: 46000, flags: SYN | ACK }, t);
  send(e, 'in', { src: CIP, dst: VIP, sport: 46000, dport: 50500, flags: ACK }, t);
  assert.equal(e.connInfo(dc.id).state, 'ESTABLISHED');
  send(e, 'in', s.cspec(RST, ''), t);
  let gone = -1;
  for (let x = t; x <= t + 1_000_000; x += 1000) {
    e.tick(x);
    if (x === t + 20_000) assert.equal(e.connInfo(s.ctl).nControl, 1, 'control kept at 20 s');
    if (e.connections().length === 0 && gone < 0) gone = x - t;
  }
  // the data conn idles out after 900 s, the control conn at its next 60 s step
  assert.ok(gone > 900_000 && gone <= 961_000, `all gone at ${gone} ms`);

  const l2 = lab();
  const s2 = new Session(l2.e, CIP, 40013, VIP, 1000, 5).open();
  s2.client(ACK | PSH, 'PASV\r\n');
  s2.server(`227 Entering Passive Mode (${pasvText(RIP_SHORT, 50600)}).\r\n`);
  const [dc2] = dataConns(l2.e, s2.ctl);
  // §4.6: a deleted (not expired) conn drops its controller when that controls nobody else
  l2.e.deleteConn(dc2.id);
  assert.equal(l2.e.connections().length, 0);
});

test('PORT/EPRT naming anyone but the client never creates a conn', () => {
  const { e, ftp } = lab();
  const s = new Session(e, CIP, 40014, VIP, 1000, 5).open();
  const hostile = [
    'PORT 10,0,9,9,156,64\r\n', // third party
    'PORT 10,0,3,100,156,64\r\n', // the VIP
    'PORT 10,0,2,9,0,22\r\n', // the real server
    'PORT 266,0,1,2,156,64\r\n', // wraps to the client modulo 256 in the kernel
    'PORT 10,0,1,258,156,64\r\n',
    'PORT 10,0,1,2,256,1\r\n',
    'PORT 10,0,1,2,0,0\r\n', // port 0
    'PORT 10,0,1,2,156\r\n', // five numbers
    'PORT 10,0,1,2,156,64,7\r\n', // seven
    'PORT 10,0,1,,156,64\r\n',
    'PORT 10,0,1,2,156,64', // no terminator: incomplete
    'PORT 10,0,1,2,15', // truncated
    'PORT',
    'PORT ',
    'PORT\r\n',
    'PORTS 10,0,1,2,156,64\r\n',
    'PORT -10,0,1,2,156,64\r\n',
    'PORT 10 ,0,1,2,156,64\r\n',
    'PORT 99999999999999999999999,0,1,2,1,1\r\n',
    'NOOP PORT 10,0,1,2,156,64\r\n', // not at the start
    'EPRT |1|10.0.9.9|40000|\r\n',
    'EPRT |2|::1|40000|\r\n', // wrong family
    'EPRT |1|10.0.1.2|0|\r\n',
    'EPRT |1|10.0.1.2|65536|\r\n',
    'EPRT |1|10.0.1.02|40000|\r\n',
    'EPRT |1|10.0.1.2.5|40000|\r\n',
    'EPRT |1|10.0.1.2|40000\r\n',
    'EPRT |1|10.0.1.2|',
    'EPRT |||40000|\r\n',
    'EPRT \x01110.0.1.2\x0140000\x01\r\n', // delimiter out of range
    'EPRT|1|10.0.1.2|40000|\r\n', // no space
    'EPRT ',
  ];
  for (const cmd of hostile) s.client(ACK | PSH, cmd);
  assert.equal(dataConns(e, s.ctl).length, 0, 'no data conn');
  assert.equal(e.connections().length, 1);
  assert.equal(ftp.counters.active, 0);
  assert.ok(ftp.counters.refused >= 3);
  // and the conversation is still healthy
  s.client(ACK | PSH, 'PORT 10,0,1,2,156,64\r\n');
  assert.equal(dataConns(e, s.ctl).length, 1);
});

test('broken, foreign or split passive replies pass unchanged and create nothing', () => {
  const { e, ftp } = lab();
  const s = new Session(e, CIP, 40015, VIP, 1000, 5).open();
  const bad = [
    `227 Entering Passive Mode (10,0,9,9,195,80).\r\n`, // names another host
    `227 Entering Passive Mode (10,0,2,9,256,80).\r\n`,
    `227 Entering Passive Mode (10,0,2,9,195).\r\n`,
    `227 Entering Passive Mode (10,0,2,9,195,80`, // cut at the end of the segment
    `227 Entering Passive Mode (`,
    `227 `,
    `227 Entering Passive Mode (x,0,2,9,195,80).\r\n`,
    `227-Entering Passive Mode (10,0,2,9,195,80).\r\n`,
    `200 Entering Passive Mode (10,0,2,9,195,80).\r\n`,
  ];
  for (const reply of bad) {
    s.client(ACK | PSH, 'PASV\r\n');
    const r = s.server(reply);
    assert.equal(text(r.p.payload), reply);
  }
  // a reply split across two segments: neither part is rewritten
  s.client(ACK | PSH, 'PASV\r\n');
  let r = s.server('227 Entering Passive Mode (10,0,2,');
  assert.equal(text(r.p.payload), '227 Entering Passive Mode (10,0,2,');
  r = s.server('9,195,80).\r\n');
  assert.equal(text(r.p.payload), '9,195,80).\r\n');
  assert.equal(e.connections().length, 1, 'no data conn');
  assert.equal(s.info().flags & CONN_F_OUT_SEQ, 0, 'nothing resized');
  assert.ok(ftp.counters.incomplete >= 2);
  assert.ok(ftp.counters.refused >= 1);
  // EPSV replies naming another host, the wrong family or a bad port
  for (const reply of [
    '229 x (|1|10.0.9.9|50000|)\r\n',
    '229 x (|2|::1|50000|)\r\n',
    '229 x (|||0|)\r\n',
    '229 x (|||99999|)\r\n',
    '229 x (|||50000)\r\n',
    '229 x |||50000|\r\n',
  ]) {
    s.client(ACK | PSH, 'EPSV\r\n');
    r = s.server(reply);
    assert.equal(text(r.p.payload), reply);
  }
  assert.equal(e.connections().length, 1, 'still no data conn');
  // 227 without a PASV first is just text
  r = s.server(`227 Entering Passive Mode (${pasvText(RIP_SHORT, 50000)}).\r\n`);
  assert.ok(text(r.p.payload).includes(pasvText(RIP_SHORT, 50000)));
});

test('a reply that cannot grow inside its buffer is dropped, without a data conn', () => {
  const { e, ftp } = lab();
  const s = new Session(e, CIP, 40016, VIP, 1000, 5).open();
  s.client(ACK | PSH, 'PASV\r\n');
  const spec = s.sspec(ACK | PSH, `227 Entering Passive Mode (${pasvText(RIP_SHORT, 50000)}).\r\n`);
  const r = send(e, 'out', spec, 2000, 1); // needs 2 spare bytes, has 1
  assert.equal(r.v, V_DROP);
  assert.equal(e.result.reason, DropReason.HELPER);
  assert.equal(ftp.counters.noRoom, 1);
  assert.equal(e.connections().length, 1);
  // the retransmission with room goes through
  const ok = send(e, 'out', spec, 2001, 2);
  assert.equal(ok.v, V_FORWARD);
  assert.ok(text(ok.p.payload).includes(pasvText(VIP, 50000)));
  assert.equal(e.connections().length, 2);
});

test('the helper acts only on ESTABLISHED NAT control conns on its ports', () => {
  // PORT in the payload of a SYN (SYN_RECV): ignored
  const { e } = lab();
  const r = send(
    e,
    'in',
    { src: CIP, dst: VIP, sport: 40017, dport: 21, flags: SYN, payload: 'PORT 10,0,1,2,1,1\r\n' },
    1000,
  );
  assert.equal(r.v, V_FORWARD);
  assert.equal(e.connections().length, 1);

  // DR service: no helper bound
  const dr = new Engine({ random: rng(1) });
  registerFtp(dr);
  const key: ServiceKey = { af: 4, protocol: 6, addr: VIP, port: 21 };
  dr.addService(key, { scheduler: 'rr' });
  dr.addDest(key, { addr: RIP_SHORT, port: 21, fwd: 'droute' });
  send(dr, 'in', { src: CIP, dst: VIP, sport: 40018, dport: 21, flags: SYN }, 1000);
  assert.equal(dr.appOf.size, 0);

  // another port list: 2121 helped, 21 not
  const e2 = new Engine({ random: rng(1) });
  registerFtp(e2, [0, 2121]);
  for (const port of [21, 2121]) {
    const k: ServiceKey = { af: 4, protocol: 6, addr: VIP, port };
    e2.addService(k, { scheduler: 'rr' });
    e2.addDest(k, { addr: RIP_SHORT, port, fwd: 'masq' });
    send(e2, 'in', { src: CIP, dst: VIP, sport: 40019, dport: port, flags: SYN }, 1000);
  }
  assert.deepEqual(
    [...e2.appOf.keys()].map((id) => e2.connInfo(id).vport),
    [2121],
  );
});

test('createFtpHelper validates its ports like the kernel module parameter', () => {
  assert.deepEqual(createFtpHelper().ports, [21]);
  assert.deepEqual(createFtpHelper([0, 21, 0, 2121, 21]).ports, [21, 2121]);
  assert.throws(() => createFtpHelper([1, 2, 3, 4, 5, 6, 7, 8, 9]), RangeError);
  assert.throws(() => createFtpHelper([65536]), RangeError);
  assert.throws(() => createFtpHelper([21.5]), RangeError);
  assert.equal(createFtpHelper([1, 2, 3, 4, 5, 6, 7, 8]).ports.length, 8);
});

test('random garbage and mutated commands never throw and never reach a third party', () => {
  const rnd = rng(2024);
  const seeds = [
    'PORT 10,0,1,2,156,64\r\n',
    'EPRT |1|10.0.1.2|40000|\r\n',
    'PASV\r\n',
    'EPSV\r\n',
    'EPSV 1\r\n',
  ];
  const replies = [
    `227 Entering Passive Mode (${pasvText(RIP_SHORT, 50000)}).\r\n`,
    '229 Entering Extended Passive Mode (|||50001|)\r\n',
    `229 x (|1|${RIP_SHORT}|50002|)\r\n`,
  ];
  const alphabet = '0123456789,.|()! \r\nPORTEPSVAabcdef:';
  const mutate = (s: string): string => {
    const a = [...s];
    for (let k = 1 + Math.floor(rnd() * 3); k > 0; k--) {
      const i = Math.floor(rnd() * (a.length + 1));
      const op = rnd();
      const ch = alphabet[Math.floor(rnd() * alphabet.length)];
      if (op < 0.4) a[i] = ch;
      else if (op < 0.7) a.splice(i, 0, ch);
      else a.splice(i, 1);
    }
    return a.join('').slice(0, Math.floor(rnd() * 60) + 1);
  };
  for (const af of [4, 6] as const) {
    const { e } = lab(af);
    const cip = af === 4 ? CIP : CIP6;
    const vip = af === 4 ? VIP : VIP6;
    const s = new Session(e, cip, 40020, vip, 1000, 5).open();
    for (let i = 0; i < 1500; i++) {
      const pick = rnd();
      if (pick < 0.45) {
        let cmd = mutate(seeds[Math.floor(rnd() * seeds.length)]);
        if (af === 6)
          cmd = cmd.replace('10.0.1.2', rnd() < 0.5 ? CIP6 : '::1').replace('|1|', '|2|');
        s.client(ACK | PSH, cmd);
      } else if (pick < 0.55) {
        s.client(ACK | PSH, String.fromCharCode(...Array.from({ length: 20 }, () => rnd() * 256)));
      } else {
        let reply = mutate(replies[Math.floor(rnd() * replies.length)]);
        if (af === 6) reply = reply.replace(`|1|${RIP_SHORT}|`, `|2|${RIP6_A}|`);
        s.server(reply);
      }
    }
    for (const c of e.connections()) {
      assert.equal(c.caddr, cip, 'every conn is for the client');
      assert.equal(c.daddr, s.rip, 'and the real server');
    }
  }
});

test('IPv6 EPSV reply naming the server with another delimiter is normalised', () => {
  const { e } = lab(6, [RIP6_B]);
  const s = new Session(e, CIP6, 40021, VIP6, 1000, 5).open();
  s.client(ACK | PSH, 'EPSV\r\n');
  const r = s.server(`229 ok (!2!${RIP6_B}!50700!)\r\n`);
  assert.equal(text(r.p.payload), '229 ok (|||50700|)\r\n');
  assert.equal(dataConns(e, s.ctl)[0].daddr, RIP6_B);
  s.client(ACK, '');
  for (let i = 0; i < 5; i++) {
    s.server(`200-${i}\r\n`);
    s.client(ACK | PSH, `NOOP\r\n`);
  }
});
