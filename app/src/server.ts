import type { DestinationStream } from 'pino';
import { ConfigError, loadConfig } from './config';
import { startServer } from './lifecycle';
import type { RunningServer } from './lifecycle';
import { createLogger } from './logger';

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
  const logger = createLogger({ level: config.logLevel, ...(options.logDestination ? { destination: options.logDestination } : {}) });
  const running = await startServer({ config, logger });
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
    void running.shutdown(signal).then((code) => {
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
