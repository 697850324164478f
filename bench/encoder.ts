// Encoding SearchResultEntry messages: Canopy's encoder against @ldapjs/messages, same entries.
// Run after a build: node bench/encoder.ts [--entries 100000]
import { parseArgs } from 'node:util';
import ldapMessages from '@ldapjs/messages';
import { SelectedEntry } from '../dist/core/attribute-selection.js';
import { Dn } from '../dist/core/dn.js';
import { Entry } from '../dist/core/entry.js';
import { AttributeSelection, encodeSearchEntry } from '../dist/protocol/encoder.js';
import { numberFlag, printTable } from './load.ts';

const { values } = parseArgs({ options: { entries: { type: 'string', default: '100000' } } });
const n = numberFlag('entries', values.entries);
const guid = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
const dn = 'CN=John Doe,OU=Users,DC=avvid,DC=info';
const attributes = [
  { name: 'cn', values: ['John Doe'] },
  { name: 'sn', values: ['Doe'] },
  { name: 'mail', values: ['john.doe@avvid.info'] },
  { name: 'telephoneNumber', values: ['+1 408 555 0100'] },
  { name: 'objectGUID', values: [guid] },
];

function rate(run: (i: number) => void): number {
  for (let i = 0; i < Math.min(n, 10_000); i++) run(i); // warm-up
  const start = performance.now();
  for (let i = 0; i < n; i++) run(i);
  return n / ((performance.now() - start) / 1000);
}

const entry = new Entry(Dn.parse(dn), attributes);
const requested: string[] = [];
const selection = AttributeSelection.compile(requested, false);
const canopy = rate((i) => encodeSearchEntry(i + 1, entry, selection));
// An entry a namespace stage built for the same attribute list: no per-attribute check left to do.
const staged = new SelectedEntry(Dn.parse(dn), requested);
for (const a of attributes) staged.addValues(a.name, a.values);
const canopyStaged = rate((i) => encodeSearchEntry(i + 1, staged, selection));
const baseline = rate((i) =>
  new ldapMessages.SearchResultEntry({ messageId: i + 1, objectName: dn, attributes: attributes.map((a) => ({ type: a.name, values: a.values })) }).toBer(),
);
console.log(`\nencoding ${n} five-attribute SearchResultEntry messages, one core\n`);
printTable(
  ['encoder', 'entries/s', 'vs baseline'],
  [
    ['@ldapjs/messages', baseline.toFixed(0), '1.0×'],
    ['canopy', canopy.toFixed(0), `${(canopy / baseline).toFixed(1)}×`],
    ['canopy, stage-built', canopyStaged.toFixed(0), `${(canopyStaged / baseline).toFixed(1)}×`],
  ],
);
