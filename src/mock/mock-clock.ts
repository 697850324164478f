/**
 * The mock directory's time for account states (lockout windows, password and account expiry):
 * the real time plus an offset that tests move forward, so no test waits for a window to pass.
 */
export class MockClock {
  private offsetMs = 0;

  now = (): number => Date.now() + this.offsetMs;

  /** Moves the clock forward (or back, with a negative count) by `ms` milliseconds. */
  advance(ms: number): void {
    this.offsetMs += ms;
  }

  /** Back to the real time (a reset of the mock does this too). */
  reset(): void {
    this.offsetMs = 0;
  }
}
