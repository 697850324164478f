import { isUtf8 } from 'node:buffer';
import type { Filter } from './filter.js';
import { rulesFor } from './matching.js';
import { descriptionKey, isCredentialAttribute } from './schema.js';

/**
 * RFC 4515 text of a filter, for logs and cache keys. Unlike @ldapjs/filter's toString it keeps
 * non-ASCII text readable (`(cn=José)`); only `*`, `(`, `)`, `\` and NUL are escaped, plus every
 * byte of binary attributes and of values that are not valid UTF-8, so the text is unambiguous.
 */
export function filterToString(filter: Filter): string {
  return render(filter, spelled, escapeValue);
}

/**
 * The text for log lines: assertion values on credential types (by any name or OID, see
 * `isCredentialAttribute`) replaced by `***`, as are those of leaves naming no attribute, which
 * are tested against every attribute, credentials included.
 */
export function filterToLogString(filter: Filter): string {
  return render(filter, spelled, (attribute, value) => (isCredentialAttribute(attribute) ? '***' : escapeValue(attribute, value)));
}

/** The text of what a filter means, for cache keys: each attribute by its type key, so spellings of one type share it. */
export function filterToKeyString(filter: Filter): string {
  return render(filter, descriptionKey, escapeValue);
}

type NameText = (attribute: string) => string;
type ValueText = (attribute: string, value: Buffer) => string;

const spelled: NameText = (attribute) => attribute;

function render(filter: Filter, nameText: NameText, escapeValue: ValueText): string {
  const sub = (f: Filter) => render(f, nameText, escapeValue);
  switch (filter.type) {
    case 'and':
      return `(&${filter.filters.map(sub).join('')})`;
    case 'or':
      return `(|${filter.filters.map(sub).join('')})`;
    case 'not':
      return `(!${sub(filter.filter)})`;
    case 'present':
      return `(${nameText(filter.attribute)}=*)`;
    case 'equality':
      return `(${nameText(filter.attribute)}=${escapeValue(filter.attribute, filter.value)})`;
    case 'approx':
      return `(${nameText(filter.attribute)}~=${escapeValue(filter.attribute, filter.value)})`;
    case 'ge':
      return `(${nameText(filter.attribute)}>=${escapeValue(filter.attribute, filter.value)})`;
    case 'le':
      return `(${nameText(filter.attribute)}<=${escapeValue(filter.attribute, filter.value)})`;
    case 'substrings': {
      const esc = (b: Buffer): string => escapeValue(filter.attribute, b);
      const parts = [filter.initial ? esc(filter.initial) : '', ...filter.any.map(esc), filter.final ? esc(filter.final) : ''];
      return `(${nameText(filter.attribute)}=${parts.join('*')})`;
    }
    case 'extensible': {
      const attr = filter.attribute ?? '';
      const dn = filter.dnAttributes ? ':dn' : '';
      const rule = filter.rule !== undefined ? `:${filter.rule}` : '';
      return `(${attr === '' ? '' : nameText(attr)}${dn}${rule}:=${escapeValue(attr, filter.value)})`;
    }
  }
}

const SPECIAL = /[*()\\\0]/g;

function escapeValue(attribute: string, value: Buffer): string {
  if ((attribute !== '' && rulesFor(attribute).syntax === 'binary') || !isUtf8(value)) return hex(value);
  return value.toString('utf8').replace(SPECIAL, (c) => '\\' + c.charCodeAt(0).toString(16).padStart(2, '0'));
}

function hex(value: Buffer): string {
  let out = '';
  for (const b of value) out += '\\' + b.toString(16).padStart(2, '0');
  return out;
}
