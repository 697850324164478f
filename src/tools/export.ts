import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { entryToLdif, LDIF_HEADER } from '../backends/memory/ldif.js';
import { ConfigErrors } from '../config/config-error.js';
import { loadConfigFile } from '../config/load.js';
import type { Directory, SearchContext } from '../core/directory.js';
import { Dn } from '../core/dn.js';
import { Entry } from '../core/entry.js';
import type { Filter } from '../core/filter.js';
import { LdapError } from '../core/ldap-error.js';
import { ResultCode } from '../core/result-codes.js';
import { isCredentialAttribute } from '../core/schema.js';
import { SearchTrailer } from '../core/search-trailer.js';
import { createLogger } from '../observability/logger.js';
import { parseFilterString } from '../protocol/filter-codec.js';
import { assembleRouter } from '../server.js';
import { Anonymizer } from './anonymize.js';
import { USER_PASSWORD } from './fixture-generator.js';

export const exportUsage = `Usage: canopy export --config FILE --base DN --out FILE [options]

Reads a directory through Canopy (the configuration's forests, namespace and router, with the
forests' service accounts; streamed, paged upstream) and writes it as LDIF that \`canopy mock\`
serves. Credentials are never written, with or without --anonymize: passwords and their hashes
and histories (userPassword, unicodePwd, ntPwdHistory, supplementalCredentials, pwdHistory, ...),
LAPS and BitLocker secrets, private keys (userPKCS12, krbPrincipalKey), under any name or OID,
and attributes named by an OID Canopy does not know. Every person gets userPassword ${USER_PASSWORD}.

Options:
  -c, --config FILE   configuration file (required)
  --base DN           the subtree to export, in the virtual tree's names (required)
  --filter F          RFC 4515 filter (default (objectClass=*))
  --anonymize         replace personal data consistently (docs/mock-directory.md)
  --seed S            the pseudonyms' key: the same seed gives the same output (default: random)
  --out FILE          the LDIF file to write (required)
  -h, --help          show this help
`;

export interface ExportIo {
  readonly out: NodeJS.WritableStream;
  readonly err: NodeJS.WritableStream;
}

/** `canopy export`: returns the exit status (2 for usage errors, 1 when the export failed). */
export async function runExport(argv: readonly string[], io: ExportIo): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        config: { type: 'string', short: 'c' },
        base: { type: 'string' },
        filter: { type: 'string' },
        anonymize: { type: 'boolean' },
        seed: { type: 'string' },
        out: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    io.err.write(`canopy export: ${(err as Error).message}\n\n${exportUsage}`);
    return 2;
  }
  if (values.help) {
    io.out.write(exportUsage);
    return 0;
  }
  const missing = (['config', 'base', 'out'] as const).filter((k) => values[k] === undefined);
  if (missing.length > 0) {
    io.err.write(`canopy export: ${missing.map((k) => `--${k}`).join(', ')} required\n\n${exportUsage}`);
    return 2;
  }
  if (values.seed !== undefined && !values.anonymize) {
    io.err.write('canopy export: --seed applies to --anonymize only\n');
    return 2;
  }
  let base: Dn;
  let filter: Filter;
  try {
    base = Dn.parse(values.base!);
    filter = parseFilterString(values.filter ?? '(objectClass=*)');
  } catch (err) {
    io.err.write(`canopy export: ${(err as Error).message}\n`);
    return 2;
  }

  const file = values.config!;
  try {
    const config = loadConfigFile(file);
    const { router } = await assembleRouter(config, createLogger('warn', io.err));
    let count: number;
    try {
      count = await exportToFile(router, {
        base,
        filter,
        ...(values.anonymize && { anonymizer: new Anonymizer(values.seed ?? randomBytes(16).toString('hex')) }),
        out: values.out!,
      });
    } finally {
      await router.close();
    }
    io.out.write(`exported ${count} entries below ${base.text || '(root)'} to ${values.out}${values.anonymize ? ', anonymized' : ''}\n`);
    if (!values.anonymize) io.err.write('canopy export: not anonymized: the file holds the directory\'s personal data (credentials left out)\n');
    return 0;
  } catch (err) {
    if (err instanceof ConfigErrors) {
      io.err.write(`canopy export: ${err.report(file)}\n`);
    } else {
      io.err.write(`canopy export: ${(err as Error).message}\n`);
    }
    return 1;
  }
}

export interface ExportOptions {
  /** In the virtual tree's names. */
  readonly base: Dn;
  readonly filter: Filter;
  /** Absent: the entries as read, minus credentials. */
  readonly anonymizer?: Anonymizer;
  readonly out: string;
}

/**
 * Writes the subtree as LDIF, one entry at a time as the search yields it (memory follows one
 * entry, not the directory). The file appears only when the whole subtree was read: a forest that
 * fails halfway leaves no partial export behind that could pass for the directory.
 */
export async function exportToFile(directory: Directory, options: ExportOptions): Promise<number> {
  const partial = `${options.out}.partial`;
  let count = 0;
  const trailer = new SearchTrailer();
  const ctx: SearchContext = { signal: new AbortController().signal, connectionId: 0, boundDn: '', trailer };
  async function* records(): AsyncGenerator<string> {
    yield LDIF_HEADER;
    const request = { base: options.base, scope: 'sub' as const, filter: options.filter, attributes: ['*'], typesOnly: false, sizeLimit: 0, timeLimit: 0 };
    for await (const read of directory.search(request, ctx)) {
      const entry = await withAllValues(read, directory, ctx);
      const kept = withoutCredentials(entry);
      yield '\n' + entryToLdif(withPassword(options.anonymizer ? options.anonymizer.entry(kept) : kept));
      count++;
    }
    // `onForestError: partial` ends in success without the failed forests: not a whole export.
    if (trailer.missingForests.length > 0) {
      throw new LdapError(ResultCode.unavailable, `not exported: forests ${trailer.missingForests.join('; ')} did not answer`);
    }
  }
  try {
    await pipeline(Readable.from(records()), createWriteStream(partial));
    await rename(partial, options.out);
  } catch (err) {
    await rm(partial, { force: true });
    throw err;
  }
  return count;
}

const RANGE = /;range=(\d+)-(\d+|\*)$/i;

/**
 * The entry with every value of attributes that came in ranges (AD's `member;range=0-1499` for
 * groups over MaxValRange): the next windows are asked for until the last, as AD clients do.
 */
async function withAllValues(entry: Entry, directory: Directory, ctx: SearchContext): Promise<Entry> {
  let out: Entry | undefined;
  for (const a of [...entry.attributes()]) {
    let m = RANGE.exec(a.name);
    if (!m) continue;
    out ??= entry.clone();
    const name = a.name.slice(0, m.index);
    const values = [...a.values];
    while (m[2] !== '*') {
      const window = `${name};range=${Number(m[2]) + 1}-*`;
      const request = { base: entry.dn, scope: 'base' as const, filter: ANY, attributes: [window], typesOnly: false, sizeLimit: 0, timeLimit: 0 };
      m = null;
      for await (const next of directory.search(request, ctx)) {
        for (const b of next.attributes()) {
          const range = RANGE.exec(b.name);
          if (!range || b.name.slice(0, range.index).toLowerCase() !== name.toLowerCase() || b.values.length === 0) continue;
          values.push(...b.values);
          m = range;
        }
      }
      if (!m) throw new LdapError(ResultCode.other, `${entry.dn.text}: ${name} values past ${values.length} could not be read`);
    }
    out.delete(a.name);
    out.set(name, values);
  }
  return out ?? entry;
}

const ANY: Filter = { type: 'present', attribute: 'objectClass' };

/** Credentials are dropped before anything else sees the entry, anonymized or not. */
function withoutCredentials(entry: Entry): Entry {
  if (![...entry.attributes()].some((a) => isCredentialAttribute(a.name))) return entry;
  return new Entry(entry.dn, [...entry.attributes()].filter((a) => !isCredentialAttribute(a.name)));
}

const PEOPLE = new Set(['person', 'organizationalperson', 'inetorgperson', 'user']);

/** People get the documented password, so binds work against the mock (the fixtures' `Passw0rd!`). */
function withPassword(entry: Entry): Entry {
  const classes = entry.get('objectClass')?.values ?? [];
  if (!classes.some((c) => typeof c === 'string' && PEOPLE.has(c.toLowerCase()))) return entry;
  const out = entry.clone();
  out.set('userPassword', [USER_PASSWORD]);
  return out;
}
