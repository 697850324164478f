import { describe, expect, it } from 'vitest';
import { LdifError } from '../../src/backends/memory/ldif.js';
import { forestsFromSources, withoutServerConfiguration } from '../../src/mock/mock-sources.js';

const data = 'dn: dc=x\nobjectClass: domain\ndc: x\n\ndn: cn=a,dc=x\nobjectClass: person\ncn: a\nsn: a\n';

describe('withoutServerConfiguration', () => {
  it('keeps data sources parsed, from text or from bytes alike', () => {
    const { sources, skipped } = withoutServerConfiguration([
      { name: 'text.ldif', text: data },
      { name: 'bytes.ldif', text: Buffer.from(data.replace(/x/g, 'y')) },
    ]);
    expect(skipped).toEqual([]);
    expect(sources.map((s) => [s.name, s.changes.length])).toEqual([['text.ldif', 2], ['bytes.ldif', 2]]);
    expect(forestsFromSources(sources).map((f) => [f.suffix.text, f.records.length])).toEqual([['dc=x', 2], ['dc=y', 2]]);
  });

  it('skips a server configuration whether or not its DNs parse, naming the DN as written', () => {
    const template = 'dn: olcDatabase={1}{{ BACKEND }},cn=config\nobjectClass: olcDatabaseConfig\n';
    const schema = 'dn:  cn=custom, cn=schema,CN=Config\nobjectClass: olcSchemaConfig\ncn: custom\n';
    const { sources, skipped } = withoutServerConfiguration([
      { name: 'db.ldif', text: template },
      { name: 'schema.ldif', text: Buffer.from(schema) },
      { name: 'data.ldif', text: data },
    ]);
    expect(sources.map((s) => s.name)).toEqual(['data.ldif']);
    expect(skipped).toEqual([
      'db.ldif: configures a server ("olcDatabase={1}{{ BACKEND }},cn=config"), not data: skipped',
      'schema.ldif: configures a server ("cn=custom, cn=schema,CN=Config"), not data: skipped',
    ]);
  });

  it('reports a data source that does not parse with its file and line', () => {
    expect(() => withoutServerConfiguration([{ name: 'bad.ldif', text: 'dn: dc=x\nobjectClass domain\n' }])).toThrow(LdifError);
    expect(() => withoutServerConfiguration([{ name: 'bad.ldif', text: 'dn: dc=x\nobjectClass domain\n' }])).toThrow(/^bad\.ldif:2: /);
  });
});
