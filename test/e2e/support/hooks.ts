// Mocha root hooks of the end-to-end suites: one platform for the whole run, started once, stopped once.
// DURABOX_TEST_DATABASE=embedded runs it on the embedded PGlite database that `npm start` uses;
// DURABOX_TEST_DATABASE_URL names another PostgreSQL server for the default.
import { PlatformHarness } from '../../../harness/platform.js';

export const platform = new PlatformHarness();

export const mochaHooks = {
  async beforeAll(this: Mocha.Context) {
    this.timeout(120_000);
    await platform.start({
      database: process.env.DURABOX_TEST_DATABASE === 'embedded' ? 'embedded' : 'postgres',
      databaseServer: process.env.DURABOX_TEST_DATABASE_URL || undefined,
    });
    await platform.startWorker('w-main');
  },
  async afterAll(this: Mocha.Context) {
    this.timeout(60_000);
    await platform.stop();
  },
};
