/** What a search's trailer keeps for its result: every fact a stage records, in order, references capped. */
import { describe, expect, it } from 'vitest';
import { ResultCode } from '../../src/core/result-codes.js';
import { MAX_SEARCH_REFERENCES, SearchTrailer } from '../../src/core/search-trailer.js';

describe('SearchTrailer', () => {
  it('starts empty: no forest missing, sorted, no references, referral or remarks', () => {
    const trailer = new SearchTrailer();
    expect(trailer.missingForests).toEqual([]);
    expect(trailer.sortResult).toBeUndefined();
    expect(trailer.references).toEqual([]);
    expect(trailer.referral).toBeUndefined();
    expect(trailer.remarks).toEqual([]);
  });

  it('keeps missing forests, remarks and the sort result as the stages record them', () => {
    const trailer = new SearchTrailer();
    trailer.missingForest('forest "b": no server reachable');
    trailer.missingForest('forest "c": busy');
    trailer.remark('forest "a" answered with a referral; not followed');
    trailer.sortResult = ResultCode.adminLimitExceeded;
    trailer.referTo(['ldap://dc1.example.net/dc=example,dc=net']);
    expect(trailer.missingForests).toEqual(['forest "b": no server reachable', 'forest "c": busy']);
    expect(trailer.remarks).toEqual(['forest "a" answered with a referral; not followed']);
    expect(trailer.sortResult).toBe(ResultCode.adminLimitExceeded);
    expect(trailer.referral).toEqual(['ldap://dc1.example.net/dc=example,dc=net']);
  });

  it('keeps at most MAX_SEARCH_REFERENCES continuation references per search, the first ones, and skips empty ones', () => {
    const trailer = new SearchTrailer();
    trailer.addReferences([[]]);
    trailer.addReferences(Array.from({ length: MAX_SEARCH_REFERENCES + 10 }, (_, i) => [`ldap://dc${i}.example.net/`]));
    trailer.addReferences([['ldap://late.example.net/']]);
    expect(trailer.references).toHaveLength(MAX_SEARCH_REFERENCES);
    expect(trailer.references[0]).toEqual(['ldap://dc0.example.net/']);
    expect(trailer.references.at(-1)).toEqual([`ldap://dc${MAX_SEARCH_REFERENCES - 1}.example.net/`]);
  });
});
