/** The moderation fleet suite (moderation-fleet.suite.ts) with events between the nodes over NATS. */
import { moderationFleetSuite } from './moderation-fleet.suite.js';

await moderationFleetSuite('nats');
