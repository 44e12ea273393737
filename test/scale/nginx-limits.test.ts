/** The per-address limits of deploy/nginx.conf (test/scale/balancer-limits.suite.ts) with a real nginx. */
import { balancerLimitsSuite } from './balancer-limits.suite.js';

await balancerLimitsSuite('nginx');
