import { moderationSuite } from './moderation.suite.js';

moderationSuite('embedded SQLite', async () => ({}));
