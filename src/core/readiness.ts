/** Whether a forest can serve now (`/readyz`); `reason` says why not. */
export interface ForestReadiness {
  readonly ready: boolean;
  readonly reason?: string;
}
