import { TEST_DATABASE_ENV, provisionInstance } from './database';
import type { LocalPostgres } from './database';

/**
 * One throwaway PostgreSQL per jest run, on a free port in a fresh temp dir (parallel runs never collide). When the
 * caller already provides one in PAYMENTS_TEST_DATABASE (the mutation run starts one and runs jest once per mutant),
 * it is used as is and left to its owner.
 */
export default async function globalSetup(): Promise<void> {
  if (process.env[TEST_DATABASE_ENV]) return;
  const { instance, database } = await provisionInstance('payments-jest-');
  process.env[TEST_DATABASE_ENV] = JSON.stringify(database);
  (globalThis as { __paymentsTestPostgres?: LocalPostgres }).__paymentsTestPostgres = instance;
  // If jest exits without running the teardown (an interrupted run), the instance still goes.
  process.once('exit', () => instance.killSync());
}
