import { Dn } from '../core/dn.js';
import { Entry } from '../core/entry.js';
import { ControlOid } from '../protocol/controls/oids.js';
import { ExtendedOid } from '../protocol/tags.js';
import { SUBSCHEMA_DN } from './subschema.js';

export interface RootDseOptions {
  readonly startTls: boolean;
  /** SASL mechanisms a bind can use here: EXTERNAL when TLS asks for client certificates. */
  readonly saslMechanisms?: readonly string[];
  readonly vendorVersion: string;
}

/**
 * The root DSE (RFC 4512 §5.1): what this server is and holds. Built per request because the
 * naming contexts come from the directory, which may change them.
 */
export function rootDseEntry(namingContexts: readonly Dn[], options: RootDseOptions): Entry {
  const extensions: string[] = [ExtendedOid.whoAmI, ExtendedOid.passwordModify];
  if (options.startTls) extensions.push(ExtendedOid.startTls);
  return new Entry(Dn.root, [
    { name: 'objectClass', values: ['top'] },
    ...(namingContexts.length > 0 ? [{ name: 'namingContexts', values: namingContexts.map((d) => d.text) }] : []),
    { name: 'supportedLDAPVersion', values: ['3'] },
    { name: 'supportedExtension', values: extensions },
    { name: 'supportedControl', values: [ControlOid.pagedResults, ControlOid.sortRequest, ControlOid.passwordPolicy] },
    ...(options.saslMechanisms?.length ? [{ name: 'supportedSASLMechanisms', values: [...options.saslMechanisms] }] : []),
    { name: 'subschemaSubentry', values: [SUBSCHEMA_DN.text] },
    { name: 'vendorName', values: ['Canopy'] },
    { name: 'vendorVersion', values: [options.vendorVersion] },
  ]);
}

/**
 * Root DSE attributes, and the subschema entry's, come back for `*`, `+` and no list alike (what
 * `ldapsearch -b "" -s base` expects, though they are operational), or by name; `1.1` still means none.
 */
export function rootDseAttributes(requested: readonly string[]): readonly string[] {
  if (requested.length === 0 || requested.includes('*') || requested.includes('+')) return ['*', '+'];
  return requested;
}
