import { notificationsSuite } from './notifications.suite.js';

notificationsSuite('embedded SQLite', async () => ({}));
