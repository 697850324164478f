import type { Logger } from 'pino';
import { filterToLogString } from '../core/filter-text.js';
import type { Identity } from '../core/identity.js';
import type { ResultCode } from '../core/result-codes.js';
import { capLogged, LOGGED_VALUE_CHARS, writeInfoLine } from '../observability/logger.js';
import type { LdapRequest } from '../protocol/decoder.js';
import type { ClientCertificate } from './client-certificate.js';

const q = JSON.stringify;

/**
 * The fields of a request that its access log line shows (never a password), as the JSON fragment
 * `writeInfoLine` takes: names and DNs capped at LOGGED_NAME_CHARS, a filter at LOGGED_VALUE_CHARS.
 */
export function requestFields(request: LdapRequest): string {
  switch (request.op) {
    case 'bind': {
      const mechanism = request.auth.method === 'sasl' ? `,"mechanism":${q(capLogged(request.auth.mechanism))}` : '';
      return `,"op":"bind","dn":${q(capLogged(request.name))},"method":"${request.auth.method}"${mechanism}`;
    }
    case 'search': {
      const s = request.search;
      return `,"op":"search","dn":${q(capLogged(s.base.text))},"scope":"${s.scope}","filter":${q(capLogged(filterToLogString(s.filter), LOGGED_VALUE_CHARS))}`;
    }
    case 'add':
      return `,"op":"add","dn":${q(capLogged(request.entry.dn.text))}`;
    case 'modify':
    case 'delete':
    case 'compare':
      return `,"op":"${request.op}","dn":${q(capLogged(request.dn.text))}`;
    case 'modifyDn':
      return `,"op":"modifyDn","dn":${q(capLogged(request.request.dn.text))}`;
    case 'extended':
      return `,"op":"extended","oid":${q(capLogged(request.oid))}`;
    default:
      return `,"op":"${request.op}"`;
  }
}

/**
 * The bind audit line, whatever the access log settings: who (the name as sent; for SASL, the
 * mechanism and the client certificate's subject), from where (the logger's peer), which forest
 * checked it, and the result. The request's password never gets here.
 */
export function auditBind(
  log: Logger,
  request: Extract<LdapRequest, { op: 'bind' }>,
  identity: Identity,
  certificate: ClientCertificate | undefined,
  code: ResultCode,
): void {
  const mechanism = request.auth.method === 'sasl' ? `,"mechanism":${q(capLogged(request.auth.mechanism))}` : '';
  const subject = certificate?.state === 'verified' ? `,"subject":${q(capLogged(certificate.subject))}` : '';
  // The DN an empty bind name (SASL EXTERNAL) stands for.
  const dn = identity.kind !== 'anonymous' && identity.dn && request.name === '' ? `,"dn":${q(capLogged(identity.dn.text))}` : '';
  const forest = identity.kind === 'user' ? `,"forest":${q(identity.forest)}` : '';
  writeInfoLine(log, `,"bind":${q(capLogged(request.name))}${mechanism}${subject},"identity":"${identity.kind}"${dn}${forest},"code":${code}`, 'bind audit');
}
