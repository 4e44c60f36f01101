/**
 * A keepalived VRRP pair of tsvs directors, NAT (docs/ha.md, examples/ha/nat): the client
 * VIP and the real servers' gateway in one vrrp_sync_group. The test is ./ha-pair-case.ts.
 */
import { pairSuite } from './ha-pair-case.js';

await pairSuite('nat', 'e2eha');
