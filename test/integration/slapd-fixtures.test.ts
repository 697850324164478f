/**
 * The committed fixtures load into a real OpenLDAP with the AD-like schema (full schema
 * checking), and slapd answers the searches sync and login clients send.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Attribute, Change, Client, EqualityFilter } from 'ldapts';
import { parseLdif } from '../../src/backends/memory/ldif.js';
import type { Entry } from '../../src/core/entry.js';
import { SERVICE_ACCOUNT, SERVICE_PASSWORD, USER_PASSWORD } from '../../src/tools/fixture-generator.js';
import { startSlapd, type Slapd } from '../support/slapd.js';

const run = promisify(execFile);
const CISCO_SYNC_FILTER =
  '(&(objectclass=user)(!(objectclass=Computer))(!(UserAccountControl:1.2.840.113556.1.4.803:=2)))';

const FORESTS = [
  { file: 'avvid.info.ldif', suffix: 'DC=avvid,DC=info', upnSuffix: 'avvid.info' },
  { file: 'vse.lab.ldif', suffix: 'DC=vse,DC=lab', upnSuffix: 'vse.local' },
];

const first = (e: Entry, name: string): string | Buffer | undefined => e.get(name)?.values[0];
const hasClass = (e: Entry, oc: string): boolean =>
  (e.get('objectClass')?.values ?? []).some((v) => String(v).toLowerCase() === oc.toLowerCase());

/** RFC 4515 escaping of every byte: the form sync tools use for GUIDs in filters. */
const escapeBytes = (b: Buffer): string => [...b].map((x) => '\\' + x.toString(16).padStart(2, '0')).join('');

describe.each(FORESTS)('fixture $file in slapd', ({ file, suffix, upnSuffix }) => {
  const path = fileURLToPath(new URL(`../../fixtures/${file}`, import.meta.url));
  const entries = parseLdif(readFileSync(path, 'utf8'), file).map((r) => r.entry);
  const users = entries.filter((e) => hasClass(e, 'user') && !hasClass(e, 'computer'));
  const enabled = users.filter((e) => (Number(first(e, 'userAccountControl')) & 2) === 0);
  const jdoe = users.find((e) => first(e, 'sAMAccountName') === 'jdoe');
  let slapd: Slapd;
  let client: Client;

  beforeAll(async () => {
    slapd = await startSlapd({ suffix, ldif: [path] });
    client = new Client({ url: slapd.url });
    await client.bind(`CN=${SERVICE_ACCOUNT},OU=ServiceAccounts,${suffix}`, SERVICE_PASSWORD);
  });

  afterAll(async () => {
    await client?.unbind();
    await slapd?.stop();
  });

  const search = async (filter: string | EqualityFilter, attributes: string[] = ['sAMAccountName']) =>
    (await client.search(suffix, { filter, attributes, explicitBufferAttributes: ['objectGUID'] })).searchEntries;

  it('holds every user of the LDIF', async () => {
    const found = await search('(&(objectClass=user)(!(objectClass=computer)))');
    expect(found).toHaveLength(users.length);
    expect(users.length).toBeGreaterThanOrEqual(50);
  });

  it('answers the Cisco sync filter with exactly the enabled non-computer users', async () => {
    const found = await search(CISCO_SYNC_FILTER);
    expect(enabled.length).toBeLessThan(users.length);
    expect(found.map((e) => String(e.sAMAccountName)).sort()).toEqual(
      enabled.map((e) => String(first(e, 'sAMAccountName'))).sort(),
    );
  });

  it('finds jdoe by sAMAccountName and UPN, and lets jdoe bind', async () => {
    const found = await search('(sAMAccountName=jdoe)', ['userPrincipalName']);
    expect(found).toHaveLength(1);
    expect(found[0].userPrincipalName).toBe(`jdoe@${upnSuffix}`);
    expect(await search(`(userPrincipalName=jdoe@${upnSuffix})`)).toHaveLength(1);
    const user = new Client({ url: slapd.url });
    await user.bind(found[0].dn, USER_PASSWORD);
    await user.unbind();
  });

  it('returns objectGUID byte for byte', async () => {
    const found = await search('(&(objectClass=user)(!(objectClass=computer)))', ['sAMAccountName', 'objectGUID']);
    const bySam = new Map(found.map((e) => [String(e.sAMAccountName), e.objectGUID]));
    for (const u of users) expect(bySam.get(String(first(u, 'sAMAccountName')))).toEqual(first(u, 'objectGUID'));
  });

  it('matches jdoe by a GUID equality filter', async () => {
    const guid = first(jdoe!, 'objectGUID') as Buffer;
    expect(guid.includes(0x00) && guid.includes(0x80) && guid.includes(0xff)).toBe(true);
    // As text with every byte escaped, the way clients type it.
    const { stdout } = await run('ldapsearch', ['-x', '-LLL', '-H', slapd.url, '-b', suffix, `(objectGUID=${escapeBytes(guid)})`, 'sAMAccountName']);
    expect(stdout).toMatch(/^sAMAccountName: jdoe$/m);
    // As bytes (ldapts turns `\80` in a filter string into U+0080, i.e. bytes C2 80).
    const found = await search(new EqualityFilter({ attribute: 'objectGUID', value: guid }));
    expect(found.map((e) => e.sAMAccountName)).toEqual(['jdoe']);
  });

  it('stores entries slapd accepts under full schema checking (a modify re-checks the entry)', async () => {
    const admin = new Client({ url: slapd.url });
    await admin.bind(slapd.rootDn, slapd.rootPassword);
    const noSn = users.find((e) => !e.has('sn'))!;
    for (const dn of [jdoe!.dn.text, noSn.dn.text]) {
      await admin.modify(dn, new Change({ operation: 'replace', modification: new Attribute({ type: 'ipPhone', values: ['9999'] }) }));
    }
    await admin.unbind();
  });
});
