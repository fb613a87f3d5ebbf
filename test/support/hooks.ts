// Mocha root hooks: one platform for the whole run, started once, stopped once.
import { TestPlatform } from './infra.js';

export const platform = new TestPlatform();

export const mochaHooks = {
  async beforeAll(this: Mocha.Context) {
    this.timeout(120_000);
    await platform.start();
    await platform.startWorker('w-main');
  },
  async afterAll(this: Mocha.Context) {
    this.timeout(60_000);
    await platform.stop();
  },
};
