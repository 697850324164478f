/**
 * The subschema a schema-reading client sees from `canopy mock`: the types and classes the data
 * uses, with their standard definitions (NIS, ppolicy, inetOrgPerson), and types no built-in
 * schema knows described as text; from `canopy serve`, every definition built in. Read with
 * python ldap3 (`get_info=ALL`, the way its users open connections), OpenLDAP's ldapsearch
 * (every value checked against RFC 4512's grammar) and ldapts.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Attribute, Change, Client } from 'ldapts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLdapTool } from '../support/ldap-tools.js';
import { ATTRIBUTE_TYPE, OBJECT_CLASS } from '../support/rfc4512-grammar.js';
import { runMockInProcess, type InProcessMock } from '../support/mock-command.js';
import { startTestServer } from '../support/server.js';

const PYTHON = '/usr/bin/python3';
const BASE = 'dc=posix,dc=test';
const ADMIN = `cn=admin,${BASE}`;
const PASSWORD = 'Adm1n-Passw0rd';
const DIRECTORY_STRING = '1.3.6.1.4.1.1466.115.121.1.15';

const LDIF = `dn: ${BASE}
objectClass: dcObject
objectClass: organization
dc: posix
o: posix

dn: ou=people,${BASE}
objectClass: organizationalUnit
ou: people

dn: uid=alice,ou=people,${BASE}
objectClass: inetOrgPerson
objectClass: posixAccount
objectClass: shadowAccount
uid: alice
cn: Alice Liddell
sn: Liddell
uidNumber: 1000
gidNumber: 1000
homeDirectory: /home/alice
loginShell: /bin/bash
shadowLastChange: 19000
userPassword: Passw0rd!
favouriteColour: blue

dn: cn=staff,${BASE}
objectClass: posixGroup
objectClass: teamExtension
cn: staff
gidNumber: 1000
memberUid: alice

dn: ou=policies,${BASE}
objectClass: organizationalUnit
ou: policies

dn: cn=default,ou=policies,${BASE}
objectClass: device
objectClass: pwdPolicy
cn: default
pwdAttribute: userPassword
pwdMaxFailure: 3
pwdLockout: TRUE
`;

/** The values of one attribute in ldapsearch's unwrapped LDIF output. */
function ldifValues(ldif: string, attribute: string): string[] {
  return ldif.split('\n').filter((l) => l.startsWith(`${attribute}: `)).map((l) => l.slice(attribute.length + 2));
}

/** Reads the schema with ldap3 as its users do (`get_info=ALL`), then searches with names checked against it; prints JSON. */
const LDAP3_CLIENT = `
import json, sys
from ldap3 import ALL, Connection, Server
url, user, password, base = sys.argv[1:5]
server = Server(url, get_info=ALL)
conn = Connection(server, user, password, auto_bind=True)
schema = server.schema
def describe(name):
    t = schema.attribute_types[name]
    return {'oid': t.oid, 'syntax': t.syntax, 'single': bool(t.single_value), 'equality': t.equality}
types = {n: describe(n) for n in ['uidNumber', 'gidNumber', 'homeDirectory', 'memberUid', 'loginShell', 'pwdMaxFailure', 'pwdLockout', 'pwdPolicySubentry', 'favouriteColour']}
classes = {n: {'oid': schema.object_classes[n].oid, 'must': schema.object_classes[n].must_contain, 'kind': schema.object_classes[n].kind} for n in ['posixAccount', 'posixGroup', 'pwdPolicy', 'teamExtension']}
conn.search(base, '(&(objectClass=posixAccount)(uidNumber>=1000))', attributes=['uidNumber', 'homeDirectory', 'favouriteColour'])
entry = conn.entries[0]
found = {'uidNumber': entry.uidNumber.value, 'homeDirectory': entry.homeDirectory.value, 'favouriteColour': entry.favouriteColour.value}
conn.search(base, '(objectClass=teamExtension)', attributes=['memberUid'])
found['groupMembers'] = conn.entries[0].memberUid.values
print(json.dumps({'types': types, 'classes': classes, 'found': found}))
`;

interface Ldap3Report {
  types: Record<string, { oid: string; syntax: string; single: boolean; equality: string[] | null }>;
  classes: Record<string, { oid: string; must: string[]; kind: string }>;
  found: { uidNumber: unknown; homeDirectory: unknown; favouriteColour: unknown; groupMembers: unknown };
}

/** Fails naming the Debian package when python ldap3 is missing, then runs `script` with `args`; its stdout as JSON. */
async function runLdap3<T>(script: string, args: readonly string[]): Promise<T> {
  const probe = await promisify(execFile)(PYTHON, ['-c', 'import ldap3']).catch(() => undefined);
  if (!probe) throw new Error('python3-ldap3 is not installed: install the Debian package python3-ldap3');
  const { stdout } = await promisify(execFile)(PYTHON, ['-c', script, ...args], { timeout: 30_000 });
  return JSON.parse(stdout) as T;
}

describe('the subschema of canopy mock follows its data', () => {
  const dir = mkdtempSync(join(tmpdir(), 'canopy-schema-'));
  let mock: InProcessMock;

  beforeAll(async () => {
    const file = join(dir, 'posix.ldif');
    writeFileSync(file, LDIF);
    mock = await runMockInProcess([file, '--port', '0', '--admin-dn', ADMIN, '--admin-password', PASSWORD]);
  });
  afterAll(async () => {
    await mock?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('python ldap3 with get_info=ALL sees the NIS and ppolicy types with their syntax, and unknown ones as text', async () => {
    const report = await runLdap3<Ldap3Report>(LDAP3_CLIENT, [mock.url, ADMIN, PASSWORD, BASE]);
    const integer = '1.3.6.1.4.1.1466.115.121.1.27';
    const ia5 = '1.3.6.1.4.1.1466.115.121.1.26';
    expect(report.types.uidNumber).toEqual({ oid: '1.3.6.1.1.1.1.0', syntax: integer, single: true, equality: ['integerMatch'] });
    expect(report.types.gidNumber).toEqual({ oid: '1.3.6.1.1.1.1.1', syntax: integer, single: true, equality: ['integerMatch'] });
    expect(report.types.homeDirectory).toEqual({ oid: '1.3.6.1.1.1.1.3', syntax: ia5, single: true, equality: ['caseExactIA5Match'] });
    expect(report.types.memberUid).toEqual({ oid: '1.3.6.1.1.1.1.12', syntax: ia5, single: false, equality: ['caseExactIA5Match'] });
    expect(report.types.loginShell).toMatchObject({ oid: '1.3.6.1.1.1.1.4', single: true });
    expect(report.types.pwdMaxFailure).toEqual({ oid: '1.3.6.1.4.1.42.2.27.8.1.11', syntax: integer, single: true, equality: ['integerMatch'] });
    expect(report.types.pwdLockout).toMatchObject({ syntax: '1.3.6.1.4.1.1466.115.121.1.7', single: true });
    expect(report.types.pwdPolicySubentry).toMatchObject({ syntax: '1.3.6.1.4.1.1466.115.121.1.12', single: true });
    // A type no built-in schema knows: text, under Canopy's generated arc.
    expect(report.types.favouriteColour).toMatchObject({ syntax: DIRECTORY_STRING, single: false, equality: ['caseIgnoreMatch'] });
    expect(report.types.favouriteColour.oid).toMatch(/^1\.3\.6\.1\.4\.1\.99999\.3\.1\.\d+$/);
    expect(report.classes.posixAccount).toEqual({ oid: '1.3.6.1.1.1.2.0', must: ['cn', 'uid', 'uidNumber', 'gidNumber', 'homeDirectory'], kind: 'AUXILIARY' });
    expect(report.classes.posixGroup).toMatchObject({ oid: '1.3.6.1.1.1.2.2', kind: 'STRUCTURAL' });
    expect(report.classes.pwdPolicy).toMatchObject({ oid: '1.3.6.1.4.1.42.2.27.8.2.1', must: ['pwdAttribute'] });
    expect(report.classes.teamExtension.oid).toMatch(/^1\.3\.6\.1\.4\.1\.99999\.3\.2\.\d+$/);
    // ldap3 checks filter and attribute names against the schema and formats values by syntax.
    expect(report.found).toEqual({ uidNumber: 1000, homeDirectory: '/home/alice', favouriteColour: 'blue', groupMembers: ['alice'] });
  });

  it('ldapsearch reads attributeTypes and objectClasses, every value valid RFC 4512', async () => {
    const r = await runLdapTool('ldapsearch', ['-x', '-LLL', '-o', 'ldif-wrap=no', '-H', mock.url, '-b', 'cn=Subschema', '-s', 'base', '(objectClass=subschema)', 'attributeTypes', 'objectClasses']);
    expect(r.status).toBe(0);
    const types = ldifValues(r.stdout, 'attributeTypes');
    const classes = ldifValues(r.stdout, 'objectClasses');
    expect(types.length).toBeGreaterThan(20);
    for (const t of types) {
      expect(t).toMatch(ATTRIBUTE_TYPE);
      expect(t).toMatch(/ (?:SUP|SYNTAX) /); // RFC 4512 §4.1.2: one of them at least
    }
    for (const c of classes) expect(c).toMatch(OBJECT_CLASS);
    const namesOf = (d: string) => [...(/ NAME (\( [^)]* \)|'[^']*')/.exec(d)?.[1] ?? '').matchAll(/'([^']+)'/g)].map((m) => m[1]);
    const names = (list: string[]) => list.map((d) => namesOf(d)[0]);
    expect(names(types)).toEqual(expect.arrayContaining(['uidNumber', 'gidNumber', 'homeDirectory', 'loginShell', 'memberUid', 'shadowLastChange', 'pwdAttribute', 'pwdMaxFailure', 'pwdChangedTime', 'favouriteColour', 'uid', 'cn']));
    expect(names(classes)).toEqual(expect.arrayContaining(['top', 'subschema', 'inetOrgPerson', 'posixAccount', 'shadowAccount', 'posixGroup', 'pwdPolicy', 'device', 'teamExtension']));
    // What the data does not use is not listed (the AD classes, NIS maps).
    expect(names(classes)).not.toContain('nisMap');
    expect(names(types)).not.toContain('nisMapEntry');
    expect(types.find((t) => t.includes("'uidNumber'"))).toBe(
      "( 1.3.6.1.1.1.1.0 NAME 'uidNumber' EQUALITY integerMatch ORDERING integerOrderingMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE X-ORIGIN 'RFC 2307' )",
    );
    // Every type a listed class may hold is listed too.
    const listed = new Set(types.flatMap(namesOf).map((n) => n.toLowerCase()));
    for (const c of classes) {
      for (const list of c.matchAll(/ (?:MUST|MAY) (\( [^)]* \)|\S+)/g)) {
        for (const n of list[1].replace(/[()$]/g, ' ').split(/\s+/).filter(Boolean)) expect(listed, `${n} of ${c}`).toContain(n.toLowerCase());
      }
    }
  });

  it('ldapts reads the schema, and a write that brings a new type or class adds it', async () => {
    const client = new Client({ url: mock.url });
    await client.bind(ADMIN, PASSWORD);
    try {
      const read = async () => {
        const { searchEntries } = await client.search('cn=Subschema', { scope: 'base', filter: '(objectClass=subschema)', attributes: ['attributeTypes', 'objectClasses', 'ldapSyntaxes', 'matchingRules'] });
        return searchEntries[0] as Record<string, string[]>;
      };
      const before = await read();
      expect(before.attributeTypes.some((t) => t.includes("NAME 'memberUid'"))).toBe(true);
      expect(before.attributeTypes.some((t) => t.includes("NAME 'shoeSize'"))).toBe(false);
      expect(before.ldapSyntaxes).toContain("( 1.3.6.1.4.1.1466.115.121.1.27 DESC 'Integer' )");
      expect(before.matchingRules).toContain("( 1.3.6.1.4.1.1466.109.114.1 NAME 'caseExactIA5Match' SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 )");

      await client.modify(`uid=alice,ou=people,${BASE}`, [
        new Change({ operation: 'add', modification: new Attribute({ type: 'objectClass', values: ['labeledURIObject'] }) }),
        new Change({ operation: 'add', modification: new Attribute({ type: 'labeledURI', values: ['https://example.org/alice'] }) }),
        new Change({ operation: 'add', modification: new Attribute({ type: 'shoeSize', values: ['38'] }) }),
      ]);
      const after = await read();
      expect(after.objectClasses.some((c) => c.startsWith("( 1.3.6.1.4.1.250.3.15 NAME 'labeledURIObject' "))).toBe(true);
      expect(after.attributeTypes.find((t) => t.includes("NAME 'shoeSize'"))).toMatch(new RegExp(`SYNTAX ${DIRECTORY_STRING.replace(/\./g, '\\.')} `));
    } finally {
      await client.unbind();
    }
  });

  it('matches the NIS types as the schema says: integers by value, memberUid exactly', async () => {
    const client = new Client({ url: mock.url });
    await client.bind(ADMIN, PASSWORD);
    try {
      const count = async (filter: string) => (await client.search(BASE, { filter, attributes: ['1.1'] })).searchEntries.length;
      expect(await count('(uidNumber=01000)')).toBe(1);
      expect(await count('(&(uidNumber>=999)(uidNumber<=1000))')).toBe(1);
      expect(await count('(memberUid=alice)')).toBe(1);
      expect(await count('(memberUid=ALICE)')).toBe(0); // caseExactIA5Match
      expect(await count('(homeDirectory=/home/alice)')).toBe(1);
    } finally {
      await client.unbind();
    }
  });
});

describe('the subschema of canopy mock with the bundled AD-like fixtures', () => {
  let mock: InProcessMock;
  beforeAll(async () => {
    mock = await runMockInProcess(['--port', '0', '--admin-password', PASSWORD]);
  });
  afterAll(() => mock?.stop());

  it('lists the AD types and classes the data uses, every value valid RFC 4512', async () => {
    const r = await runLdapTool('ldapsearch', ['-x', '-LLL', '-o', 'ldif-wrap=no', '-H', mock.url, '-D', 'cn=admin', '-w', PASSWORD, '-b', 'cn=Subschema', '-s', 'base', 'attributeTypes', 'objectClasses']);
    expect(r.status).toBe(0);
    const types = ldifValues(r.stdout, 'attributeTypes');
    const classes = ldifValues(r.stdout, 'objectClasses');
    for (const t of types) expect(t).toMatch(ATTRIBUTE_TYPE);
    for (const c of classes) expect(c).toMatch(OBJECT_CLASS);
    expect(types).toContain("( 1.2.840.113556.1.4.2 NAME 'objectGUID' EQUALITY octetStringMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.40 SINGLE-VALUE )");
    expect(types.some((t) => t.includes("NAME 'userAccountControl' EQUALITY integerMatch"))).toBe(true);
    expect(classes.some((c) => c.startsWith("( 1.2.840.113556.1.5.9 NAME 'user' SUP organizationalPerson STRUCTURAL"))).toBe(true);
    expect(types.some((t) => t.includes("NAME 'uidNumber'"))).toBe(false);
    // The account state the AD profile keeps, listed before any lockout wrote it.
    expect(types).toContain("( 1.2.840.113556.1.4.662 NAME 'lockoutTime' EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )");
    expect(types).toContain(
      "( 1.2.840.113556.1.4.1460 NAME 'msDS-User-Account-Control-Computed' EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE NO-USER-MODIFICATION USAGE directoryOperation )",
    );
  });
});

/** Reads the schema anonymously with ldap3, as a client of `canopy serve` does; prints JSON. */
const LDAP3_SCHEMA = `
import json, sys
from ldap3 import ALL, Connection, Server
server = Server(sys.argv[1], get_info=ALL)
Connection(server, auto_bind=True)
schema = server.schema
pick = lambda names, table: {n: table[n].oid for n in names}
print(json.dumps({
  'types': len(schema.attribute_types), 'classes': len(schema.object_classes),
  'typeOids': pick(['sAMAccountName', 'objectGUID', 'uidNumber', 'memberUid', 'pwdMaxAge', 'drink', 'favouriteDrink', 'nisMapEntry'], schema.attribute_types),
  'classOids': pick(['user', 'posixAccount', 'pwdPolicy', 'pilotOrganization', 'inetOrgPerson'], schema.object_classes),
}))
`;

describe('the subschema of canopy serve', () => {
  it('publishes every definition built in, which python ldap3 reads whole', async () => {
    const server = await startTestServer();
    try {
      const report = await runLdap3<{ types: number; classes: number; typeOids: Record<string, string>; classOids: Record<string, string> }>(LDAP3_SCHEMA, [server.url]);
      expect(report.types).toBeGreaterThan(240);
      expect(report.classes).toBeGreaterThan(60);
      expect(report.typeOids).toEqual({
        sAMAccountName: '1.2.840.113556.1.4.221',
        objectGUID: '1.2.840.113556.1.4.2',
        uidNumber: '1.3.6.1.1.1.1.0',
        memberUid: '1.3.6.1.1.1.1.12',
        pwdMaxAge: '1.3.6.1.4.1.42.2.27.8.1.3',
        drink: '0.9.2342.19200300.100.1.5',
        favouriteDrink: '0.9.2342.19200300.100.1.5',
        nisMapEntry: '1.3.6.1.1.1.1.27',
      });
      expect(report.classOids).toMatchObject({ user: '1.2.840.113556.1.5.9', posixAccount: '1.3.6.1.1.1.2.0', pwdPolicy: '1.3.6.1.4.1.42.2.27.8.2.1' });
    } finally {
      await server.close();
    }
  });
});
