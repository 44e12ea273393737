import { edgeSuite } from './edge.suite.js';
import { restSuite } from './rest.suite.js';
import { wsSuite } from './ws.suite.js';

restSuite('embedded SQLite', async () => ({}));
wsSuite('embedded SQLite', async () => ({}));
edgeSuite('embedded SQLite', async () => ({}));
