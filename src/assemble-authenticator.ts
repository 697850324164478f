import { CanopyAuthenticator } from './auth/authenticator.js';
import type { Throttle } from './auth/bind-throttle.js';
import { bindDiagnosticsOf } from './auth/bind-diagnostics.js';
import { ForestLogins, type LoginForest } from './auth/forest-logins.js';
import { LocalAccounts } from './auth/local-accounts.js';
import { SubjectMapping } from './auth/subject-mapping.js';
import { LdapDirectory } from './backends/ldap/ldap-directory.js';
import type { CanopyConfig } from './config/schema.js';
import type { Directory } from './core/directory.js';
import { foldedUpn, type Authenticator } from './core/identity.js';
import { LdapError } from './core/ldap-error.js';
import { ResultCode } from './core/result-codes.js';
import type { Logger } from './observability/logger.js';
import type { ForestView } from './stages/namespace/forest-view.js';
import type { NamespaceMap } from './stages/namespace/namespace-map.js';
import { upnToUpstream } from './stages/namespace/upn-rewrite.js';

/** A forest as assembled by the server: its backend and its Directory in virtual terms. */
export interface AssembledForest {
  readonly view: ForestView;
  readonly backend: Directory;
  readonly directory: Directory;
}

/** Part of the composition root: the authenticator over the configured accounts and forests. */
export function assembleAuthenticator(
  config: CanopyConfig,
  namespace: NamespaceMap,
  forests: readonly AssembledForest[],
  logger: Logger,
  throttle?: Throttle,
): Authenticator {
  const logins = forests.map((f, i): LoginForest => {
    const forest = config.forests[i];
    const native = forest.backend === 'ldap' && forest.bindResolution === 'native' && f.backend instanceof LdapDirectory ? f.backend : undefined;
    return {
      name: f.view.name,
      mount: f.view.mount,
      ...(forest.netbiosName !== undefined ? { netbiosName: forest.netbiosName } : {}),
      upnSuffixes: [...f.view.upnToUpstream.keys()],
      directory: f.directory,
      checksAccountState: native !== undefined || forest.backend === 'memory',
      diagnostics: bindDiagnosticsOf(config.security, forest),
      ...(native && {
        bindUpn: (upn: string, password: Buffer, ctx) => {
          const name = upnToUpstream(namespace, f.view, upn);
          if (name === undefined) return Promise.reject(new LdapError(ResultCode.invalidCredentials, 'invalid credentials'));
          return native.bindName(name, password, ctx, `upn:${foldedUpn(name)}`);
        },
      }),
    };
  });
  const subjects = new SubjectMapping(config.tls?.subjectMapping ?? []);
  return new CanopyAuthenticator(config.security, new LocalAccounts(config.accounts), new ForestLogins(logins, logger), logger, subjects, undefined, throttle);
}
