import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * Local account passwords as scrypt hashes in a PHC-like string:
 * `$scrypt$ln=15,r=8,p=1$<salt, base64>$<hash, base64>` (ln = log2 of the cost N).
 */

const PATTERN = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]+=*)\$([A-Za-z0-9+/]+=*)$/;
const DEFAULT = { ln: 15, r: 8, p: 1 };
/** The lowest cost (log2) a hash may have: one below is refused. */
export const MIN_COST_LN = 10;
const KEY_BYTES = 32;

export interface ScryptHash {
  readonly options: ScryptOptions;
  readonly salt: Buffer;
  readonly hash: Buffer;
}

/** The parsed hash, or undefined when the text is not one (configuration validation uses it). */
export function parseScryptHash(text: string): ScryptHash | undefined {
  const m = PATTERN.exec(text);
  if (!m) return undefined;
  const [ln, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (ln < MIN_COST_LN || ln > 20 || r < 1 || p < 1) return undefined;
  const hash = Buffer.from(m[5], 'base64');
  if (hash.length < 16) return undefined;
  return { options: scryptOptions(ln, r, p), salt: Buffer.from(m[4], 'base64'), hash };
}

/** What `canopy hash-password` prints; `ln` (log2 of the cost, MIN_COST_LN at least) lower for a password nobody keeps secret. */
export async function hashPassword(password: string | Buffer, ln = DEFAULT.ln): Promise<string> {
  const { r, p } = DEFAULT;
  const salt = randomBytes(16);
  const hash = await derive(password, salt, KEY_BYTES, scryptOptions(ln, r, p));
  return `$scrypt$ln=${ln},r=${r},p=${p}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

/**
 * A hash no password matches, costing what `like` costs to check: checked for names that are no
 * account, so their answer takes as long as a wrong password's.
 */
export function unmatchableHash(like: ScryptHash): ScryptHash {
  return { options: like.options, salt: randomBytes(16), hash: randomBytes(like.hash.length) };
}

export async function verifyPassword(stored: ScryptHash, password: Buffer): Promise<boolean> {
  const hash = await derive(password, stored.salt, stored.hash.length, stored.options);
  return timingSafeEqual(hash, stored.hash);
}

function scryptOptions(ln: number, r: number, p: number): ScryptOptions {
  const N = 2 ** ln;
  // Node refuses above 32 MiB by default; scrypt needs 128·N·r bytes.
  return { N, r, p, maxmem: 256 * N * r };
}

function derive(password: string | Buffer, salt: Buffer, length: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => scrypt(password, salt, length, options, (err, key) => (err ? reject(err) : resolve(key))));
}
