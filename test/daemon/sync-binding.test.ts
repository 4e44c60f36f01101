/**
 * The sync backup's socket is bound as the kernel's make_receive_sock binds it: to the
 * group, joined on the sync interface — so a forged unicast datagram to one of the
 * director's addresses never reaches it, and a group datagram from outside the sync
 * interface's link is dropped and counted. Real sockets on `lo`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { networkInterfaces } from 'node:os';
import { Engine } from '../../src/engine/engine.js';
import { SyncDaemons, onLink, type LinkNet } from '../../src/sync/daemon.js';
import { parseAddr } from '../../src/engine/addr.js';
import { waitFor } from '../helpers/wait.js';

const GROUP = '224.0.0.81';

function send(to: string, port: number, from?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    s.bind({ port: 0, address: from }, () => {
      try {
        s.setMulticastInterface('127.0.0.1');
        s.setMulticastLoopback(true);
      } catch {
        // unicast
      }
      s.send(Buffer.from('not a sync message'), port, to, (e) => {
        s.close();
        if (e) reject(e);
        else resolve();
      });
    });
  });
}

test('the backup takes group datagrams on its link and never a unicast one', async () => {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const sync = new SyncDaemons(new Engine(), () => undefined);
  sync.start({
    state: 'backup',
    mcastIfn: 'lo',
    syncId: 0,
    maxLen: 1472,
    mcastGroup: GROUP,
    mcastPort: port,
    mcastTtl: 1,
  });
  try {
    const c = sync.counters('backup')!;
    // a forged unicast datagram to the director's own address: the kernel's socket,
    // bound to the group, never sees it
    for (let i = 0; i < 3; i++) await send('127.0.0.1', port);
    await send(GROUP, port);
    await waitFor(() => c.datagrams + c.refused >= 1, { what: 'the group datagram' });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(c.datagrams, 1, 'only the group datagram was received');
    // from an address that is not on lo's link (another address of this host)
    const other = Object.entries(networkInterfaces())
      .filter(([n]) => n !== 'lo')
      .flatMap(([, l]) => l ?? [])
      .find((a) => a.family === 'IPv4' && !a.internal);
    if (other) {
      await send(GROUP, port, other.address);
      await waitFor(() => c.refused === 1, {
        what: 'the datagram from off the link to be refused',
      });
      assert.equal(c.datagrams, 1);
    }
  } finally {
    sync.stopAll();
  }
});

test('onLink: the interface subnets in either family, and IPv6 link-local', () => {
  const net = (a: string, prefix: number): LinkNet => {
    const p = parseAddr(a)!;
    return { af: p.af, words: p.words, prefix };
  };
  const nets = [net('192.168.10.1', 24), net('2001:db8:1::1', 64)];
  assert.equal(onLink('192.168.10.77', nets), true);
  assert.equal(onLink('192.168.11.77', nets), false);
  assert.equal(onLink('2001:db8:1::99', nets), true);
  assert.equal(onLink('2001:db8:2::99', nets), false);
  assert.equal(onLink('fe80::1%eth0', nets), true);
  assert.equal(onLink('10.0.0.1', [net('10.0.0.0', 0)]), true);
  assert.equal(onLink('junk', nets), false);
});

test('a started daemon is settled once bound and joined: the first datagram after it arrives', async () => {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const sync = new SyncDaemons(new Engine(), () => undefined);
  sync.start({
    state: 'backup',
    mcastIfn: 'lo',
    syncId: 0,
    maxLen: 1472,
    mcastGroup: GROUP,
    mcastPort: port,
    mcastTtl: 1,
  });
  try {
    // what a --start-daemon answer waits for
    await sync.settled();
    await send(GROUP, port);
    const c = sync.counters('backup')!;
    await waitFor(() => c.datagrams === 1, { what: 'the first datagram' });
  } finally {
    sync.stopAll();
  }
});
