/** The fleet suite (test/scale/fleet.suite.ts) with events between the nodes over NATS. */
import { fleetSuite } from './fleet.suite.js';

await fleetSuite('nats');
