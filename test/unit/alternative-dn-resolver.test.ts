import { describe, expect, it } from 'vitest';
import { MemoryDirectory } from '../../src/backends/memory/memory-directory.js';
import { parseAlternativeDn } from '../../src/core/alternative-dn.js';
import { Dn } from '../../src/core/dn.js';
import { sidFromText } from '../../src/core/sid.js';
import { resolveRequestDn } from '../../src/frontend/alternative-dn-resolver.js';

const SID = 'S-1-5-21-1-2-3-1104';
const ctx = { signal: new AbortController().signal, connectionId: 1, boundDn: '' };

/** A directory whose users all hold SID. */
function directory(...users: string[]): MemoryDirectory {
  const entries = users.map((cn) => `dn: cn=${cn},dc=example\nobjectClass: user\ncn: ${cn}\nobjectSid:: ${sidFromText(SID)!.toString('base64')}\n`);
  const text = ['dn: dc=example\nobjectClass: domain\ndc: example\n', ...entries].join('\n');
  return MemoryDirectory.fromLdif({ suffix: Dn.parse('dc=example'), sources: [{ name: 'test', text }] });
}

describe('resolving an alternative DN', () => {
  it('leaves a DN as it is and finds the entry an alternative form names', async () => {
    const dn = Dn.parse('cn=anyone,dc=example');
    expect(await resolveRequestDn(dn, directory('jdoe'), ctx)).toBe(dn);
    expect((await resolveRequestDn(parseAlternativeDn(`<SID=${SID}>`), directory('jdoe'), ctx)).text).toBe('cn=jdoe,dc=example');
  });

  it('is noSuchObject when no entry has the value, and refuses a value two entries share', async () => {
    await expect(resolveRequestDn(parseAlternativeDn('<SID=S-1-5-21-9>'), directory('jdoe'), ctx)).rejects.toMatchObject({ code: 32 });
    await expect(resolveRequestDn(parseAlternativeDn(`<SID=${SID}>`), directory('jdoe', 'copy'), ctx)).rejects.toMatchObject({ code: 53 });
  });
});
