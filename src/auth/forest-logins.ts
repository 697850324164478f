import { searchContext, type Directory, type OperationContext, type SearchRequest } from '../core/directory.js';
import type { Dn } from '../core/dn.js';
import type { Entry } from '../core/entry.js';
import type { Filter } from '../core/filter.js';
import { AdLogonReason, adLogonMessage } from '../core/ad-logon.js';
import { LdapError } from '../core/ldap-error.js';
import { ResultCode } from '../core/result-codes.js';
import type { Logger } from '../observability/logger.js';
import type { BindDiagnostics } from './bind-diagnostics.js';
import { spellingKey, type LoginAccount, type LoginName } from './login-name.js';

/** A forest as logins see it: its Directory in virtual terms, and what names lead to it. */
export interface LoginForest {
  readonly name: string;
  readonly mount: Dn;
  readonly netbiosName?: string;
  /** Virtual UPN suffixes, lower case. */
  readonly upnSuffixes: readonly string[];
  readonly directory: Directory;
  /** Present for `bindResolution: native`: binds with the (virtual) UPN as the name. */
  readonly bindUpn?: (upn: string, password: Buffer, ctx: OperationContext) => Promise<void>;
  /**
   * The forest refuses disabled, locked and expired accounts itself (Active Directory under
   * `bindResolution: native`, and the memory backend): DN logins bind without a lookup.
   */
  readonly checksAccountState: boolean;
  /** How this forest's refusals are explained to clients. */
  readonly diagnostics: BindDiagnostics;
}

/** AD LDS's computed flag: the namespace stage derives it from userAccountControl bit 0x2. */
const DISABLED = 'msDS-UserAccountDisabled';

/** Refusals carry AD's logon status, which bindRefusal tells the client only where it may (never 525). */
const refused = (reason: AdLogonReason): LdapError => new LdapError(ResultCode.invalidCredentials, adLogonMessage(reason));

/**
 * Resolves a login name to one forest entry, whose password the forest then checks. Lookups run
 * with the forests' service accounts, below access rules. A name matching several entries is
 * refused (and logged with the candidates) rather than guessed; every failure to find or check
 * the user is the same invalidCredentials.
 */
export class ForestLogins {
  constructor(
    private readonly forests: readonly LoginForest[],
    private readonly logger: Logger,
  ) {}

  /** Whether a DN lies in a forest (other DNs can only be local accounts). */
  serves(dn: Dn): boolean {
    return this.forests.some((f) => dn.isWithin(f.mount));
  }

  /**
   * The account `login` names: an entry's (keyed by forest and canonical DN, whichever name
   * spelled it), or, for a name that finds no single entry, one keyed by the name whose check fails.
   */
  async resolve(login: LoginName, ctx: OperationContext): Promise<LoginAccount> {
    switch (login.kind) {
      case 'dn': {
        const forest = this.forests.find((f) => login.dn.isWithin(f.mount));
        if (!forest) return noAccount(login);
        // Any other DN than a plain one (Dn.plainNaming) is looked up even so: the account is keyed,
        // and the identity named, by the DN the forest gives back, not by the client's spelling of it.
        if (forest.checksAccountState && login.dn.plainNaming) return this.nativeDnAccount(forest, login.dn, ctx);
        const entry = await this.lookup(forest, login.dn, ctx);
        return entry ? this.account(forest, entry, login.dn.text, ctx) : noAccount(login);
      }
      case 'upn': {
        const forest = this.forests.find((f) => f.upnSuffixes.includes(login.suffix));
        if (!forest) return noAccount(login);
        if (forest.bindUpn) return this.nativeAccount(forest, forest.bindUpn, login, ctx);
        return this.unique(login, [forest], equality('userPrincipalName', login.upn), login.upn, ctx);
      }
      case 'downLevel': {
        const domain = login.domain.toUpperCase();
        const forest = this.forests.find((f) => f.netbiosName?.toUpperCase() === domain);
        if (!forest) return noAccount(login);
        return this.unique(login, [forest], equality('sAMAccountName', login.user), `${login.domain}\\${login.user}`, ctx);
      }
      case 'bare':
        return this.unique(login, this.forests, equality('sAMAccountName', login.user), login.user, ctx);
    }
  }

  /** The one entry `filter` names across `forests`. */
  private async unique(login: LoginName, forests: readonly LoginForest[], filter: Filter, name: string, ctx: OperationContext): Promise<LoginAccount> {
    const found = await Promise.all(
      forests.map(async (forest) => (await this.candidates(forest, filter, ctx)).map((entry) => ({ forest, entry }))),
    );
    const candidates = found.flat();
    if (candidates.length > 1) {
      this.logger.warn({ login: name, candidates: candidates.map((c) => c.entry.dn.text) }, 'bind refused: the login names more than one entry');
    }
    if (candidates.length !== 1) return noAccount(login);
    return this.account(candidates[0].forest, candidates[0].entry, name, ctx);
  }

  /** Up to two entries below the forest's mount matching `filter` (two are enough to call it ambiguous). */
  private async candidates(forest: LoginForest, filter: Filter, ctx: OperationContext): Promise<Entry[]> {
    const found: Entry[] = [];
    for await (const entry of forest.directory.search(lookupRequest({ base: forest.mount, scope: 'sub', filter }), searchContext(ctx))) {
      found.push(entry);
      if (found.length === 2) break;
    }
    return found;
  }

  /** The entry at `dn`, or undefined when it does not exist. */
  private async lookup(forest: LoginForest, dn: Dn, ctx: OperationContext): Promise<Entry | undefined> {
    try {
      for await (const entry of forest.directory.search(lookupRequest({ base: dn, scope: 'base', filter: PRESENT }), searchContext(ctx))) return entry;
    } catch (err) {
      if (err instanceof LdapError && err.code === ResultCode.noSuchObject) return undefined;
      throw err;
    }
    return undefined;
  }

  /**
   * Disabled accounts never log in, whatever the upstream knows of the flag. Under AD's diagnostics
   * the password is tried first, as AD does: its disabled reason (533) is for the right password only.
   */
  private account(forest: LoginForest, entry: Entry, login: string, ctx: OperationContext): LoginAccount {
    const disabled = entry.get(DISABLED)?.values.some((v) => String(v).toUpperCase() === 'TRUE') ?? false;
    return {
      key: entryKey(forest, entry.dn),
      forest: forest.name,
      diagnostics: forest.diagnostics,
      verify: async (password) => {
        if (disabled && forest.diagnostics !== 'ad') throw refused(AdLogonReason.accountDisabled);
        await forest.directory.bind(entry.dn, password, ctx);
        if (disabled) throw refused(AdLogonReason.accountDisabled);
        return { kind: 'user', forest: forest.name, dn: entry.dn, login };
      },
      accept: async () => {
        if (disabled) throw refused(AdLogonReason.accountDisabled);
        return { kind: 'user', forest: forest.name, dn: entry.dn, login };
      },
    };
  }

  /**
   * A forest that refuses disabled, locked and expired accounts itself, with its reason: a DN login
   * goes straight to its bind (for an ldap forest one round trip, no lookup). The DN's canonical
   * form keys the throttle, as the entry's DN would.
   */
  private nativeDnAccount(forest: LoginForest, dn: Dn, ctx: OperationContext): LoginAccount {
    return {
      key: entryKey(forest, dn),
      forest: forest.name,
      diagnostics: forest.diagnostics,
      verify: async (password) => {
        await forest.directory.bind(dn, password, ctx);
        return { kind: 'user', forest: forest.name, dn, login: dn.text };
      },
      // No password for the forest to check (a client certificate): the entry is looked up after all.
      accept: async () => {
        const entry = await this.lookup(forest, dn, ctx);
        if (!entry) throw refused(AdLogonReason.noSuchUser);
        return this.account(forest, entry, dn.text, ctx).accept!();
      },
    };
  }

  /**
   * The forest checks the UPN itself (Active Directory accepts it as a bind name). The entry is
   * looked up first, to count failures under its account and to learn its DN for access rules and
   * Who Am I; when the service account cannot find it, failures count under the UPN.
   */
  private async nativeAccount(
    forest: LoginForest,
    bindUpn: NonNullable<LoginForest['bindUpn']>,
    login: Extract<LoginName, { kind: 'upn' }>,
    ctx: OperationContext,
  ): Promise<LoginAccount> {
    const found = await this.candidates(forest, equality('userPrincipalName', login.upn), ctx).catch(() => []);
    const dn = found.length === 1 ? found[0].dn : undefined;
    return {
      key: dn ? entryKey(forest, dn) : spellingKey(login),
      forest: forest.name,
      diagnostics: forest.diagnostics,
      verify: async (password) => {
        await bindUpn(login.upn, password, ctx);
        return { kind: 'user', forest: forest.name, login: login.upn, ...(dn && { dn }) };
      },
    };
  }
}

/** A name that leads to no single entry: counted under its spelling, never logged in. */
function noAccount(login: LoginName): LoginAccount {
  const none = () => Promise.reject(refused(AdLogonReason.noSuchUser));
  return { key: spellingKey(login), verify: none, accept: none };
}

function entryKey(forest: LoginForest, dn: Dn): string {
  return `user:${forest.name}:${dn.key}`;
}

const PRESENT: Filter = { type: 'present', attribute: 'objectClass' };

function equality(attribute: string, value: string): Filter {
  return { type: 'equality', attribute, value: Buffer.from(value, 'utf8') };
}

function lookupRequest(where: Pick<SearchRequest, 'base' | 'scope' | 'filter'>): SearchRequest {
  return { ...where, attributes: [DISABLED], typesOnly: false, sizeLimit: 0, timeLimit: 0 };
}
