/** Continuation references kept per search: more are dropped, so a search's trailer stays small. */
export const MAX_SEARCH_REFERENCES = 1000;

/** What an empty list of a trailer reads as (never written to). */
const NONE: readonly never[] = Object.freeze([]);

/**
 * What a search's final result must say besides its entries and code: written by the stages that
 * know (the router, the forests, the sort), read by whoever started the search (the front end when
 * it writes SearchResultDone, the export tool). Every search has one, created by its starter and
 * handed down in its SearchContext, so a fact a stage records is never silently lost.
 */
export class SearchTrailer {
  // Created on first use: most searches have nothing to report, and every search has a trailer.
  private missing: string[] | undefined;
  private continuations: string[][] | undefined;
  private remarkTexts: string[] | undefined;
  private sortCode: number | undefined;
  private referralUrls: readonly string[] | undefined;
  /** Whether continuation references may reach the client: asked when the first arrives (see screenReferences). */
  private referencesAllowed: (() => boolean) | boolean = true;

  /** A forest left out of a partial result (`onForestError: partial`), with why. */
  missingForest(reason: string): void {
    (this.missing ??= []).push(reason);
  }

  get missingForests(): readonly string[] {
    return this.missing ?? NONE;
  }

  /** RFC 2891 sortResult when the entries could not be sorted; undefined means sorted. */
  get sortResult(): number | undefined {
    return this.sortCode;
  }

  set sortResult(code: number) {
    this.sortCode = code;
  }

  /**
   * Search continuation references (RFC 4511 §4.5.3), each the URLs any of which continues the
   * search; at most MAX_SEARCH_REFERENCES per search are kept, empty ones are skipped.
   */
  addReferences(references: readonly (readonly string[])[]): void {
    if (typeof this.referencesAllowed === 'function') this.referencesAllowed = this.referencesAllowed();
    if (!this.referencesAllowed) return;
    for (const urls of references) {
      if (urls.length === 0) continue;
      const kept = (this.continuations ??= []);
      if (kept.length >= MAX_SEARCH_REFERENCES) return;
      kept.push([...urls]);
    }
  }

  /**
   * References reach the client only if `allowed` says so, asked once, when the first arrives: a
   * reference names a place in the search region (a forest's upstream DN), so a client that may not
   * see every entry there gets none. Dropped silently, as under `referrals: drop`: a remark would tell.
   */
  screenReferences(allowed: () => boolean): void {
    this.referencesAllowed = allowed;
  }

  /** In the order they were added; the front end writes them before the result of the page that collected them. */
  get references(): readonly (readonly string[])[] {
    return this.continuations ?? NONE;
  }

  /** The URLs of a search that ends with referral (10), for its result's referral field. */
  referTo(urls: readonly string[]): void {
    this.referralUrls = urls;
  }

  get referral(): readonly string[] | undefined {
    return this.referralUrls;
  }

  /** A fact the result's diagnostic message must mention (an upstream referral not followed). */
  remark(text: string): void {
    (this.remarkTexts ??= []).push(text);
  }

  get remarks(): readonly string[] {
    return this.remarkTexts ?? NONE;
  }
}
