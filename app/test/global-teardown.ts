import type { LocalPostgres } from './database';

export default async function globalTeardown(): Promise<void> {
  const instance = (globalThis as { __paymentsTestPostgres?: LocalPostgres }).__paymentsTestPostgres;
  await instance?.destroy();
}
