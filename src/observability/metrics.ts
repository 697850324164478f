/**
 * Process-wide counters, labelled by one value (a forest name). Kept in memory for tests and for
 * the metrics endpoint to expose; incrementing is a map update, cheap enough for any path.
 */
export class LabelledCounter {
  private readonly values = new Map<string, number>();

  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  inc(label: string): void {
    this.values.set(label, (this.values.get(label) ?? 0) + 1);
  }

  get(label: string): number {
    return this.values.get(label) ?? 0;
  }
}

export const metrics = {
  partialSearches: new LabelledCounter(
    'canopy_search_forest_missing_total',
    'Searches answered with success without a failed forest (namespace.onForestError: partial), by forest',
  ),
  mockFaultsInjected: new LabelledCounter('canopy_mock_faults_injected_total', 'Faults switched on in mock directories, by kind'),
  mockFaultsTriggered: new LabelledCounter('canopy_mock_faults_triggered_total', 'Operations and entries a mock fault acted on, by forest'),
} as const;
