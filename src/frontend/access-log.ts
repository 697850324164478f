import { ResultCode } from '../core/result-codes.js';

/** `logging.accessLog` and `logging.accessLogSampleRate`. */
export interface AccessLogOptions {
  readonly enabled: boolean;
  /** Share of successful operations logged, 0..1; failures are always logged while enabled. */
  readonly sampleRate: number;
}

/** Whether an operation ending with `code` (undefined: abandoned) gets an access log line. */
export type AccessLogFilter = (code: number | undefined) => boolean;

/** None when off; otherwise every failure and a sample of the rest. */
export function accessLogFilter(options: AccessLogOptions): AccessLogFilter {
  if (!options.enabled) return () => false;
  if (options.sampleRate >= 1) return () => true;
  const rate = options.sampleRate;
  return (code) => !succeeded(code) || Math.random() < rate;
}

/** Outcomes that are answers rather than errors; an abandoned operation counts as one. */
function succeeded(code: number | undefined): boolean {
  return code === undefined || code === ResultCode.success || code === ResultCode.compareTrue || code === ResultCode.compareFalse;
}
