import { RetryOptions } from './retry';

/** The side effects every tool takes injected, so tests control time, waiting and output. */
export interface ToolRuntime {
  /** Waits between polls and retries. */
  readonly sleep: (ms: number) => Promise<void>;
  /** Current time in epoch milliseconds. */
  readonly now: () => number;
  /** Writes one progress line. */
  readonly log: (line: string) => void;
  /**
   * Retry settings for every AWS call (sleep is taken from `sleep` above).
   * @default - 5 retries, 200 ms base, 10 s cap
   */
  readonly retry?: Omit<RetryOptions, 'sleep'>;
}

/** A duration for progress and error lines: `42s`, or `3m5s` from a minute on. */
export function formatMs(ms: number): string {
  return ms < 60_000 ? `${Math.round(ms / 1000)}s` : `${Math.floor(ms / 60_000)}m${Math.round((ms % 60_000) / 1000)}s`;
}
