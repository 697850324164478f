/**
 * `bindResolution: native` (Active Directory): a login by DN goes to the forest's bind without a
 * lookup first, one upstream round trip, since AD refuses disabled, locked and expired accounts
 * itself; with `search` (the default) Canopy looks the entry up first. Requests are counted by a
 * proxy in front of a real slapd.
 */
import { fileURLToPath } from 'node:url';
import { Client } from 'ldapts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server.js';
import { berInt, berOctets, berTlv } from '../../src/protocol/ber-writer.js';
import { SERVICE_PASSWORD, USER_PASSWORD } from '../../src/tools/fixture-generator.js';
import { RawLdapClient } from '../support/raw-ldap.js';
import { startCountingProxy, type CountingProxy } from '../support/counting-proxy.js';
import { openAccess, startTestServer } from '../support/server.js';
import { startSlapd, type Slapd } from '../support/slapd.js';
import { serviceDn } from './ldap-helpers.js';

const SUFFIX = 'DC=avvid,DC=info';
const FIXTURE = fileURLToPath(new URL('../../fixtures/avvid.info.ldif', import.meta.url));
const JDOE = 'CN=John Doe,OU=Users,OU=avvid,DC=corp,DC=example';

describe('DN logins through an ldap forest', () => {
  let slapd: Slapd;
  const proxies: CountingProxy[] = [];
  const servers: RunningServer[] = [];

  beforeAll(async () => {
    slapd = await startSlapd({ suffix: SUFFIX, ldif: [FIXTURE] });
  });

  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
    await Promise.all(proxies.map((p) => p.close()));
    await slapd?.stop();
  });

  async function canopy(bindResolution: 'native' | 'search'): Promise<{ url: string; proxy: CountingProxy }> {
    const proxy = await startCountingProxy(slapd);
    proxies.push(proxy);
    const server = await startTestServer(
      [
        'namespace: { suffix: "DC=corp,DC=example" }',
        'forests:',
        `  - { name: avvid, backend: ldap, base: "${SUFFIX}", mount: "OU=avvid,DC=corp,DC=example", servers: ["${proxy.url}"],`,
        `      bind: { dn: "${serviceDn(SUFFIX)}", password: "${SERVICE_PASSWORD}" }, netbiosName: AVVID, bindResolution: ${bindResolution} }`,
        openAccess,
      ].join('\n'),
    );
    servers.push(server);
    return { url: server.url, proxy };
  }

  /** The requests one login costs the forest (after a login of jdoe has opened the connections). */
  async function loginCost(url: string, proxy: CountingProxy, name: string, password: string) {
    const client = new Client({ url });
    try {
      await client.bind(JDOE, USER_PASSWORD);
      const before = { binds: proxy.binds, searches: proxy.searches };
      const outcome = await client.bind(name, password).then(
        () => 'ok',
        (err: { code?: number }) => err.code,
      );
      // Who Am I names the entry, in the forest's spelling or the client's.
      const whoami = outcome === 'ok' ? (await client.exop('1.3.6.1.4.1.4203.1.11.3')).value?.toLowerCase() : undefined;
      return { outcome, whoami, binds: proxy.binds - before.binds, searches: proxy.searches - before.searches };
    } finally {
      await client.unbind();
    }
  }

  it('native: one bind and no search per login, refusals still invalidCredentials', async () => {
    const { url, proxy } = await canopy('native');
    expect(await loginCost(url, proxy, JDOE, USER_PASSWORD)).toEqual({ outcome: 'ok', whoami: `dn:${JDOE.toLowerCase()}`, binds: 1, searches: 0 });
    expect(await loginCost(url, proxy, JDOE.toLowerCase(), 'wrong')).toMatchObject({ outcome: 49, binds: 1, searches: 0 });
    expect(await loginCost(url, proxy, 'CN=Nobody,OU=Users,OU=avvid,DC=corp,DC=example', USER_PASSWORD)).toMatchObject({ outcome: 49, binds: 1, searches: 0 });
  });

  it('native: logins that ended with a write under way count by account, however its DN is spelled', async () => {
    const { url } = await canopy('native');
    // One account, six spellings: the name a native login sends upstream is the client's own.
    const spellings = [
      JDOE,
      JDOE.toLowerCase(),
      JDOE.toUpperCase(),
      'commonName=John Doe,OU=Users,OU=avvid,DC=corp,DC=example',
      '2.5.4.3=John Doe, OU=Users, OU=avvid, DC=corp, DC=example',
      'cn=JOHN doe,ou=USERS,ou=Avvid,dc=Corp,dc=Example',
    ];
    const sessions = await Promise.all(
      spellings.map(async (name) => {
        const raw = await RawLdapClient.connect(url);
        expect((await raw.bind(name, USER_PASSWORD)).code, name).toBe(0);
        return raw;
      }),
    );
    const modify = berTlv(0x66, berOctets(JDOE), berTlv(0x30, berTlv(0x30, berInt(2, 0x0a), berTlv(0x30, berOctets('description'), berTlv(0x31, berOctets('x'))))));
    let fifth: { code: number; message: string } | string = 'no answer';
    process.kill(slapd.pid!, 'SIGSTOP');
    try {
      // Four logins, each spelled its own way, leave a write under way (their connection cannot even bind now).
      for (const raw of sessions.slice(0, 4)) {
        raw.send(modify);
        await new Promise((resolve) => setTimeout(resolve, 50));
        raw.close();
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
      // Without a count by account the fifth would wait for the stopped forest too (another upstream connection held).
      fifth = await Promise.race([sessions[4].request(modify), new Promise<string>((resolve) => setTimeout(() => resolve('still waiting after 3 s'), 3000))]);
    } finally {
      process.kill(slapd.pid!, 'SIGCONT');
    }
    expect(fifth).toMatchObject({ code: 51, message: expect.stringContaining('earlier writes of this login are still under way') as unknown });
    await expect.poll(async () => (await sessions[5].request(modify)).code, { timeout: 10_000 }).not.toBe(51);
    for (const raw of sessions.slice(4)) raw.close();
  });

  it('search (the default): the entry is looked up before its bind', async () => {
    const { url, proxy } = await canopy('search');
    expect(await loginCost(url, proxy, JDOE, USER_PASSWORD)).toEqual({ outcome: 'ok', whoami: `dn:${JDOE.toLowerCase()}`, binds: 1, searches: 1 });
  });
});
