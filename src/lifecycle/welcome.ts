import type { LoadedConfig } from '../config/load.js';

/**
 * What a person who ran `./dev start` at a terminal needs once Canopy listens: where, which tree,
 * and how to log in. Printed only to a terminal; log collectors get the `canopy listening` line.
 * No password is printed: the embedded default's mock password is in the README's tour.
 */
export function welcomeLines(config: LoadedConfig, urls: readonly string[], embeddedDefault: boolean): string[] {
  const trees = config.namespace ? [config.namespace.suffix] : config.forests.map((f) => f.mount ?? f.base);
  const forests = config.forests.map((f) => f.name).join(', ');
  const account = config.accounts[0]?.dn;
  return [
    `Canopy is serving ${trees.join(' and ')} at ${urls.join(' and ')} (forests: ${forests}).`,
    account === undefined
      ? 'No local accounts: forest users bind by DN, UPN or DOMAIN\\name (docs/configuration.md, accounts).'
      : `Bind as ${account}${embeddedDefault ? " (the mock default's password is in README.md)" : ''}.`,
    embeddedDefault
      ? 'Take the tour: README.md, "A one-minute tour"; every setting: docs/configuration.md. Ctrl-C stops.'
      : 'Every setting: docs/configuration.md; troubleshooting: docs/troubleshooting.md. Ctrl-C stops.',
  ];
}
