import { threadsSuite } from './threads.suite.js';

threadsSuite('embedded SQLite', async () => ({}));
