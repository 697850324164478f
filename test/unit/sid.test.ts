import { describe, expect, it } from 'vitest';
import { Dn } from '../../src/core/dn.js';
import { Entry } from '../../src/core/entry.js';
import { compileFilter } from '../../src/core/filter-eval.js';
import { sidAssertionBytes, sidFromText, sidToText } from '../../src/core/sid.js';
import { parseFilterString } from '../../src/protocol/filter-codec.js';
import { sid } from '../../src/tools/fixture-generator.js';

const DOMAIN = [21, 2877534380, 750820490, 2261697746];

describe('SIDs in string form', () => {
  it('convert both ways with the layout AD stores', () => {
    const bytes = sid([...DOMAIN, 513]);
    expect(sidToText(bytes)).toBe('S-1-5-21-2877534380-750820490-2261697746-513');
    expect(sidFromText('S-1-5-21-2877534380-750820490-2261697746-513')).toEqual(bytes);
    expect(sidFromText('s-1-5-32-544')).toEqual(sid([32, 544]));
    expect(sidFromText('S-1-0')?.toString('hex')).toBe('010000000000000000'.slice(0, 16));
  });

  it('refuse what is not a SID', () => {
    for (const text of ['S-2-5-21', 'S-1-5-4294967296', 'S-1-5-x', 'S-1-5-21-', '', 'jdoe', `S-1-5${'-1'.repeat(16)}`]) {
      expect(sidFromText(text), text).toBeUndefined();
    }
    expect(sidToText(Buffer.from('010203', 'hex'))).toBeUndefined();
  });

  it('leave binary assertion values alone', () => {
    const bytes = sid([...DOMAIN, 1105]);
    expect(sidAssertionBytes(bytes)).toBe(bytes);
    expect(sidAssertionBytes(Buffer.from('S-1-5-21-2877534380-750820490-2261697746-1105'))).toEqual(bytes);
    expect(sidAssertionBytes(Buffer.from('S-not-a-sid'))).toEqual(Buffer.from('S-not-a-sid'));
  });

  it('match objectSid in a filter as AD does, by string or by bytes; other binary attributes stay byte-exact', () => {
    const user = new Entry(Dn.parse('CN=jdoe,DC=avvid,DC=info'), [
      { name: 'objectSid', values: [sid([...DOMAIN, 1105])] },
      { name: 'objectGUID', values: [Buffer.from('S-1-5-21-1-2-3-4')] },
    ]);
    const matches = (f: string) => compileFilter(parseFilterString(f))(user);
    expect(matches('(objectSid=S-1-5-21-2877534380-750820490-2261697746-1105)')).toBe(true);
    expect(matches('(objectsid=s-1-5-21-2877534380-750820490-2261697746-1105)')).toBe(true);
    expect(matches('(objectSid=S-1-5-21-2877534380-750820490-2261697746-513)')).toBe(false);
    expect(matches(`(objectSid=${[...sid([...DOMAIN, 1105])].map((b) => `\\${b.toString(16).padStart(2, '0')}`).join('')})`)).toBe(true);
    // objectGUID holds no SIDs: its assertion is compared byte for byte.
    expect(matches('(objectGUID=S-1-5-21-1-2-3-4)')).toBe(true);
  });
});
