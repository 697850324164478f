import { readFileSync } from 'node:fs';

/** Canopy's version, from the package.json that ships beside dist/ and src/. */
export const version: string = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;
