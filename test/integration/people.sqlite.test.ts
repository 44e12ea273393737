import { peopleSuite } from './people.suite.js';

peopleSuite('embedded SQLite', async () => ({}));
