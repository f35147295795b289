// Mocha root hooks: the shared local environment is stopped once, after every test file has run.
import { stopSharedEnvironment } from './helpers/environment';

export const mochaHooks = {
  async afterAll(this: Mocha.Context) {
    this.timeout(30_000);
    await stopSharedEnvironment();
  },
};
