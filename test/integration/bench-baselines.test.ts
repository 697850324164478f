// The baselines `npm run bench` measures Canopy against are real: slapd started with the back-meta
// and back-asyncmeta configurations bench/baselines.ts writes serves both forests under one
// suffix, passes a user's bind to the forest holding it, and answers a lookup from both forests.
import { Client, InvalidCredentialsError } from 'ldapts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProxy, type ProxyBackend } from '../../bench/baselines.ts';
import { SERVICE_PASSWORD, USER_PASSWORD } from '../../src/tools/fixture-generator.js';
import { startSlapd, type Slapd } from '../support/slapd.js';
import { serviceDn } from './ldap-helpers.js';

const SUFFIX = 'dc=corp,dc=example';
const FORESTS = [
  { base: 'DC=avvid,DC=info', mount: `ou=avvid,${SUFFIX}`, ldif: 'fixtures/avvid.info.ldif' },
  { base: 'DC=vse,DC=lab', mount: `ou=vse,${SUFFIX}`, ldif: 'fixtures/vse.lab.ldif' },
];

describe('bench baselines: slapd proxies over two forests', () => {
  const slapds: Slapd[] = [];

  beforeAll(async () => {
    for (const f of FORESTS) slapds.push(await startSlapd({ suffix: f.base, ldif: [f.ldif] }));
  });
  afterAll(async () => {
    await Promise.all(slapds.map((s) => s.stop()));
  });

  it.each<ProxyBackend>(['meta', 'asyncmeta'])('back-%s binds a forest user and finds jdoe in both forests', async (backend) => {
    const forests = FORESTS.map((f, i) => ({ url: slapds[i].url, base: f.base, mount: f.mount, bind: { dn: serviceDn(f.base), password: SERVICE_PASSWORD } }));
    const proxy = await startProxy(backend, SUFFIX, forests);
    const client = new Client({ url: proxy.url });
    try {
      await client.bind(`CN=John Doe,OU=Users,ou=vse,${SUFFIX}`, USER_PASSWORD);
      await expect(client.bind(`CN=John Doe,OU=Users,ou=vse,${SUFFIX}`, 'wrong')).rejects.toThrow(InvalidCredentialsError);
      await client.bind(`CN=John Doe,OU=Users,ou=avvid,${SUFFIX}`, USER_PASSWORD);
      const { searchEntries } = await client.search(SUFFIX, { filter: '(sAMAccountName=jdoe)', attributes: ['mail'] });
      expect(searchEntries.map((e) => [e.dn.toLowerCase(), e.mail]).sort()).toEqual([
        [`cn=john doe,ou=users,ou=avvid,${SUFFIX}`, 'john.doe@avvid.info'],
        [`cn=john doe,ou=users,ou=vse,${SUFFIX}`, 'john.doe@vse.local'],
      ]);
    } finally {
      await client.unbind();
      await proxy.stop();
    }
  });
});
