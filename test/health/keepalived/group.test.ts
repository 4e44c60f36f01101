/**
 * virtual_server_group as keepalived reads and expands it (check_data.c alloc_vsg_entry,
 * ipvswrapper.c ipvs_group_range_cmd): ranges of the last IPv4 octet (decimal) and the
 * last IPv6 group (hexadecimal), full end addresses, prefixes, ports, fwmarks with and
 * without a family, several virtual_server blocks sharing one group, and the refusals.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseKeepalived } from '../../../src/health/keepalived.js';
import {
  servicesOf,
  servicesWithDests,
  serviceLabel,
} from '../../../src/health/keepalived/control.js';
import { hasWarning } from './helpers.js';

const RS = `real_server 10.0.1.1 8080 {\n weight 2\n }`;

function ids(text: string): string[][] {
  const cfg = parseKeepalived(text);
  return cfg.virtualServers.map((vs) =>
    servicesOf(vs).map((s) =>
      s.id.fwmark ? `FWM ${s.id.fwmark}/${s.id.af}` : `${s.id.protocol} ${s.id.addr}:${s.id.port}`,
    ),
  );
}

test('ranges, single addresses, ports and fwmarks expand to one service each, in keepalived order', () => {
  const text = `virtual_server_group G {
  10.0.0.1-3 80
  10.0.0.9 0
  10.0.0.254-10.0.1.1 443
  10.0.2.0/30 25
  fwmark 7
  fwmark 8 inet
}
virtual_server group G {
  lvs_sched rr
  lvs_method NAT
  protocol TCP
  persistence_timeout 60
  ${RS}
}`;
  assert.deepEqual(ids(text), [
    [
      '6 10.0.0.1:80',
      '6 10.0.0.2:80',
      '6 10.0.0.3:80',
      '6 10.0.0.9:0',
      '6 10.0.0.254:443',
      '6 10.0.0.255:443',
      '6 10.0.1.0:443',
      '6 10.0.1.1:443',
      '6 10.0.2.0:25',
      '6 10.0.2.1:25',
      '6 10.0.2.2:25',
      '6 10.0.2.3:25',
      'FWM 7/4',
      'FWM 8/4',
    ],
  ]);
  const cfg = parseKeepalived(text);
  assert.deepEqual(cfg.warnings, []);
  assert.equal(serviceLabel(cfg.virtualServers[0]), '[G]:0');
});

test('IPv6: the range end is the last group, in hexadecimal; a /126 is four addresses', () => {
  const text = `virtual_server_group V6 {
  2001:db8::8-b 80
  2001:db8::1:0/126 443
}
virtual_server group V6 {
  lvs_sched rr
  lvs_method DR
  protocol TCP
  real_server 2001:db8::100 80 {
  }
}`;
  assert.deepEqual(ids(text), [
    [
      '6 2001:db8::8:80',
      '6 2001:db8::9:80',
      '6 2001:db8::a:80',
      '6 2001:db8::b:80',
      '6 2001:db8::1:0:443',
      '6 2001:db8::1:1:443',
      '6 2001:db8::1:2:443',
      '6 2001:db8::1:3:443',
    ],
  ]);
  const vs = parseKeepalived(text).virtualServers[0];
  assert.equal(vs.af, 6);
});

test('a group shared by a TCP and a UDP virtual server: the members are numbered as keepalived does', () => {
  const text = `virtual_server_group DNS {
  10.0.0.53 53
}
virtual_server group DNS {
  lvs_sched rr
  lvs_method NAT
  protocol TCP
  ${RS}
}
virtual_server group DNS {
  lvs_sched rr
  lvs_method NAT
  protocol UDP
  ${RS}
}`;
  assert.deepEqual(ids(text), [['6 10.0.0.53:53'], ['17 10.0.0.53:53']]);
  const cfg = parseKeepalived(text);
  assert.deepEqual(
    cfg.virtualServers.map((v) => serviceLabel(v)),
    ['[DNS]:0', '[DNS]:1'],
  );
});

test('the group may come after the virtual server that uses it', () => {
  const text = `virtual_server group LATE {
  lvs_sched rr
  lvs_method NAT
  protocol TCP
  ${RS}
}
virtual_server_group LATE {
  10.0.0.1 80
}`;
  assert.deepEqual(ids(text), [['6 10.0.0.1:80']]);
});

test('bad entries are refused with keepalived-like messages; an empty group is removed', () => {
  const cfg = parseKeepalived(`virtual_server_group BAD {
  10.0.0.5-3 80
  10.0.0.1-300 80
  10.0.0.1/24 80
  10.0.0.0/8 80
  10.0.0.x 80
  10.0.0.1 70000
  fwmark x
  fwmark 3 inet7
}
virtual_server group BAD {
  lvs_sched rr
  ${RS}
}
virtual_server_group MIX {
  10.0.0.1 80
  2001:db8::1 80
  fwmark 5
}`);
  hasWarning(
    cfg,
    /^line 2: Address range end is not greater than address range start - 10\.0\.0\.5-3/,
  );
  hasWarning(cfg, /^line 3: Virtual server group range end invalid or too large - 10\.0\.0\.1-300/);
  hasWarning(cfg, /^line 4: Address mask bits not empty - 10\.0\.0\.1\/24/);
  hasWarning(cfg, /^line 5: Range of more than 65536 addresses not supported by tsvs/);
  hasWarning(cfg, /^line 6: Invalid virtual server group IP address - 10\.0\.0\.x/);
  hasWarning(cfg, /^line 7: Invalid virtual server group IP address 10\.0\.0\.1\/port\/70000/);
  hasWarning(cfg, /^line 8: \(BAD\): fwmark 'x' must be in/);
  hasWarning(cfg, /^line 9: \(BAD\): fwmark '3' family inet7 unknown/);
  hasWarning(cfg, /^line 1: virtual server group BAD has no entries - removing/);
  hasWarning(cfg, /^line 11: Virtual server group BAD specified but not configured/);
  hasWarning(
    cfg,
    /^line 17: virtual server group MIX cannot have IPv4, IPv6 and fwmark without family/,
  );
  assert.equal(cfg.virtualServers.length, 0);
});

test('group rules: port 0 forces persistence, granularity is not applied, fwmark-only ignores protocol', () => {
  const cfg = parseKeepalived(`virtual_server_group Z {
  10.0.0.1
}
virtual_server group Z {
  lvs_sched rr
  lvs_method NAT
  protocol TCP
  persistence_granularity 255.255.255.0
  ${RS}
}
virtual_server_group M {
  fwmark 9
}
virtual_server group M {
  lvs_sched rr
  lvs_method NAT
  protocol UDP
  ${RS}
}`);
  const [z, m] = cfg.virtualServers;
  assert.equal(z.persistenceTimeout, 360);
  assert.equal(z.persistenceGranularity, undefined);
  hasWarning(
    cfg,
    /^line 8: persistence_granularity is not applied to the services of virtual_server_group Z/,
  );
  assert.equal(servicesOf(z)[0].spec.netmask, undefined);
  hasWarning(
    cfg,
    /^line 16: Virtual server group M: protocol specified for fwmark - protocol will be ignored/,
  );
  assert.deepEqual(servicesOf(m)[0].id, { af: 4, protocol: 6, fwmark: 9 });
});

test('DR real servers of a group take each address’s port (a written port is warned about); servicesWithDests lists them', () => {
  const cfg = parseKeepalived(`virtual_server_group W {
  10.0.0.1 80
  10.0.0.1 443
  fwmark 4
}
virtual_server group W {
  lvs_sched rr
  lvs_method DR
  protocol TCP
  sorry_server 10.0.9.9 80
  real_server 10.0.1.1 80 {
  }
  real_server 10.0.1.2 {
    lvs_method NAT
  }
}`);
  hasWarning(cfg, /^line 11: real server 10\.0\.1\.1: port 80 ignored on the fwmarks of group W/);
  hasWarning(
    cfg,
    /^line 11: real server 10\.0\.1\.1: port 80 ignored, non-NAT uses each address's port in group W/,
  );
  const vs = cfg.virtualServers[0];
  assert.deepEqual(
    servicesWithDests(vs).map(({ svc, dests }) => [
      svc.id.fwmark ?? `${svc.id.addr}:${svc.id.port}`,
      dests.map((d) => `${d.addr}:${d.port}/${d.fwd}/${d.weight}`),
    ]),
    [
      ['10.0.0.1:80', ['10.0.1.1:80/droute/1', '10.0.1.2:0/masq/1', '10.0.9.9:80/droute/0']],
      ['10.0.0.1:443', ['10.0.1.1:443/droute/1', '10.0.1.2:0/masq/1', '10.0.9.9:443/droute/0']],
      [4, ['10.0.1.1:0/droute/1', '10.0.1.2:0/masq/1', '10.0.9.9:0/droute/0']],
    ],
  );
});
