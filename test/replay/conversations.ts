/**
 * The hand-made conversations the replay tests run. Each fixture
 * test/fixtures/replay/NAME.golden holds the trace of NAME written by hand from the
 * spec's tables (§2.1 timeouts, §2.3 transitions, §3 UDP, §4.5–§4.6 templates), and
 * NAME.conf the configuration.
 */
import { ACK, FIN, PSH, RST, SYN } from '../helpers/packets.js';
import type { SpecStep } from './helpers.js';

export const VIP = '10.0.3.100';
export const CIP = '10.0.1.2';
export const RIP1 = '10.0.2.11';
export const RIP2 = '10.0.2.12';

const REQUEST = 'GET / HTTP/1.0\r\n\r\n'; // 18 bytes
const RESPONSE = 'HTTP/1.0 200 OK\r\n\r\nhello\n'; // 25 bytes

/**
 * NAT TCP (nat-tcp.conf, rr over RIP1 then RIP2 added): handshake, request, response,
 * FIN both ways, a long gap so the conn expires in TIME_WAIT, a stray ACK that
 * creates nothing, and a new SYN that rr sends to the other real server.
 */
export const NAT_TCP: SpecStep[] = [
  { at: 0, pkt: { src: CIP, dst: VIP, sport: 40000, dport: 80, flags: SYN, seq: 1000 } },
  {
    at: 0.001,
    pkt: { src: RIP2, dst: CIP, sport: 80, dport: 40000, flags: SYN | ACK, seq: 5000, ack: 1001 },
  },
  {
    at: 0.002,
    pkt: { src: CIP, dst: VIP, sport: 40000, dport: 80, flags: ACK, seq: 1001, ack: 5001 },
  },
  {
    at: 0.003,
    pkt: {
      src: CIP,
      dst: VIP,
      sport: 40000,
      dport: 80,
      flags: PSH | ACK,
      seq: 1001,
      ack: 5001,
      payload: REQUEST,
    },
  },
  {
    at: 0.01,
    pkt: {
      src: RIP2,
      dst: CIP,
      sport: 80,
      dport: 40000,
      flags: PSH | ACK,
      seq: 5001,
      ack: 1019,
      payload: RESPONSE,
    },
  },
  {
    at: 0.011,
    pkt: { src: CIP, dst: VIP, sport: 40000, dport: 80, flags: ACK, seq: 1019, ack: 5026 },
  },
  {
    at: 1,
    pkt: { src: CIP, dst: VIP, sport: 40000, dport: 80, flags: FIN | ACK, seq: 1019, ack: 5026 },
  },
  {
    at: 1.001,
    pkt: { src: RIP2, dst: CIP, sport: 80, dport: 40000, flags: FIN | ACK, seq: 5026, ack: 1020 },
  },
  {
    at: 1.002,
    pkt: { src: CIP, dst: VIP, sport: 40000, dport: 80, flags: ACK, seq: 1020, ack: 5027 },
  },
  {
    at: 150,
    pkt: { src: '10.0.1.3', dst: VIP, sport: 40005, dport: 80, flags: ACK, seq: 7, ack: 9 },
  },
  { at: 200, pkt: { src: CIP, dst: VIP, sport: 40001, dport: 80, flags: SYN, seq: 2000 } },
];

const QUERY = new Uint8Array(20).fill(0x51);
const ANSWER = new Uint8Array(40).fill(0x41);

/**
 * NAT UDP (udp.conf): query, answer, a second query without a UDP checksum, the
 * 300 s UDP timeout, a new conn to the other real server, and a port with no service.
 */
export const UDP: SpecStep[] = [
  { at: 0, pkt: { proto: 'udp', src: CIP, dst: VIP, sport: 5353, dport: 53, payload: QUERY } },
  {
    at: 0.002,
    pkt: { proto: 'udp', src: RIP2, dst: CIP, sport: 53, dport: 5353, payload: ANSWER },
  },
  {
    at: 10,
    pkt: {
      proto: 'udp',
      src: CIP,
      dst: VIP,
      sport: 5353,
      dport: 53,
      payload: QUERY,
      noUdpChecksum: true,
    },
  },
  { at: 400, pkt: { proto: 'udp', src: CIP, dst: VIP, sport: 5353, dport: 53, payload: QUERY } },
  { at: 401, pkt: { proto: 'udp', src: CIP, dst: VIP, sport: 5353, dport: 54, payload: QUERY } },
];

const tick = (at: number): SpecStep => ({
  at,
  pkt: { proto: 'udp', src: '10.0.1.9', dst: VIP, sport: 7000, dport: 9, payload: 'tick' },
});

/**
 * Persistence (persist.conf, -p 60): a first connection creates the template, a
 * second one from the same client follows it to the same real server and re-arms it,
 * then is reset; the template outlives its timeout in 60 s steps while the first
 * connection (TIME_WAIT, 120 s) still depends on it, and expires after. Unrelated
 * UDP packets move the clock. A later connection gets a new template and, by rr,
 * the other real server.
 */
export const PERSIST: SpecStep[] = [
  { at: 0, pkt: { src: CIP, dst: VIP, sport: 41000, dport: 443, flags: SYN, seq: 100 } },
  {
    at: 0.001,
    pkt: { src: RIP2, dst: CIP, sport: 443, dport: 41000, flags: SYN | ACK, seq: 900, ack: 101 },
  },
  {
    at: 0.002,
    pkt: { src: CIP, dst: VIP, sport: 41000, dport: 443, flags: ACK, seq: 101, ack: 901 },
  },
  {
    at: 0.003,
    pkt: { src: CIP, dst: VIP, sport: 41000, dport: 443, flags: FIN | ACK, seq: 101, ack: 901 },
  },
  {
    at: 0.004,
    pkt: { src: RIP2, dst: CIP, sport: 443, dport: 41000, flags: FIN | ACK, seq: 901, ack: 102 },
  },
  {
    at: 0.005,
    pkt: { src: CIP, dst: VIP, sport: 41000, dport: 443, flags: ACK, seq: 102, ack: 902 },
  },
  { at: 10, pkt: { src: CIP, dst: VIP, sport: 41001, dport: 443, flags: SYN, seq: 300 } },
  {
    at: 10.001,
    pkt: { src: RIP2, dst: CIP, sport: 443, dport: 41001, flags: SYN | ACK, seq: 700, ack: 301 },
  },
  {
    at: 10.002,
    pkt: { src: CIP, dst: VIP, sport: 41001, dport: 443, flags: ACK, seq: 301, ack: 701 },
  },
  { at: 10.003, pkt: { src: CIP, dst: VIP, sport: 41001, dport: 443, flags: RST, seq: 301 } },
  tick(75),
  tick(125),
  tick(140),
  { at: 150, pkt: { src: CIP, dst: VIP, sport: 41002, dport: 443, flags: SYN, seq: 500 } },
];
