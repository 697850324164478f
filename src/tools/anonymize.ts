import { Dn, type Rdn } from '../core/dn.js';
import { Entry, type AttributeValue } from '../core/entry.js';
import { LdapError } from '../core/ldap-error.js';
import { attributeKey, isCredentialAttribute, syntaxOf } from '../core/schema.js';
import { Pseudonyms } from './anonymize-pseudonyms.js';
import { escapeDnValue } from './fixture-generator.js';

/**
 * What `canopy export --anonymize` does with an attribute's values:
 * - `keep`: structure, no personal data (object classes, flags, counters, timestamps, OU and domain names);
 * - `dn`: a DN; each RDN value treated by its own attribute type, so references stay consistent;
 * - `text`: letters and digits replaced token by token (names, logins, titles, anything not known to be safe);
 * - `phone`: digits replaced as one number, the format kept;
 * - `address`: `local@domain` with the local part as `text`, the domain (and a `sip:`/`SMTP:` prefix) kept;
 * - `host`: a DNS name with its first label as `text`, the domain kept;
 * - `guid`: bytes replaced by keyed bytes of the same length;
 * - `sid`: a domain SID's domain part replaced (the same for every SID of that domain), the RID kept;
 * - `drop`: never exported (secrets, photos, certificates, unknown binary data).
 */
export type Treatment = 'keep' | 'dn' | 'text' | 'phone' | 'address' | 'host' | 'guid' | 'sid' | 'drop';

/** The allow-list, by type key. Attributes not named here go by syntax, and text by default. */
const TREATMENTS: Readonly<Record<string, Treatment>> = {
  ou: 'keep',
  dc: 'keep',
  o: 'keep',
  c: 'keep',
  co: 'keep',
  // A schema class's DN (CN=Person,CN=Schema,…): no data, and nothing exported names it.
  objectcategory: 'keep',
  mail: 'address',
  userprincipalname: 'address',
  'msrtcsip-primaryuseraddress': 'address',
  proxyaddresses: 'address',
  othermailbox: 'address',
  targetaddress: 'address',
  telephonenumber: 'phone',
  mobile: 'phone',
  homephone: 'phone',
  pager: 'phone',
  ipphone: 'phone',
  facsimiletelephonenumber: 'phone',
  othertelephone: 'phone',
  othermobile: 'phone',
  otherhomephone: 'phone',
  otheripphone: 'phone',
  otherpager: 'phone',
  otherfacsimiletelephonenumber: 'phone',
  dnshostname: 'host',
  objectguid: 'guid',
  objectsid: 'sid',
  sidhistory: 'sid',
};

/** How an attribute's values are exported under `--anonymize`. */
export function treatmentOf(attribute: string): Treatment {
  // Credentials (core/schema.ts) by any name or OID: never exported.
  if (isCredentialAttribute(attribute)) return 'drop';
  const listed = TREATMENTS[attributeKey(attribute)];
  if (listed) return listed;
  switch (syntaxOf(attribute)) {
    case 'dn':
      return 'dn';
    // Numbers, flags, timestamps and OIDs hold no names (userAccountControl, groupType, uSNChanged, …).
    case 'integer':
    case 'boolean':
    case 'time':
    case 'oid':
      return 'keep';
    case 'binary':
      return 'drop';
    default:
      return 'text';
  }
}

/**
 * Replaces the personal data of entries consistently: a value gets the same pseudonym wherever it
 * appears (entry DNs, `member`, `manager`, mail, UPN, every forest), because each pseudonym is a
 * keyed function of the value alone. The same seed gives the same output.
 */
export class Anonymizer {
  private readonly pseudonyms: Pseudonyms;

  constructor(seed: string) {
    this.pseudonyms = new Pseudonyms(seed);
  }

  entry(entry: Entry): Entry {
    const out = new Entry(this.dn(entry.dn));
    for (const a of entry.attributes()) {
      const treatment = treatmentOf(a.name);
      if (treatment === 'drop') continue;
      const values = treatment === 'keep' ? a.values : a.values.flatMap((v) => this.value(treatment, v));
      if (values.length > 0) out.addValues(a.name, values);
    }
    return out;
  }

  /** Each RDN value replaced as its attribute's values are (so `cn` in the DN and in the entry agree); kept RDNs keep their spelling. */
  dn(dn: Dn): Dn {
    let changed = false;
    const rdns = dn.rdns.map((rdn): Rdn => {
      const avas = rdn.avas.map((ava) => ({ type: ava.type, value: this.rdnValue(ava.type, ava.value) }));
      if (avas.every((a, i) => a.value === rdn.avas[i].value)) return rdn;
      changed = true;
      return { avas, text: avas.map((a) => `${a.type}=${escapeDnValue(a.value)}`).join('+') };
    });
    return changed ? Dn.fromRdns(rdns) : dn;
  }

  private rdnValue(type: string, value: string): string {
    const treatment = treatmentOf(type);
    if (treatment === 'keep') return value;
    return this.text(treatment === 'phone' || treatment === 'address' || treatment === 'host' ? treatment : 'text', value);
  }

  /** The replacement of one value; none when it cannot be replaced safely (bytes that are not text). */
  private value(treatment: Exclude<Treatment, 'keep' | 'drop'>, value: AttributeValue): AttributeValue[] {
    if (typeof value !== 'string') {
      if (treatment === 'guid') return [this.pseudonyms.bytes(value, 'guid')];
      if (treatment === 'sid') return [this.sid(value)];
      value = value.toString('utf8');
    }
    // Bytes read as text (a blob under a name not known to be binary): replacing its letters would keep the rest.
    if (BINARY_TEXT.test(value)) return [];
    if (treatment === 'dn') return [this.dnValue(value)];
    return [this.text(treatment === 'guid' || treatment === 'sid' ? 'text' : treatment, value)];
  }

  private text(treatment: 'text' | 'phone' | 'address' | 'host', value: string): string {
    const p = this.pseudonyms;
    switch (treatment) {
      case 'phone':
        return p.phone(value);
      case 'address': {
        const m = ADDRESS.exec(value);
        return m ? `${m[1] ?? ''}${p.text(m[2])}@${m[3]}` : p.text(value);
      }
      case 'host':
        return value.replace(/^[^.]*/, (label) => p.text(label));
      case 'text':
        return p.text(value);
    }
  }

  private dnValue(value: string): string {
    try {
      return this.dn(Dn.parse(value)).text;
    } catch (err) {
      if (!(err instanceof LdapError)) throw err;
      return this.pseudonyms.text(value);
    }
  }

  /**
   * S-1-5-21-a-b-c-RID: a, b and c (the domain) replaced by a keyed function of them, so every SID of
   * a domain keeps one domain and RIDs (primaryGroupID, well-known 500/512/513) keep their meaning.
   * Other SIDs (S-1-5-32-544 and the like) are well-known and kept; bytes that are no SID are replaced.
   */
  private sid(value: Buffer): Buffer {
    const count = value.length >= 8 ? value[1] : -1;
    if (value.length !== 8 + 4 * count) return this.pseudonyms.bytes(value, 'sid');
    const ntAuthority = value.readUIntBE(2, 6) === 5;
    if (!ntAuthority || count < 4 || value.readUInt32LE(8) !== 21) return value;
    const out = Buffer.from(value);
    this.pseudonyms.bytes(value.subarray(12, 24), 'sid-domain').copy(out, 12);
    return out;
  }
}

/** Control characters and U+FFFD, which bytes that are not UTF-8 decode to. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const BINARY_TEXT = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffd]/;

/** `[scheme:]local@domain`: `sip:jdoe@avvid.info`, `SMTP:John.Doe@avvid.info`. */
const ADDRESS = /^([A-Za-z][A-Za-z0-9+.-]*:)?(.*)@([^@]*)$/s;
