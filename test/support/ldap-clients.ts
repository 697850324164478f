import { Client } from 'ldapts';
import { afterEach } from 'vitest';

/**
 * A maker of ldapts clients for a test file: each client it made is unbound after every test,
 * passed or failed, so no connection outlives the test that opened it.
 */
export function trackedClients(timeout = 10_000): (url: string) => Client {
  const open: Client[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.unbind().catch(() => undefined)));
  });
  return (url) => {
    const c = new Client({ url, timeout });
    open.push(c);
    return c;
  };
}
