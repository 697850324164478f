import { hashPassword } from '../core/scrypt-hash.js';

/**
 * `canopy hash-password`: reads a password from standard input (never from the command line,
 * where it would land in shell history and process listings) and prints its scrypt hash for
 * `accounts[].passwordHash`. A trailing newline is not part of the password.
 */
export async function runHashPassword(input: NodeJS.ReadableStream, output: NodeJS.WritableStream): Promise<boolean> {
  const chunks: Buffer[] = [];
  for await (const chunk of input) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  const password = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  if (password === '') return false;
  output.write(`${await hashPassword(password)}\n`);
  return true;
}
