import type { Directory, OperationContext, SearchRequest } from '../core/directory.js';
import type { Dn } from '../core/dn.js';
import type { Entry } from '../core/entry.js';
import type { Filter } from '../core/filter.js';
import type { Identity } from '../core/identity.js';
import { LdapError } from '../core/ldap-error.js';
import { ResultCode } from '../core/result-codes.js';
import type { Logger } from '../observability/logger.js';
import type { LoginName } from './login-name.js';

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
}

/** AD LDS's computed flag: the namespace stage derives it from userAccountControl bit 0x2. */
const DISABLED = 'msDS-UserAccountDisabled';

const invalid = (): LdapError => new LdapError(ResultCode.invalidCredentials, 'invalid credentials');

/**
 * Resolves a login name to one forest entry and has that forest check the password. Lookups run
 * with the forests' service accounts, below access rules. A name matching several entries is
 * refused (and logged with the candidates) rather than guessed; every failure to find or check
 * the user is the same invalidCredentials.
 */
export class ForestLogins {
  constructor(
    private readonly forests: readonly LoginForest[],
    private readonly logger: Logger,
  ) {}

  async login(login: LoginName, password: Buffer, ctx: OperationContext): Promise<Identity> {
    switch (login.kind) {
      case 'dn': {
        const forest = this.forests.find((f) => login.dn.isWithin(f.mount));
        if (!forest) throw invalid();
        const entry = await this.lookup(forest, { base: login.dn, scope: 'base', filter: { type: 'present', attribute: 'objectClass' } }, ctx);
        return this.bindEntry(forest, entry, login.dn.text, password, ctx);
      }
      case 'upn': {
        const forest = this.forests.find((f) => f.upnSuffixes.includes(login.suffix));
        if (!forest) throw invalid();
        if (forest.bindUpn) return this.bindNative(forest, forest.bindUpn, login.upn, password, ctx);
        return this.bindUnique([forest], equality('userPrincipalName', login.upn), login.upn, password, ctx);
      }
      case 'downLevel': {
        const domain = login.domain.toUpperCase();
        const forest = this.forests.find((f) => f.netbiosName?.toUpperCase() === domain);
        if (!forest) throw invalid();
        return this.bindUnique([forest], equality('sAMAccountName', login.user), `${login.domain}\\${login.user}`, password, ctx);
      }
      case 'bare':
        return this.bindUnique(this.forests, equality('sAMAccountName', login.user), login.user, password, ctx);
    }
  }

  /** Finds the one entry `filter` names across `forests`, then binds as it. */
  private async bindUnique(forests: readonly LoginForest[], filter: Filter, name: string, password: Buffer, ctx: OperationContext): Promise<Identity> {
    const found = await Promise.all(
      forests.map(async (forest) => (await this.candidates(forest, filter, ctx)).map((entry) => ({ forest, entry }))),
    );
    const candidates = found.flat();
    if (candidates.length > 1) {
      this.logger.warn({ login: name, candidates: candidates.map((c) => c.entry.dn.text) }, 'bind refused: the login names more than one entry');
      throw invalid();
    }
    if (candidates.length === 0) throw invalid();
    return this.bindEntry(candidates[0].forest, candidates[0].entry, name, password, ctx);
  }

  /** Up to two entries below the forest's mount matching `filter` (two are enough to call it ambiguous). */
  private async candidates(forest: LoginForest, filter: Filter, ctx: OperationContext): Promise<Entry[]> {
    const found: Entry[] = [];
    for await (const entry of forest.directory.search(lookupRequest({ base: forest.mount, scope: 'sub', filter }), ctx)) {
      found.push(entry);
      if (found.length === 2) break;
    }
    return found;
  }

  /** The one entry of a base lookup, or invalidCredentials when it does not exist. */
  private async lookup(forest: LoginForest, where: Pick<SearchRequest, 'base' | 'scope' | 'filter'>, ctx: OperationContext): Promise<Entry> {
    try {
      for await (const entry of forest.directory.search(lookupRequest(where), ctx)) return entry;
    } catch (err) {
      if (err instanceof LdapError && err.code === ResultCode.noSuchObject) throw invalid();
      throw err;
    }
    throw invalid();
  }

  /** Disabled accounts fail before their password is tried, like AD (and whatever the upstream knows of the flag). */
  private async bindEntry(forest: LoginForest, entry: Entry, login: string, password: Buffer, ctx: OperationContext): Promise<Identity> {
    const disabled = entry.get(DISABLED)?.values.some((v) => String(v).toUpperCase() === 'TRUE') ?? false;
    if (disabled) throw invalid();
    await forest.directory.bind(entry.dn, password, ctx);
    return { kind: 'user', forest: forest.name, dn: entry.dn, login };
  }

  /**
   * The forest checks the UPN itself (Active Directory accepts it as a bind name); the entry is
   * looked up afterwards only to learn its DN for access rules and Who Am I.
   */
  private async bindNative(
    forest: LoginForest,
    bindUpn: NonNullable<LoginForest['bindUpn']>,
    upn: string,
    password: Buffer,
    ctx: OperationContext,
  ): Promise<Identity> {
    await bindUpn(upn, password, ctx);
    const found = await this.candidates(forest, equality('userPrincipalName', upn), ctx).catch(() => []);
    return { kind: 'user', forest: forest.name, login: upn, ...(found.length === 1 ? { dn: found[0].dn } : {}) };
  }
}

function equality(attribute: string, value: string): Filter {
  return { type: 'equality', attribute, value: Buffer.from(value, 'utf8') };
}

function lookupRequest(where: Pick<SearchRequest, 'base' | 'scope' | 'filter'>): SearchRequest {
  return { ...where, attributes: [DISABLED], typesOnly: false, sizeLimit: 0, timeLimit: 0 };
}
