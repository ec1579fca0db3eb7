import type { DestinationStream } from 'pino';
import { ConfigError, loadConfig } from './config';
import type { RunningServer } from './lifecycle';
import type { Tracing } from './tracing';

// This module imports only configuration at load time. What loads `http` and `pg` (the logger, lifecycle.ts and
// everything under it) is required inside main(), after tracing has started when it is on: OpenTelemetry can only
// instrument modules required after it. With tracing off, nothing of OpenTelemetry is loaded at all. The `import()`
// calls compile to `require` (CommonJS output), run where they stand.

export interface MainOptions {
  readonly env: NodeJS.ProcessEnv;
  readonly exit: (code: number) => void;
  /** Where the one-line configuration error goes (no logger exists yet at that point). */
  readonly stderr: (line: string) => void;
  /** @default - stdout */
  readonly logDestination?: DestinationStream;
}

/** Entry point: validate config, start, drain on SIGTERM/SIGINT, exit with the drain result. */
export async function main(options: MainOptions): Promise<RunningServer | undefined> {
  let config;
  try {
    config = loadConfig(options.env);
  } catch (err) {
    const message = err instanceof ConfigError ? err.message : 'unexpected error while reading configuration';
    options.stderr(JSON.stringify({ level: 'fatal', time: new Date().toISOString(), msg: `invalid configuration: ${message}` }));
    options.exit(1);
    return undefined;
  }
  let tracing: Tracing | undefined;
  if (config.tracing.enabled) {
    const { startTracing } = await import('./tracing');
    tracing = startTracing({ config: config.tracing, environmentName: config.environmentName });
  }
  const { createLogger } = await import('./logger');
  const { startServer } = await import('./lifecycle');
  const logger = createLogger({
    level: config.logLevel,
    ...(options.logDestination ? { destination: options.logDestination } : {}),
    ...(tracing ? { mixin: tracing.logFields } : {}),
  });
  tracing?.attachLogger(logger);
  const running = await startServer({ config, logger, ...(tracing ? { routeMatched: tracing.routeMatched } : {}) });
  // The first SIGTERM or SIGINT starts the drain. Later ones (an orchestrator or an operator repeating the signal)
  // are logged and ignored: with `process.once`, the second would hit Node's default handler and kill the process
  // mid-drain, dropping the requests in flight. The process exits with the drain's code; SIGKILL still ends it.
  let draining: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (draining) {
      logger.warn({ signal, drainingSince: draining }, 'signal ignored: already draining');
      return;
    }
    draining = signal;
    const started = Date.now();
    void running
      .shutdown(signal)
      .then(async (code) => {
        // Spans still queued are sent within what is left of the drain deadline (never past it).
        if (tracing) await tracing.shutdown(config.shutdownDeadlineMs - (Date.now() - started));
        return code;
      })
      .then((code) => {
        process.removeListener('SIGTERM', onSignal);
        process.removeListener('SIGINT', onSignal);
        options.exit(code);
      });
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return running;
}

/* istanbul ignore next -- exercised by the drain and container tests, which run this file as a process */
if (require.main === module) {
  main({ env: process.env, exit: (code) => process.exit(code), stderr: (line) => process.stderr.write(`${line}\n`) }).catch((err: unknown) => {
    process.stderr.write(`${JSON.stringify({ level: 'fatal', msg: 'failed to start', error: err instanceof Error ? err.name : 'unknown' })}\n`);
    process.exit(1);
  });
}
