/**
 * Frames for another host's MAC, with the fast path off (docs/scale-out.md, "Frames for
 * another host's MAC"): a switch that floods unknown unicast — right after a port went
 * down, or a dead director's MAC aged out — delivers frames addressed to another MAC to
 * every port. The kernel's IPVS never sees them: `ip_rcv` drops a PACKET_OTHERHOST
 * frame. tsvs's u32 steering filters match the destination MAC (the interface's own),
 * so such a frame is not balanced either; frames to the director's MAC are. A frame for
 * the VIP sent to the broadcast MAC reaches the IP layer (PACKET_BROADCAST) but not
 * IPVS (`ip_vs_in_hook` takes PACKET_HOST only): the queue chains return such packets.
 *
 * The lab's client LAN is a bridge in the client namespace: with the director's
 * neighbour entry pointing at a MAC no port has, the bridge floods the client's frames
 * to the director (and the real servers' client-side ports).
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Lab, configure, e2eUnavailable, serversListening, sh, type Daemon } from './harness.js';

/** A MAC no interface of the lab has (locally administered). */
const STRANGER = '02:00:00:e2:e2:01';

interface LinkStats {
  ifname: string;
  stats64?: { rx?: { packets?: number }; tx?: { packets?: number } };
}

/**
 * Packets tc redirected into the request TUN (`TX` of tsvsi-*) and packets the
 * director's client-side interface received.
 */
async function counts(lab: Lab): Promise<{ steered: number; received: number }> {
  const r = await sh(lab.ns.director, 'ip', ['-j', '-s', 'link', 'show']);
  const links = JSON.parse(r.stdout) as LinkStats[];
  const tun = links.find((x) => x.ifname.startsWith('tsvsi-'));
  const dev = links.find((x) => x.ifname === lab.env.director.clientIf);
  return { steered: tun?.stats64?.tx?.packets ?? -1, received: dev?.stats64?.rx?.packets ?? -1 };
}

describe(
  "e2e steering, fast path off: frames for another host's MAC are not balanced",
  { skip: e2eUnavailable() ?? false, timeout: 90_000 },
  () => {
    let lab: Lab;
    let d: Daemon;
    let url: string;
    let dirMac: string;

    const conns = async (): Promise<number> =>
      (await d.client.call({ cmd: 'listConnections' })).filter((c) => c.vport === 80).length;
    const neigh = async (mac: string): Promise<void> => {
      const r = await sh(lab.ns.client, 'ip', [
        'neigh',
        'replace',
        lab.env.director.client4,
        'lladdr',
        mac,
        'dev',
        'br0',
        'nud',
        'permanent',
      ]);
      assert.equal(r.code, 0, r.stderr);
    };

    before(async () => {
      lab = Lab.up('e2ehl-oh');
      url = `http://${lab.env.vip4}/`;
      lab.http(0, 8080);
      lab.http(1, 8080);
      await serversListening(lab, [8080]);
      d = await lab.daemon(['--no-fastpath']);
      assert.ok(
        d.log.some((l) => l.includes('tc steering into')),
        `steering is on: ${d.log.join(' | ')}`,
      );
      await configure(
        d.client,
        { af: 4, protocol: 6, addr: lab.env.vip4, port: 80, scheduler: 'rr' },
        [
          { addr: lab.env.rs[0].ip4, port: 8080, fwd: 'masq' },
          { addr: lab.env.rs[1].ip4, port: 8080, fwd: 'masq' },
        ],
      );
      const l = JSON.parse(
        (await sh(lab.ns.director, 'ip', ['-j', 'link', 'show', lab.env.director.clientIf])).stdout,
      ) as { address: string }[];
      dirMac = l[0].address;
    });

    after(async () => {
      await lab?.down();
    });

    test("the filters match the interface's own MAC; a frame to another MAC is not balanced, one to the director's is", async () => {
      // the request filters on the client-side interface carry its MAC (tc prints the
      // destination MAC's first two bytes in the word at -16, the other four at -12)
      const f = await sh(lab.ns.director, 'tc', [
        'filter',
        'show',
        'dev',
        lab.env.director.clientIf,
        'ingress',
      ]);
      const h = dirMac.split(':').join('');
      assert.match(f.stdout, new RegExp(`match 0000${h.slice(0, 4)}/0000ffff at -16`));
      assert.match(f.stdout, new RegExp(`match ${h.slice(4)}/ffffffff at -12`));

      // frames to the director's MAC: balanced
      await neigh(dirMac);
      const ok = await lab.client('curl', ['-s', '-m', '5', url]);
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(ok.stdout, /rs[12]/);

      // frames to a MAC that is no one's: the bridge floods them, the director's
      // interface receives them as PACKET_OTHERHOST; neither tc nor the kernel takes them
      await neigh(STRANGER);
      // the last packets of the previous connection (its closing ACKs) are counted first
      await new Promise((r) => setTimeout(r, 500));
      const c0 = await conns();
      const s0 = await counts(lab);
      const r = await lab.client('curl', ['-s', '-m', '3', '--connect-timeout', '2', url]);
      const s1 = await counts(lab);
      const c1 = await conns();
      console.log(
        `# to ${STRANGER}: curl exit ${r.code}; the director received ${s1.received - s0.received} packets, steered ${s1.steered - s0.steered}; connections ${c0} → ${c1}`,
      );
      // the SYN and its retransmissions did reach the director's interface
      assert.ok(s1.received - s0.received >= 2, JSON.stringify([s0, s1]));
      assert.notEqual(r.code, 0, `a connection through frames to another MAC: ${r.stdout}`);
      assert.equal(s1.steered - s0.steered, 0, 'frames for another MAC were steered');
      assert.equal(c1, c0, 'the director scheduled a connection from frames for another MAC');

      // and back to the director's MAC: balanced again
      await neigh(dirMac);
      const again = await lab.client('curl', ['-s', '-m', '5', url]);
      assert.equal(again.code, 0, again.stderr);
      assert.ok((await counts(lab)).steered > s1.steered, 'the requests to its MAC are steered');
    });

    test('a frame for the VIP sent to the broadcast MAC is not balanced (ip_vs_in takes PACKET_HOST only)', async () => {
      // the director receives it as PACKET_BROADCAST: ip_rcv passes it up, the kernel's
      // IPVS ignores it (the local stack has it); neither the u32 filters nor the queue
      // chains take it
      await neigh('ff:ff:ff:ff:ff:ff');
      await new Promise((r) => setTimeout(r, 500));
      const c0 = await conns();
      const s0 = await counts(lab);
      const r = await lab.client('curl', ['-s', '-m', '3', '--connect-timeout', '2', url]);
      const s1 = await counts(lab);
      const c1 = await conns();
      console.log(
        `# to the broadcast MAC: curl exit ${r.code}; the director received ${s1.received - s0.received} packets, steered ${s1.steered - s0.steered}; connections ${c0} → ${c1}`,
      );
      assert.ok(s1.received - s0.received >= 1, JSON.stringify([s0, s1]));
      assert.notEqual(r.code, 0, `a connection through broadcast frames: ${r.stdout}`);
      assert.equal(s1.steered - s0.steered, 0, 'broadcast frames were steered');
      assert.equal(c1, c0, 'the director scheduled a connection from broadcast frames');
      await neigh(dirMac);
      const again = await lab.client('curl', ['-s', '-m', '5', url]);
      assert.equal(again.code, 0, again.stderr);
    });
  },
);
