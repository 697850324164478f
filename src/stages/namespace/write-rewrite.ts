import type { Modification } from '../../core/directory.js';
import { Dn } from '../../core/dn.js';
import type { Attribute, AttributeValue } from '../../core/entry.js';
import { LdapError } from '../../core/ldap-error.js';
import { ResultCode } from '../../core/result-codes.js';
import { attributeKey, syntaxOf } from '../../core/schema.js';
import { DISABLED } from './account-disabled.js';
import { dnValueToUpstream } from './dn-rewrite.js';
import { CANOPY_FOREST } from './filter-rewrite.js';
import type { ForestView } from './forest-view.js';
import type { NamespaceMap } from './namespace-map.js';
import { UPN, upnToUpstream } from './upn-rewrite.js';

/**
 * Attributes of writes (add, modify) in one forest's terms. Computed attributes (canopyForest,
 * msDS-UserAccountDisabled: write userAccountControl instead) are refused (unwillingToPerform);
 * hidden ones (`attributes.hide`) get insufficientAccessRights, as an attribute no access rule lets
 * anyone write; a DN value naming an entry of another forest is refused (unwillingToPerform): a
 * forest cannot store a reference it cannot resolve.
 */
export function attributeToUpstream(map: NamespaceMap, view: ForestView, attribute: Attribute): Attribute {
  const type = attributeKey(attribute.name);
  if (type === CANOPY_FOREST || type === DISABLED) {
    throw new LdapError(ResultCode.unwillingToPerform, `attribute "${attribute.name}" is computed by this directory and cannot be written`);
  }
  const name = view.upstreamName(attribute.name);
  if (name === undefined) {
    throw new LdapError(ResultCode.insufficientAccessRights, `no write access to ${attribute.name} of forest "${view.name}"`);
  }
  if (syntaxOf(name) === 'binary') return name === attribute.name ? attribute : { name, values: attribute.values };
  const values = valuesToUpstream(map, view, attribute.name, name, attribute.values);
  return name === attribute.name && values === attribute.values ? attribute : { name, values };
}

/**
 * A rename's new RDN in one forest's terms: its attribute names mapped, hidden and computed ones
 * refused as in an add (the rename writes the RDN's values into the entry). Values keep their
 * spelling.
 */
export function rdnToUpstream(map: NamespaceMap, view: ForestView, newRdn: string): string {
  const [rdn, ...more] = Dn.parse(newRdn).rdns;
  if (rdn === undefined || more.length > 0) throw new LdapError(ResultCode.invalidDNSyntax, `invalid new RDN "${newRdn}": expected exactly one RDN`);
  const types = rdn.avas.map((ava) => attributeToUpstream(map, view, { name: ava.type, values: [ava.value] }).name);
  return types.every((t, i) => t === rdn.avas[i].type) ? newRdn : withTypes(rdn.text, types);
}

/** An RDN's text with each AVA's type replaced, in order; a value ends at an unescaped `+`. */
function withTypes(text: string, types: readonly string[]): string {
  let out = '';
  let start = 0;
  for (const type of types) {
    const eq = text.indexOf('=', start);
    let end = eq;
    while (end < text.length && text[end] !== '+') end += text[end] === '\\' ? 2 : 1;
    out += type + text.slice(eq, end + 1);
    start = end + 1;
  }
  return out;
}

export function modificationToUpstream(map: NamespaceMap, view: ForestView, change: Modification): Modification {
  const attribute = attributeToUpstream(map, view, change.attribute);
  return attribute === change.attribute ? change : { operation: change.operation, attribute };
}

function valuesToUpstream(
  map: NamespaceMap,
  view: ForestView,
  virtual: string,
  upstream: string,
  values: AttributeValue[],
): AttributeValue[] {
  if (view.isDnValued(virtual) || view.isDnValued(upstream)) {
    return values.map((v) => {
      const text = typeof v === 'string' ? v : v.toString('utf8');
      const out = dnValueToUpstream(map, view, text);
      if (out === undefined || (out === text && inOtherForestBase(map, view, text))) {
        throw new LdapError(
          ResultCode.unwillingToPerform,
          `"${virtual}" value "${text}" names an entry of another forest; forest "${view.name}" cannot hold it`,
        );
      }
      return out === text ? v : out;
    });
  }
  if (attributeKey(virtual) === UPN) {
    // A suffix this forest does not map is written as given: the forest decides whether it takes it.
    return values.map((v) => (typeof v === 'string' ? (upnToUpstream(map, view, v) ?? v) : v));
  }
  return values;
}

/**
 * A DN outside every mount but spelled in another forest's own terms (its base): refused like the
 * virtual DN of that forest's entry, since it would read back as one.
 */
function inOtherForestBase(map: NamespaceMap, view: ForestView, text: string): boolean {
  let dn: Dn;
  try {
    dn = Dn.parse(text);
  } catch {
    return false;
  }
  return map.toUpstream(dn) === undefined && !dn.isWithin(view.base) && map.forests.some((f) => f !== view && dn.isWithin(f.base));
}
