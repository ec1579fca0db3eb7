import { spawn } from 'child_process';
import type { ChildProcess } from 'child_process';
import { randomBytes } from 'crypto';
import { join } from 'path';
import { createInterface } from 'readline';

const SERVER = join(__dirname, '..', 'dist', 'server.js');

export interface ServiceProcess {
  readonly port: number;
  readonly child: ChildProcess;
  readonly auth: { authorization: string };
  /** Every stdout and stderr line so far. */
  readonly lines: string[];
  /** The service's own log: every stdout line so far (one JSON record each). */
  readonly stdout: string[];
  /** Resolves when the process exits: its code, the signal that ended it, and when (epoch ms). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  /** SIGTERM, then resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** Secrets shared by the tasks of one service: the same TOKENIZATION_KEY makes their request fingerprints agree. */
export function serviceSecrets(): { API_KEY: string; TOKENIZATION_KEY: string } {
  return { API_KEY: randomBytes(24).toString('base64url'), TOKENIZATION_KEY: randomBytes(24).toString('base64url') };
}

/** `node dist/server.js` as its own process (one ECS task); resolves once it logs `ready`. */
export async function startServiceProcess(
  env: Record<string, string>,
  readyTimeoutMs = 20000,
  nodeArgs: readonly string[] = [],
): Promise<ServiceProcess> {
  const child = spawn(process.execPath, [...nodeArgs, SERVER], {
    env: { PATH: process.env.PATH, PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const stdout: string[] = [];
  createInterface({ input: child.stderr }).on('line', (line) => lines.push(line));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() })),
  );
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`service not ready in ${readyTimeoutMs} ms:\n${lines.join('\n')}`)), readyTimeoutMs);
    createInterface({ input: child.stdout }).on('line', (line) => {
      lines.push(line);
      stdout.push(line);
      const record = JSON.parse(line) as { msg?: string; port?: number };
      if (record.msg === 'ready' && record.port) {
        clearTimeout(timer);
        resolve(record.port);
      }
    });
    void exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`service exited (${code}) before ready:\n${lines.join('\n')}`));
    });
  });
  return {
    port,
    child,
    auth: { authorization: `Bearer ${env.API_KEY ?? ''}` },
    lines,
    stdout,
    exited,
    stop: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited.then(({ code }) => code);
    },
  };
}
