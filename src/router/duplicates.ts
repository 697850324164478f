import type { Entry } from '../core/entry.js';
import { normalise } from '../core/matching.js';
import type { Logger } from '../observability/logger.js';

/**
 * With `onDuplicate: priority`, forests are streamed in priority order and an entry whose unique
 * value (e.g. sAMAccountName) an earlier forest already returned is dropped, with one warning per
 * value. Holds one normalised string per returned unique value for the search's duration.
 */
export class DuplicateFilter {
  private readonly seen = new Map<string, string>(); // attribute\0value → forest that returned it
  private readonly warned = new Set<string>();

  constructor(
    private readonly attributes: readonly string[],
    private readonly logger: Logger,
  ) {}

  /** True when the entry should be returned. */
  admit(entry: Entry, forest: string): boolean {
    const keys: string[] = [];
    for (const name of this.attributes) {
      for (const v of entry.get(name)?.values ?? []) keys.push(`${name.toLowerCase()}\0${normalise(name, v)}`);
    }
    for (const key of keys) {
      const owner = this.seen.get(key);
      if (owner !== undefined && owner !== forest) {
        if (!this.warned.has(key)) {
          this.warned.add(key);
          const [attribute, value] = key.split('\0');
          this.logger.warn({ attribute, value, kept: owner, dropped: forest, dn: entry.dn.text }, 'duplicate across forests: kept the higher-priority forest');
        }
        return false;
      }
    }
    for (const key of keys) this.seen.set(key, forest);
    return true;
  }
}
