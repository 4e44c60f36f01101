/**
 * A keepalived VRRP pair of tsvs directors, direct routing (docs/ha.md, examples/ha/dr):
 * one VIP, the real servers on the clients' LAN answering them directly. The test is
 * ./ha-pair-case.ts.
 */
import { pairSuite } from './ha-pair-case.js';

await pairSuite('dr', 'e2ehadr');
