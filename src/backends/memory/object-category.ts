import type { Dn } from '../../core/dn.js';
import type { AttributeValue, Entry } from '../../core/entry.js';
import type { Filter } from '../../core/filter.js';
import { attributeKey, objectClass } from '../../core/schema.js';

/**
 * Active Directory's `objectCategory` under `profile: ad`. Every AD object holds one: the
 * `defaultObjectCategory` of its most specific structural class, a DN in the schema partition
 * (`CN=Person,CN=Schema,CN=Configuration,<forest root>` for users and contacts). In a filter, a
 * domain controller reads `(objectCategory=person)` as that DN (MS-ADTS 3.1.1.3.1.3.5), which is
 * why applications filter on it. The mock's forests are single-domain forests: the forest root is
 * the directory's suffix.
 */

/**
 * The common classes' default categories, most specific first: a computer is also a user, and a
 * user a person. AD gives user, inetOrgPerson and contact the category Person.
 */
const DEFAULT_CATEGORIES: ReadonlyMap<string, string> = new Map([
  ['computer', 'Computer'],
  ['inetorgperson', 'Person'],
  ['user', 'Person'],
  ['contact', 'Person'],
  ['organizationalperson', 'Person'],
  ['person', 'Person'],
  ['group', 'Group'],
  ['organizationalunit', 'Organizational-Unit'],
  ['domaindns', 'Domain-DNS'],
  ['domain', 'Domain-DNS'],
  ['container', 'Container'],
]);

const PRECEDENCE = [...DEFAULT_CATEGORIES.keys()];

/** An lDAPDisplayName: what a filter names a class by, as opposed to a DN. */
const DISPLAY_NAME = /^[A-Za-z][A-Za-z0-9-]*$/;

/**
 * The CN of a class's default category: from the table, or else the class itself in AD's
 * spelling of schema CNs (`groupOfNames` → `Group-Of-Names`, `msDS-Foo` → `ms-DS-Foo`).
 */
export function categoryName(className: string): string {
  const known = DEFAULT_CATEGORIES.get(className.toLowerCase());
  if (known) return known;
  const spelled = (objectClass(className)?.name ?? className).replace(/([a-z0-9])(?=[A-Z])/g, '$1-');
  return spelled.startsWith('ms-') ? spelled : spelled.charAt(0).toUpperCase() + spelled.slice(1);
}

export function categoryDn(className: string, forestRoot: Dn): string {
  return `CN=${categoryName(className)},CN=Schema,CN=Configuration,${forestRoot.text}`;
}

/** The table's category DNs by forest root: one string shared by every entry of a category. */
const tableCategoryDns = new WeakMap<Dn, Map<string, string>>();

function tableCategoryDn(className: string, forestRoot: Dn): string {
  let byClass = tableCategoryDns.get(forestRoot);
  if (!byClass) tableCategoryDns.set(forestRoot, (byClass = new Map()));
  let dn = byClass.get(className);
  if (dn === undefined) byClass.set(className, (dn = categoryDn(className, forestRoot)));
  return dn;
}

/**
 * The category an entry gets from its object classes: the most specific class of the table, or
 * else the last class that is not known to be abstract or auxiliary (AD lists the most specific
 * last); undefined when there is none.
 */
export function objectCategoryOf(entry: Entry, forestRoot: Dn): string | undefined {
  const classes = entry.get('objectClass')?.values ?? [];
  // Stored entries share their frozen lists of classes: a load's users ask with one list again and again.
  if (classes === lastClasses && forestRoot === lastRoot) return lastCategory;
  const category = categoryOfClasses(classes, forestRoot);
  if (Object.isFrozen(classes)) {
    lastClasses = classes;
    lastRoot = forestRoot;
    lastCategory = category;
  }
  return category;
}

/** The frozen list of classes objectCategoryOf was asked for last, under which root, and its answer. */
let lastClasses: readonly AttributeValue[] | undefined;
let lastRoot: Dn | undefined;
let lastCategory: string | undefined;

function categoryOfClasses(classes: readonly AttributeValue[], forestRoot: Dn): string | undefined {
  // In the schema's spelling, so that an OID or an odd case finds the table too.
  const names = classes.map((v) => objectClass(String(v))?.name ?? String(v));
  const lower = new Set(names.map((n) => n.toLowerCase()));
  const known = PRECEDENCE.find((c) => lower.has(c));
  if (known) return tableCategoryDn(known, forestRoot);
  const structural = names.findLast((n) => {
    const kind = objectClass(n)?.kind;
    return n !== '' && kind !== 'abstract' && kind !== 'auxiliary';
  });
  return structural === undefined ? undefined : categoryDn(structural, forestRoot);
}

/** Gives a stored entry its objectCategory when the data or the add did not. */
export function setObjectCategory(entry: Entry, forestRoot: Dn): void {
  if (entry.has('objectCategory')) return;
  const category = objectCategoryOf(entry, forestRoot);
  if (category !== undefined) entry.set('objectCategory', [category]);
}

/**
 * The filter as a domain controller evaluates it: each `(objectCategory=<class name>)` replaced by
 * `(objectCategory=<that class's default category DN>)`; a class outside the table names its own
 * category, as `objectCategoryOf` gives it. Returns the same filter object when nothing changes.
 */
export function expandObjectCategory(filter: Filter, forestRoot: Dn): Filter {
  switch (filter.type) {
    case 'and':
    case 'or': {
      const filters = filter.filters.map((f) => expandObjectCategory(f, forestRoot));
      return filters.every((f, i) => f === filter.filters[i]) ? filter : { type: filter.type, filters };
    }
    case 'not': {
      const inner = expandObjectCategory(filter.filter, forestRoot);
      return inner === filter.filter ? filter : { type: 'not', filter: inner };
    }
    case 'equality': {
      if (attributeKey(filter.attribute) !== 'objectcategory') return filter;
      const name = filter.value.toString('utf8').trim();
      if (!DISPLAY_NAME.test(name)) return filter;
      return { ...filter, value: Buffer.from(categoryDn(name, forestRoot), 'utf8') };
    }
    default:
      return filter;
  }
}
