import { isUtf8 } from 'node:buffer';
import type { Filter } from './filter.js';
import { rulesFor } from './matching.js';
import { isSecretAttribute } from './schema.js';

/**
 * RFC 4515 text of a filter, for logs and cache keys. Unlike @ldapjs/filter's toString it keeps
 * non-ASCII text readable (`(cn=José)`); only `*`, `(`, `)`, `\` and NUL are escaped, plus every
 * byte of binary attributes and of values that are not valid UTF-8, so the text is unambiguous.
 */
export function filterToString(filter: Filter): string {
  return render(filter, escapeValue);
}

/** The same text for log lines, with assertion values on password attributes replaced by `***`. */
export function filterToLogString(filter: Filter): string {
  return render(filter, (attribute, value) => (isSecretAttribute(attribute) ? '***' : escapeValue(attribute, value)));
}

type ValueText = (attribute: string, value: Buffer) => string;

function render(filter: Filter, escapeValue: ValueText): string {
  const sub = (f: Filter) => render(f, escapeValue);
  switch (filter.type) {
    case 'and':
      return `(&${filter.filters.map(sub).join('')})`;
    case 'or':
      return `(|${filter.filters.map(sub).join('')})`;
    case 'not':
      return `(!${sub(filter.filter)})`;
    case 'present':
      return `(${filter.attribute}=*)`;
    case 'equality':
      return `(${filter.attribute}=${escapeValue(filter.attribute, filter.value)})`;
    case 'approx':
      return `(${filter.attribute}~=${escapeValue(filter.attribute, filter.value)})`;
    case 'ge':
      return `(${filter.attribute}>=${escapeValue(filter.attribute, filter.value)})`;
    case 'le':
      return `(${filter.attribute}<=${escapeValue(filter.attribute, filter.value)})`;
    case 'substrings': {
      const esc = (b: Buffer): string => escapeValue(filter.attribute, b);
      const parts = [filter.initial ? esc(filter.initial) : '', ...filter.any.map(esc), filter.final ? esc(filter.final) : ''];
      return `(${filter.attribute}=${parts.join('*')})`;
    }
    case 'extensible': {
      const attr = filter.attribute ?? '';
      const dn = filter.dnAttributes ? ':dn' : '';
      const rule = filter.rule !== undefined ? `:${filter.rule}` : '';
      return `(${attr}${dn}${rule}:=${escapeValue(attr, filter.value)})`;
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
