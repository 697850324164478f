// The @ldapjs/* packages ship no type declarations; these cover what Canopy uses of them.

declare module '@ldapjs/filter' {
  /** A filter object; its fields depend on `type` (EqualityFilter, AndFilter, …). */
  export interface FilterObject {
    readonly type: string;
  }
  export function parseString(text: string): FilterObject;
  const filter: { parseString: typeof parseString };
  export default filter;
}

declare module '@ldapjs/messages' {
  export interface LdapMessageObject {
    readonly messageId: number;
    readonly protocolOp: number;
    readonly type: string;
    readonly pojo: Record<string, unknown>;
    toBer(): { buffer: Buffer };
  }
  export const LdapMessage: { parse(reader: unknown): LdapMessageObject };
  export const SearchRequest: new (options: Record<string, unknown>) => LdapMessageObject;
  export const SearchResultEntry: new (options: Record<string, unknown>) => LdapMessageObject;
}

declare module '@ldapjs/asn1' {
  export class BerReader {
    constructor(buffer: Buffer);
  }
}
