/** OIDs of the request controls Canopy implements (advertised as supportedControl in the root DSE). */
export const ControlOid = {
  /** RFC 2696 Simple Paged Results. */
  pagedResults: '1.2.840.113556.1.4.319',
  /** RFC 2891 server-side sort request. */
  sortRequest: '1.2.840.113556.1.4.473',
  /** RFC 2891 server-side sort response. */
  sortResponse: '1.2.840.113556.1.4.474',
  /** draft-behera password policy (request on binds and password changes, response with the state). */
  passwordPolicy: '1.3.6.1.4.1.42.2.27.8.5.1',
} as const;

/** Controls a search request may carry, critical or not. */
export const SEARCH_CONTROLS: ReadonlySet<string> = new Set([ControlOid.pagedResults, ControlOid.sortRequest]);

/** Controls a bind, modify or Password Modify may carry, critical or not. */
export const PASSWORD_CONTROLS: ReadonlySet<string> = new Set([ControlOid.passwordPolicy]);
