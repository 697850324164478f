/**
 * CLI: writes a generated AD-like forest as LDIF.
 *   node dist/tools/fixtures-command.js --users N --suffix DC=x,DC=y --seed S
 *     [--upn-suffix s] [--netbios NAME] [--specials] [--out FILE]
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { generateForest } from './fixture-generator.js';

const USAGE = `usage: npm run fixtures -- --users N --suffix DC=x,DC=y --seed S [--upn-suffix SUFFIX] [--netbios NAME] [--specials] [--out FILE]
  --users N          people in OU=Users (at least 1, or 9 with --specials)
  --suffix DN        the domain DN, dc= RDNs only, kept as spelled (e.g. DC=avvid,DC=info)
  --seed S           integer seed: the same options always give the same bytes
  --upn-suffix S     userPrincipalName/mail suffix (default: the suffix's DNS name)
  --netbios NAME     NetBIOS domain name (default: first DNS label, upper case)
  --specials         add jdoe, non-ASCII names, DN special characters, a user without sn,
                     a UPN under an unmapped suffix
  --out FILE         write to FILE instead of stdout`;

function usage(message: string): never {
  process.stderr.write(`fixtures: ${message}\n${USAGE}\n`);
  process.exit(2);
}

function integer(name: string, text: string | undefined): number {
  if (text === undefined) usage(`--${name} is required`);
  if (!/^\d+$/.test(text)) usage(`--${name} must be a non-negative integer, got "${text}"`);
  return Number(text);
}

function main(): void {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        users: { type: 'string' },
        suffix: { type: 'string' },
        seed: { type: 'string' },
        'upn-suffix': { type: 'string' },
        netbios: { type: 'string' },
        specials: { type: 'boolean' },
        out: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    usage((err as Error).message);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (!values.suffix) usage('--suffix is required');
  let ldif: string;
  try {
    ldif = generateForest({
      users: integer('users', values.users),
      suffix: values.suffix,
      seed: integer('seed', values.seed),
      upnSuffix: values['upn-suffix'],
      netbios: values.netbios,
      specials: values.specials ?? false,
    });
  } catch (err) {
    usage((err as Error).message);
  }
  if (values.out) writeFileSync(values.out, ldif);
  else process.stdout.write(ldif);
}

main();
