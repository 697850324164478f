/** OIDs of the request controls Canopy implements (advertised as supportedControl in the root DSE). */
export const ControlOid = {
  /** RFC 2696 Simple Paged Results. */
  pagedResults: '1.2.840.113556.1.4.319',
  /** RFC 2891 server-side sort request. */
  sortRequest: '1.2.840.113556.1.4.473',
  /** RFC 2891 server-side sort response. */
  sortResponse: '1.2.840.113556.1.4.474',
} as const;

/** Controls a search request may carry, critical or not. */
export const SEARCH_CONTROLS: ReadonlySet<string> = new Set([ControlOid.pagedResults, ControlOid.sortRequest]);
