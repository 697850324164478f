/**
 * Active Directory's alternative DNs (issue 24): `<SID=…>` and `<GUID=…>` as a search base (and
 * as the entry of a compare or modify) name the entry holding that objectSid or objectGUID,
 * wherever it is in the virtual tree, through OpenLDAP's ldapsearch and ldapts, on memory forests
 * and on the same forests served by slapd (which does not know the syntax itself).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Attribute, Change, Client } from 'ldapts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseLdif } from '../../src/backends/memory/ldif.js';
import { loadConfigFile, type LoadedConfig } from '../../src/config/load.js';
import type { Entry } from '../../src/core/entry.js';
import { sidToText } from '../../src/core/sid.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { runLdapTool } from '../support/ldap-tools.js';
import type { Slapd } from '../support/slapd.js';
import { slapdForestsLike } from './ldap-helpers.js';

const DEFAULT_CONFIG = fileURLToPath(new URL('../../config/default.yaml', import.meta.url));
const defaults = loadConfigFile(DEFAULT_CONFIG, { ...process.env, CANOPY_HOST: '127.0.0.1', CANOPY_PORT: '0', CANOPY_HTTP_PORT: '0', CANOPY_LOG_LEVEL: 'silent' });
const SYNC = 'cn=cucm-sync,ou=accounts,dc=corp,dc=example';
const SYNC_PASSWORD = 'Cucm-Sync-Passw0rd!';

/** An entry of a fixture: its DN in the virtual tree (its forest's base replaced by the mount) and the bytes that name it. */
function fixtureEntry(file: string, base: string, rdns: string, mount: string): { dn: string; sid?: Buffer; guid: Buffer } {
  const path = fileURLToPath(new URL(`../../fixtures/${file}`, import.meta.url));
  const dn = rdns ? `${rdns},${base}` : base;
  const entry = parseLdif(readFileSync(path, 'utf8'), file)
    .map((r) => r.entry)
    .find((e: Entry) => e.dn.text === dn)!;
  const bytes = (name: string) => entry.get(name)?.values[0] as Buffer | undefined;
  return { dn: rdns ? `${rdns},${mount}` : mount, sid: bytes('objectSid'), guid: bytes('objectGUID')! };
}

/** objectGUID as AD displays it: the first three groups little-endian. */
function guidText(b: Buffer): string {
  const h = (from: number, to: number, le = false) => (le ? Buffer.from(b.subarray(from, to)).reverse() : b.subarray(from, to)).toString('hex');
  return [h(0, 4, true), h(4, 6, true), h(6, 8, true), h(8, 10), h(10, 16)].join('-');
}

const AVVID_MOUNT = 'ou=avvid,dc=corp,dc=example';
const avvidJohn = fixtureEntry('avvid.info.ldif', 'DC=avvid,DC=info', 'CN=John Doe,OU=Users', AVVID_MOUNT);
const vseJohn = fixtureEntry('vse.lab.ldif', 'DC=vse,DC=lab', 'CN=John Doe,OU=Users', 'ou=vse,dc=corp,dc=example');
const avvidDomain = fixtureEntry('avvid.info.ldif', 'DC=avvid,DC=info', '', AVVID_MOUNT);

function describeAlternativeDns(title: string, config: () => LoadedConfig) {
  describe(title, () => {
    let server: RunningServer;
    let url: string;

    const ldapsearch = async (base: string, scope: string, filter = '(objectClass=*)') => {
      const r = await runLdapTool('ldapsearch', ['-x', '-H', url, '-D', SYNC, '-w', SYNC_PASSWORD, '-LLL', '-o', 'ldif-wrap=no', '-b', base, '-s', scope, filter, 'sAMAccountName']);
      const dns = [...r.stdout.matchAll(/^dn: (.*)$/gm)].map((m) => m[1].toLowerCase());
      return { status: r.status, dns, text: r.stdout + r.stderr };
    };

    beforeAll(async () => {
      server = await startServer(config());
      url = server.urls[0];
    });
    afterAll(async () => {
      await server?.close();
    });

    it('a <SID=…> base finds the user of either forest, in string form and as hex', async () => {
      for (const { sid, dn } of [avvidJohn, vseJohn]) {
        for (const form of [sidToText(sid!)!, sid!.toString('hex')]) {
          const r = await ldapsearch(`<SID=${form}>`, 'base');
          expect({ form, status: r.status, dns: r.dns }, r.text).toEqual({ form, status: 0, dns: [dn.toLowerCase()] });
        }
      }
    });

    it('a <GUID=…> base finds the entry, dashed (AD byte order) and as 32 hex digits', async () => {
      for (const { guid, dn } of [avvidJohn, vseJohn]) {
        for (const form of [guidText(guid), guid.toString('hex')]) {
          const r = await ldapsearch(`<GUID=${form}>`, 'base');
          expect({ form, status: r.status, dns: r.dns }, r.text).toEqual({ form, status: 0, dns: [dn.toLowerCase()] });
        }
      }
    });

    it('other scopes search below the entry named, in its forest only', async () => {
      // The forest's domain object is its mount in the virtual tree; jdoe is also in the other forest.
      const r = await ldapsearch(`<GUID=${guidText(avvidDomain.guid)}>`, 'sub', '(sAMAccountName=jdoe)');
      expect(r.status, r.text).toBe(0);
      expect(r.dns).toEqual([avvidJohn.dn.toLowerCase()]);
    });

    it('an alternative DN naming no entry is noSuchObject, a malformed one invalidDNSyntax', async () => {
      expect((await ldapsearch('<SID=S-1-5-21-1-2-3-99999>', 'base')).status).toBe(32);
      expect((await ldapsearch(`<GUID=${'0'.repeat(32)}>`, 'sub')).status).toBe(32);
      expect((await ldapsearch('<SID=S-1-five>', 'base')).status).toBe(34);
    });

    it('ldapts searches, compares, modifies and deletes an entry named by <SID=…> or <GUID=…>', async () => {
      const client = new Client({ url });
      try {
        await client.bind(SYNC, SYNC_PASSWORD);
        const sidBase = `<SID=${sidToText(vseJohn.sid!)}>`;
        const { searchEntries } = await client.search(sidBase, { scope: 'base', attributes: ['sAMAccountName'] });
        expect(searchEntries.map((e) => [e.dn.toLowerCase(), e.sAMAccountName])).toEqual([[vseJohn.dn.toLowerCase(), 'jdoe']]);
        expect(await client.compare(`<GUID=${guidText(vseJohn.guid)}>`, 'sAMAccountName', 'jdoe')).toBe(true);
        await client.modify(sidBase, new Change({ operation: 'replace', modification: new Attribute({ type: 'telephoneNumber', values: ['+1 555 0100'] }) }));
        const after = await client.search(vseJohn.dn, { scope: 'base', attributes: ['telephoneNumber'] });
        expect(after.searchEntries[0].telephoneNumber).toBe('+1 555 0100');
        // A delete reaches the entry named, and its access rules: the sync account may not delete.
        await expect(client.del(`<GUID=${vseJohn.guid.toString('hex')}>`)).rejects.toMatchObject({ code: 50 });
      } finally {
        await client.unbind();
      }
    });
  });
}

describeAlternativeDns('<SID=…> and <GUID=…> DNs: memory forests', () => defaults);

describe('<SID=…> and <GUID=…> DNs: ldap forests over slapd', () => {
  const slapds: Slapd[] = [];
  let config: LoadedConfig;
  beforeAll(async () => {
    config = { ...defaults, forests: await slapdForestsLike(defaults, slapds) };
  });
  afterAll(() => Promise.all(slapds.map((s) => s.stop())));
  describeAlternativeDns('through canopy', () => config);
});
