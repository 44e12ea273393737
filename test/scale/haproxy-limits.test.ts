/** The per-address limits of deploy/haproxy.cfg (test/scale/balancer-limits.suite.ts) with a real HAProxy. */
import { balancerLimitsSuite } from './balancer-limits.suite.js';

await balancerLimitsSuite('haproxy');
