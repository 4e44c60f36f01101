/**
 * The sync backup's socket is bound as the kernel's make_receive_sock binds it: to the
 * group, joined on the sync interface — so a forged unicast datagram to one of the
 * director's addresses never reaches it, and a group datagram from outside the sync
 * interface's link is dropped and counted. Real sockets on `lo`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
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

test(
  'a backup started while its interface is down joins the group once the link is up',
  { skip: process.getuid?.() !== 0 && 'needs root (a veth pair)' },
  async () => {
    // the kernel joins by interface index, so its membership is there whatever the
    // link's state; Node joins by address, which a down link does not list
    const ifn = 'tsvsyncdn0';
    const ip = (...a: string[]): void => {
      const r = spawnSync('ip', a, { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`ip ${a.join(' ')}: ${r.stderr}`);
    };
    spawnSync('ip', ['link', 'del', ifn]);
    ip('link', 'add', ifn, 'type', 'veth', 'peer', 'name', `${ifn}p`);
    ip('addr', 'add', '198.18.77.1/24', 'dev', ifn);
    const port = 20000 + Math.floor(Math.random() * 20000);
    const lines: string[] = [];
    const sync = new SyncDaemons(new Engine(), (l) => lines.push(l));
    try {
      sync.start({
        state: 'backup',
        mcastIfn: ifn,
        syncId: 0,
        maxLen: 1472,
        mcastGroup: GROUP,
        mcastPort: port,
        mcastTtl: 1,
      });
      await sync.settled();
      assert.match(lines.join('\n'), /join 224\.0\.0\.81 on tsvsyncdn0: .*trying again/);
      ip('link', 'set', `${ifn}p`, 'up');
      ip('link', 'set', ifn, 'up');
      await waitFor(() => lines.some((l) => /join .* tsvsyncdn0: done/.test(l)), {
        what: 'the join once the link is up',
        timeout: 5000,
      });
      // a group datagram sent out of the interface (looped back as received on it)
      await new Promise<void>((resolve, reject) => {
        const s = createSocket('udp4');
        s.bind({ port: 0, address: '198.18.77.1' }, () => {
          s.setMulticastInterface('198.18.77.1');
          s.setMulticastLoopback(true);
          s.send(Buffer.from('not a sync message'), port, GROUP, (e) => {
            s.close();
            if (e) reject(e);
            else resolve();
          });
        });
      });
      const c = sync.counters('backup')!;
      await waitFor(() => c.datagrams === 1, { what: 'the datagram through the joined group' });
      assert.equal(c.refused, 0);
    } finally {
      sync.stopAll();
      spawnSync('ip', ['link', 'del', ifn]);
    }
  },
);
