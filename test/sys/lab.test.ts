import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, describe, it } from 'node:test';
import { labDown, labEnv, labNamespaces, labUp } from '../../src/sys/lab.js';
import { sh, skipReason, uniquePrefix } from '../dataplane/helpers.js';

const skip = skipReason();
if (skip) console.log(`# skipping lab tests: ${skip}`);

function namespacesWith(prefix: string): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8', timeout: 5000 })
    .split('\n')
    .map((l) => l.split(' ')[0])
    .filter((n) => n.startsWith(`${prefix}-`));
}

function hostLinks(): string {
  return execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8', timeout: 5000 });
}

function pingOk(ns: string, addr: string): boolean {
  try {
    execFileSync('ip', ['netns', 'exec', ns, 'ping', '-c', '1', '-W', '2', addr], {
      timeout: 5000,
      stdio: 'ignore',
    });
    return true;
  } catch {
    return false;
  }
}

describe('lab', { skip, timeout: 120_000 }, () => {
  const a = uniquePrefix('la');
  const b = uniquePrefix('lb');
  const down = (): void => {
    labDown({ prefix: a });
    labDown({ prefix: b });
  };
  after(down);
  process.once('exit', down);

  it('builds client, director and two real servers that reach each other, and coexists with another lab', () => {
    const linksBefore = hostLinks();
    const env = labUp({ prefix: a });
    const env2 = labUp({ prefix: b, vipOnDirector: false });
    assert.deepEqual(namespacesWith(a).sort(), labNamespaces(env).sort());
    assert.equal(env.vip4, '10.201.3.100');
    assert.equal(env.vipOnDirector, true);
    assert.equal(env2.vipOnDirector, false);
    assert.deepEqual(labEnv({ prefix: a }).ns, env.ns);
    // nothing was added to the host namespace
    assert.equal(hostLinks(), linksBefore);

    assert.ok(pingOk(env.ns.client, env.rs[0].ip4), 'client → rs1 through the director');
    assert.ok(pingOk(env.ns.client, env.rs[1].ip6), 'client → rs2 over IPv6');
    assert.ok(pingOk(env.ns.client, env.vip4), 'client → VIP local on the director');
    assert.ok(pingOk(env.ns.director, env.rs[1].ip4), 'director → rs2 on the server LAN');
    assert.ok(
      !pingOk(env2.ns.client, env2.vip4),
      'no VIP on the director with vipOnDirector false',
    );
    assert.ok(pingOk(env2.ns.client, env2.rs[0].ip4), 'second lab works with the same addresses');

    const rs1 = env.rs[0].ns;
    assert.match(sh('ip', ['-n', rs1, 'addr', 'show', 'dev', 'lo']), /10\.201\.3\.100\/32/);
    assert.equal(
      sh('ip', ['netns', 'exec', rs1, 'sysctl', '-n', 'net.ipv4.conf.all.arp_ignore']).trim(),
      '1',
    );
    assert.equal(
      sh('ip', ['netns', 'exec', rs1, 'sysctl', '-n', 'net.ipv4.conf.all.arp_announce']).trim(),
      '2',
    );
    assert.equal(
      sh('ip', ['netns', 'exec', env.ns.director, 'sysctl', '-n', 'net.ipv4.ip_forward']).trim(),
      '1',
    );
    // the director reaches both real servers at L2 on its server-side bridge
    assert.match(sh('ip', ['-n', env.ns.director, 'neigh', 'show', env.rs[1].ip4]), /lladdr/);
  });

  it('down removes every namespace and interface of the prefix, and can run again', () => {
    labDown({ prefix: a });
    assert.deepEqual(namespacesWith(a), []);
    labDown({ prefix: a });
    assert.deepEqual(namespacesWith(a), []);
    assert.ok(!hostLinks().includes(a));
    assert.equal(namespacesWith(b).length, 4, 'the other lab is untouched');
    labDown({ prefix: b });
    assert.deepEqual(namespacesWith(b), []);
  });
});
