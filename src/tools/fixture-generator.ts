/**
 * Generates an AD-like forest as LDIF: a domain, OUs, users with the attributes sync clients read,
 * groups with `memberOf` back-links, computers and a service account. Output depends only on the
 * options (seeded PRNG, timestamps derived from the seed), so committed fixtures can be checked
 * byte for byte against a fresh run.
 */
import { Dn } from '../core/dn.js';
import { Entry, type AttributeValue } from '../core/entry.js';
import { entriesToLdif } from '../backends/memory/ldif.js';

export interface ForestOptions {
  /** The domain's DN, e.g. `DC=avvid,DC=info`; only `dc` RDNs. Kept as spelled. */
  readonly suffix: string;
  /** Number of people in OU=Users (specials included). */
  readonly users: number;
  readonly seed: number;
  /** Defaults to the suffix's DNS name (`avvid.info`). */
  readonly upnSuffix?: string;
  /** Defaults to the first DNS label, upper case, at most 15 characters. */
  readonly netbios?: string;
  /** Adds jdoe, non-ASCII names, DN special characters, a user without `sn` and a UPN under an extra suffix. */
  readonly specials?: boolean;
}

/** Every person's password (userPassword, plain text so slapd and the mock directory accept binds). */
export const USER_PASSWORD = 'Passw0rd!';
export const SERVICE_ACCOUNT = 'svc-canopy';
export const SERVICE_PASSWORD = 'Svc-Canopy-Passw0rd!';

const UAC_NORMAL = 512;
const UAC_DISABLED = 514;
const UAC_NORMAL_NO_EXPIRY = 66048;
const UAC_WORKSTATION = 4096;
/** Global security group (AD's GROUP_TYPE_ACCOUNT_GROUP | GROUP_TYPE_SECURITY_ENABLED). */
const GROUP_TYPE_GLOBAL_SECURITY = -2147483646;
/** sAMAccountType: what every AD user, computer and security group carries. */
const SAM_USER_OBJECT = 805306368;
const SAM_MACHINE_ACCOUNT = 805306369;
const SAM_GROUP_OBJECT = 268435456;
/** Well-known RIDs of the primary groups (primaryGroupID): Domain Users and Domain Computers. */
const DOMAIN_USERS_RID = 513;
const DOMAIN_COMPUTERS_RID = 515;

/** A time as AD's pwdLastSet holds it: 100 ns intervals since 1601-01-01 (FILETIME). */
function fileTime(ms: number): string {
  return ((BigInt(ms) + 11_644_473_600_000n) * 10_000n).toString();
}

const FIRST_NAMES = [
  'James', 'Mary', 'Robert', 'Patricia', 'Michael', 'Jennifer', 'William', 'Linda', 'David', 'Elizabeth',
  'Richard', 'Barbara', 'Joseph', 'Susan', 'Thomas', 'Jessica', 'Charles', 'Sarah', 'Daniel', 'Karen',
  'Matthew', 'Nancy', 'Anthony', 'Lisa', 'Mark', 'Betty', 'Steven', 'Sandra', 'Paul', 'Ashley',
  'Andrew', 'Emily', 'Kenneth', 'Donna', 'Kevin', 'Michelle', 'Brian', 'Carol', 'George', 'Amanda',
  'Priya', 'Wei', 'Hiroshi', 'Fatima', 'Olga', 'Mateo', 'Aisha', 'Lars', 'Ingrid', 'Rahul',
];
const LAST_NAMES = [
  'Smith', 'Johnson', 'Williams', 'Brown', 'Jones', 'Garcia', 'Miller', 'Davis', 'Rodriguez', 'Martinez',
  'Hernandez', 'Lopez', 'Gonzalez', 'Wilson', 'Anderson', 'Taylor', 'Moore', 'Jackson', 'Martin', 'Lee',
  'Perez', 'Thompson', 'White', 'Harris', 'Sanchez', 'Clark', 'Ramirez', 'Lewis', 'Robinson', 'Walker',
  'Young', 'Allen', 'King', 'Wright', 'Scott', 'Torres', 'Nguyen', 'Hill', 'Flores', 'Green',
  'Patel', 'Chen', 'Tanaka', 'Khan', 'Ivanova', 'Silva', 'Okafor', 'Larsen', 'Berg', 'Sharma',
];
const MIDDLE_NAMES = ['Alexander', 'Marie', 'Lee', 'Ann', 'James', 'Grace', 'Ray', 'Lynn', 'Paul', 'Jean'];
const DEPARTMENTS = ['Engineering', 'Sales', 'Marketing', 'Finance', 'Human Resources', 'Support', 'Legal', 'Operations'];
const TITLES = [
  'Software Engineer', 'Senior Software Engineer', 'Account Executive', 'Marketing Manager', 'Accountant',
  'HR Generalist', 'Support Engineer', 'Counsel', 'Operations Analyst', 'Director', 'Team Lead', 'Intern',
];
const AREA_CODES = ['408', '415', '650', '212', '312', '512', '617', '919'];

interface Person {
  readonly cn: string;
  readonly givenName: string;
  readonly sn?: string;
  readonly sam: string;
  readonly mailLocal: string;
  readonly middleName?: string;
  readonly initials?: string;
  /** GUID forced to hold bytes that break naive handling (jdoe). */
  readonly trickyGuid?: boolean;
  /**
   * A label put before the forest's UPN suffix (`xwang@legacy.avvid.info`): an alternative suffix
   * such as AD forests collect over the years, which no `upnSuffixes` entry maps.
   */
  readonly upnSubdomain?: string;
}

/**
 * The special people of the committed fixtures: jdoe (the login every forest shares, GUID with
 * 0x00/0x80/0xff and filter metacharacters), non-ASCII names, DN metacharacters, no `sn`, a UPN
 * under an unmapped suffix.
 */
const SPECIALS: readonly Person[] = [
  { cn: 'John Doe', givenName: 'John', sn: 'Doe', sam: 'jdoe', mailLocal: 'john.doe', trickyGuid: true },
  { cn: 'José Müller', givenName: 'José', sn: 'Müller', sam: 'jmuller', mailLocal: 'jose.muller' },
  { cn: 'Zoë Ångström', givenName: 'Zoë', sn: 'Ångström', sam: 'zangstrom', mailLocal: 'zoe.angstrom' },
  { cn: '王小明', givenName: '小明', sn: '王', sam: 'xwang', mailLocal: 'xiaoming.wang', upnSubdomain: 'legacy' },
  { cn: 'Doe, Jane', givenName: 'Jane', sn: 'Doe', sam: 'jane.doe', mailLocal: 'jane.doe' },
  { cn: 'A+B Smith', givenName: 'A+B', sn: 'Smith', sam: 'absmith', mailLocal: 'ab.smith' },
  { cn: 'Back\\slash User', givenName: 'Back\\slash', sn: 'User', sam: 'bsuser', mailLocal: 'backslash.user' },
  { cn: 'Prince', givenName: 'Prince', sam: 'prince', mailLocal: 'prince' },
];

/** mulberry32: tiny, fast, good enough for fixtures, and the same sequence on every platform. */
class Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
}

/** RFC 4514 escaping of an attribute value inside a DN (non-ASCII stays as UTF-8). */
export function escapeDnValue(value: string): string {
  let out = value.replace(/[\\"+,;<>]/g, (c) => '\\' + c).replace(/\0/g, '\\00');
  if (out.startsWith(' ') || out.startsWith('#')) out = '\\' + out;
  if (out.endsWith(' ') && !out.endsWith('\\ ')) out = out.slice(0, -1) + '\\ ';
  return out;
}

/** The DNS name of a `dc=` suffix: `DC=avvid,DC=info` → `avvid.info`. */
function dnsNameOf(suffix: string): string {
  const labels = suffix.split(',').map((rdn) => {
    const m = /^\s*dc\s*=\s*([A-Za-z0-9-]+)\s*$/i.exec(rdn);
    if (!m) throw new Error(`suffix "${suffix}" must consist of dc= RDNs only (e.g. DC=avvid,DC=info)`);
    return m[1].toLowerCase();
  });
  return labels.join('.');
}

/** A GUID as AD stores it, version 4 random: the variant bits make byte 8 fall in 0x80–0xbf. */
function randomGuid(random: Random): Buffer {
  const guid = random.bytes(16);
  guid[7] = 0x40 | (guid[7] & 0x0f);
  guid[8] = 0x80 | (guid[8] & 0x3f);
  return guid;
}

/** objectSid in AD's binary layout: revision 1, count, authority 5 (big-endian), sub-authorities LE. */
export function sid(subAuthorities: readonly number[]): Buffer {
  const b = Buffer.alloc(8 + 4 * subAuthorities.length);
  b[0] = 1;
  b[1] = subAuthorities.length;
  b.writeUIntBE(5, 2, 6);
  subAuthorities.forEach((s, i) => b.writeUInt32LE(s, 8 + 4 * i));
  return b;
}

/** AD's GeneralizedTime form: `20190314092653.0Z`. */
function generalizedTime(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:T]/g, '').replace(/\.\d{3}Z$/, '.0Z');
}

function asciiFold(text: string): string {
  return text.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase().replace(/[^a-z0-9]/g, '');
}

/** Fictional North American numbers (555-01xx is reserved for fiction). */
function phone(random: Random, area?: string): string {
  return `+1 ${area ?? random.pick(AREA_CODES)} 555 01${String(random.int(100)).padStart(2, '0')}`;
}

function randomPeople(random: Random, count: number, taken: Set<string>, takenCn: Set<string>): Person[] {
  const people: Person[] = [];
  while (people.length < count) {
    const givenName = random.pick(FIRST_NAMES);
    const sn = random.pick(LAST_NAMES);
    const middle = random.chance(0.25) ? random.pick(MIDDLE_NAMES) : undefined;
    const initials = middle ? middle[0] : random.chance(0.1) ? random.pick(MIDDLE_NAMES)[0] : undefined;
    let cn = `${givenName} ${sn}`;
    if (takenCn.has(cn.toLowerCase()) && initials) cn = `${givenName} ${initials}. ${sn}`;
    for (let n = 2; takenCn.has(cn.toLowerCase()); n++) cn = `${givenName} ${sn} ${n}`;
    takenCn.add(cn.toLowerCase());
    const base = (givenName[0] + sn).toLowerCase().slice(0, 18);
    let n = 1;
    while (taken.has(n === 1 ? base : `${base}${n}`)) n++;
    const sam = n === 1 ? base : `${base}${n}`;
    taken.add(sam);
    const mailLocal = `${asciiFold(givenName)}.${asciiFold(sn)}${n === 1 ? '' : n}`;
    people.push({ cn, givenName, sn, sam, mailLocal, middleName: middle, initials });
  }
  return people;
}

/** Builds attribute lists in a fixed order; undefined values are left out. */
class EntryBuilder {
  private readonly attrs: { name: string; values: AttributeValue[] }[] = [];

  constructor(readonly dn: string) {}

  add(name: string, ...values: (AttributeValue | number | undefined)[]): this {
    const present = values.filter((v) => v !== undefined).map((v) => (typeof v === 'number' ? String(v) : v));
    if (present.length > 0) this.attrs.push({ name, values: present });
    return this;
  }

  build(): Entry {
    return new Entry(Dn.parse(this.dn), this.attrs);
  }
}

/** Generates the forest described by `options` as RFC 2849 LDIF text. */
export function generateForest(options: ForestOptions): string {
  const dnsName = dnsNameOf(options.suffix);
  const upnSuffix = options.upnSuffix ?? dnsName;
  const netbios = (options.netbios ?? dnsName.split('.')[0]).toUpperCase().slice(0, 15);
  const specials = options.specials ? SPECIALS : [];
  if (!Number.isInteger(options.users) || options.users < specials.length + 1) {
    throw new Error(`users must be an integer ≥ ${specials.length + 1}`);
  }
  const random = new Random(options.seed);
  const suffix = options.suffix;
  const ou = (name: string): string => `OU=${name},${suffix}`;

  // Clock and identifiers: all from the seed.
  let clock = Date.UTC(2014, 0, 6) + random.int(3 * 365) * 86_400_000 + random.int(86_400) * 1000;
  let usn = 12_000 + random.int(4000);
  let rid = 1103;
  const domainSid = [21, 1 + random.int(0xfffffffe), 1 + random.int(0xfffffffe), 1 + random.int(0xfffffffe)];
  const stamp = (b: EntryBuilder): EntryBuilder => {
    clock += (5 + random.int(3 * 86_400)) * 1000;
    usn += 1 + random.int(40);
    const changed = clock + random.int(400 * 86_400) * 1000;
    return b
      .add('whenCreated', generalizedTime(clock))
      .add('whenChanged', generalizedTime(changed))
      .add('uSNCreated', usn)
      .add('uSNChanged', usn + random.int(5000));
  };

  const entries: Entry[] = [];
  entries.push(
    stamp(
      new EntryBuilder(suffix)
        .add('objectClass', 'top', 'domain', 'domainDNS')
        .add('dc', dnsName.split('.')[0])
        .add('objectGUID', randomGuid(random))
        .add('objectSid', sid(domainSid)),
    ).build(),
  );
  for (const [name, description] of [
    ['Users', 'People'],
    ['Groups', 'Security groups'],
    ['ServiceAccounts', 'Accounts used by applications'],
    ['Computers', 'Workstations and servers'],
  ]) {
    entries.push(new EntryBuilder(ou(name)).add('objectClass', 'top', 'organizationalUnit').add('ou', name).add('description', description).build());
  }

  // People: the first is the root of the management tree; specials are spread among the rest.
  const taken = new Set(specials.map((p) => p.sam));
  const takenCn = new Set(specials.map((p) => p.cn.toLowerCase()));
  const people = randomPeople(random, options.users - specials.length, taken, takenCn);
  const stride = Math.max(1, Math.floor((people.length - 1) / Math.max(1, specials.length)));
  specials.forEach((p, i) => people.splice(Math.min(people.length, 1 + i * (stride + 1)), 0, p));
  const dnOf = people.map((p) => `CN=${escapeDnValue(p.cn)},${ou('Users')}`);
  const department = people.map(() => random.pick(DEPARTMENTS));

  // Disable ~7% (at least one), never the tree's root nor a special person.
  const candidates = people.map((_, i) => i).filter((i) => i > 0 && !SPECIALS.includes(people[i]));
  const disabled = new Set<number>();
  const wantDisabled = Math.max(1, Math.round(options.users * 0.07));
  while (disabled.size < Math.min(wantDisabled, candidates.length)) disabled.add(random.pick(candidates));

  // Groups: one per department, VPN users, a nesting parent and an empty group.
  const groups: { cn: string; members: string[] }[] = [];
  for (const d of DEPARTMENTS) {
    const members = dnOf.filter((_, i) => department[i] === d);
    if (members.length > 0) groups.push({ cn: d, members });
  }
  const departmentGroups = groups.map((g) => `CN=${escapeDnValue(g.cn)},${ou('Groups')}`);
  groups.push({ cn: 'VPN Users', members: dnOf.filter(() => random.chance(0.3)) });
  groups.push({ cn: 'All Staff', members: departmentGroups });
  groups.push({ cn: 'Unused Group', members: [] });
  const memberOf = new Map<string, string[]>();
  for (const g of groups) {
    const groupDn = `CN=${escapeDnValue(g.cn)},${ou('Groups')}`;
    for (const m of g.members) memberOf.set(m, [...(memberOf.get(m) ?? []), groupDn]);
  }

  people.forEach((p, i) => {
    const guid = randomGuid(random);
    if (p.trickyGuid) {
      // Bytes that break naive handling: NUL, a lone UTF-8 continuation byte (variant 0x80), 0xff,
      // and the RFC 4515 metacharacters `\`, `*`, `(`.
      guid[0] = 0x00;
      guid[8] = 0x80;
      guid[15] = 0xff;
      guid.set([0x5c, 0x2a, 0x28], 10);
    }
    const mail = `${p.mailLocal}@${upnSuffix}`;
    const area = random.pick(AREA_CODES);
    const b = new EntryBuilder(dnOf[i])
      .add('objectClass', 'top', 'person', 'organizationalPerson', 'user')
      .add('cn', p.cn)
      .add('name', p.cn)
      .add('sn', p.sn)
      .add('givenName', p.givenName)
      .add('middleName', p.middleName)
      .add('initials', p.initials)
      .add('displayName', p.cn)
      .add('sAMAccountName', p.sam)
      .add('userPrincipalName', `${p.sam}@${p.upnSubdomain === undefined ? '' : `${p.upnSubdomain}.`}${upnSuffix}`)
      .add('mail', mail)
      .add('employeeNumber', 100_001 + i)
      .add('telephoneNumber', phone(random, area))
      .add('ipPhone', String(2000 + i))
      .add('homePhone', random.chance(0.5) ? phone(random) : undefined)
      .add('mobile', random.chance(0.7) ? phone(random) : undefined)
      .add('pager', random.chance(0.15) ? phone(random) : undefined)
      .add('title', i === 0 ? 'Chief Executive Officer' : random.pick(TITLES))
      .add('department', department[i])
      .add('company', `${netbios} Corp`)
      .add('manager', i === 0 ? undefined : dnOf[random.int(i)])
      .add('objectGUID', guid)
      .add('objectSid', sid([...domainSid, rid++]))
      .add('primaryGroupID', DOMAIN_USERS_RID)
      .add('sAMAccountType', SAM_USER_OBJECT)
      .add('pwdLastSet', fileTime(clock))
      .add('userAccountControl', disabled.has(i) ? UAC_DISABLED : UAC_NORMAL)
      .add('msRTCSIP-PrimaryUserAddress', `sip:${mail}`)
      .add('userPassword', USER_PASSWORD)
      .add('memberOf', ...(memberOf.get(dnOf[i]) ?? []));
    entries.push(stamp(b).build());
  });

  entries.push(
    stamp(
      new EntryBuilder(`CN=${SERVICE_ACCOUNT},${ou('ServiceAccounts')}`)
        .add('objectClass', 'top', 'person', 'organizationalPerson', 'user')
        .add('cn', SERVICE_ACCOUNT)
        .add('name', SERVICE_ACCOUNT)
        .add('sn', 'Service')
        .add('givenName', 'Canopy')
        .add('displayName', 'Canopy Service')
        .add('description', 'Bind account for Canopy')
        .add('sAMAccountName', SERVICE_ACCOUNT)
        .add('userPrincipalName', `${SERVICE_ACCOUNT}@${upnSuffix}`)
        .add('objectGUID', randomGuid(random))
        .add('objectSid', sid([...domainSid, rid++]))
        .add('primaryGroupID', DOMAIN_USERS_RID)
        .add('sAMAccountType', SAM_USER_OBJECT)
        .add('pwdLastSet', fileTime(clock))
        .add('userAccountControl', UAC_NORMAL_NO_EXPIRY)
        .add('userPassword', SERVICE_PASSWORD),
    ).build(),
  );

  for (let n = 1; n <= 3; n++) {
    const name = `${netbios}-WS${String(n).padStart(2, '0')}`.slice(0, 15);
    entries.push(
      stamp(
        new EntryBuilder(`CN=${name},${ou('Computers')}`)
          .add('objectClass', 'top', 'person', 'organizationalPerson', 'user', 'computer')
          .add('cn', name)
          .add('name', name)
          .add('sAMAccountName', `${name}$`)
          .add('dNSHostName', `${name.toLowerCase()}.${dnsName}`)
          .add('objectGUID', randomGuid(random))
          .add('objectSid', sid([...domainSid, rid++]))
          .add('primaryGroupID', DOMAIN_COMPUTERS_RID)
          .add('sAMAccountType', SAM_MACHINE_ACCOUNT)
          .add('userAccountControl', UAC_WORKSTATION),
      ).build(),
    );
  }

  for (const g of groups) {
    const groupDn = `CN=${escapeDnValue(g.cn)},${ou('Groups')}`;
    const b = new EntryBuilder(groupDn)
      .add('objectClass', 'top', 'group')
      .add('cn', g.cn)
      .add('name', g.cn)
      .add('sAMAccountName', g.cn.replace(/ /g, '-').toLowerCase())
      .add('groupType', GROUP_TYPE_GLOBAL_SECURITY)
      .add('sAMAccountType', SAM_GROUP_OBJECT)
      .add('objectGUID', randomGuid(random))
      .add('objectSid', sid([...domainSid, rid++]))
      .add('member', ...g.members)
      .add('memberOf', ...(memberOf.get(groupDn) ?? []));
    entries.push(stamp(b).build());
  }

  // The primary groups every user and computer names by primaryGroupID. As in AD, primary group
  // membership is not listed in `member`. Last, so the entries above keep their generated values.
  for (const [cn, rid, description] of [
    ['Domain Users', DOMAIN_USERS_RID, 'All domain users'],
    ['Domain Computers', DOMAIN_COMPUTERS_RID, 'All workstations and servers joined to the domain'],
  ] as const) {
    const b = new EntryBuilder(`CN=${cn},${ou('Groups')}`)
      .add('objectClass', 'top', 'group')
      .add('cn', cn)
      .add('name', cn)
      .add('description', description)
      .add('sAMAccountName', cn)
      .add('groupType', GROUP_TYPE_GLOBAL_SECURITY)
      .add('sAMAccountType', SAM_GROUP_OBJECT)
      .add('objectGUID', randomGuid(random))
      .add('objectSid', sid([...domainSid, rid]));
    entries.push(stamp(b).build());
  }

  return entriesToLdif(entries);
}
