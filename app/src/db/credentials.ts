import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { Logger } from 'pino';
import { parseDatabaseCredentials } from '../config';
import type { DatabaseCredentialSource, DatabaseCredentials } from '../config';

/** The database login, possibly changing at run time (Secrets Manager rotation). */
export interface CredentialsProvider {
  /** The login for the next connection; loads it first if it was never loaded. */
  get(): Promise<DatabaseCredentials>;
  /** The last loaded login, synchronously (undefined before the first successful get). */
  current(): DatabaseCredentials | undefined;
  /** Incremented whenever the login changes, so a caller can tell whether a failed attempt used an older one. */
  readonly generation: number;
  /**
   * PostgreSQL refused the login (SQLSTATE 28P01): read it again. Resolves true when the login changed.
   * Concurrent callers share one read; reads are at least minRefreshIntervalMs apart (a caller inside that interval
   * waits for the next allowed read rather than failing).
   */
  refresh(): Promise<boolean>;
}

/** DATABASE_CREDENTIALS: a fixed login (local runs). */
export class StaticCredentials implements CredentialsProvider {
  readonly generation = 1;

  constructor(private readonly credentials: DatabaseCredentials) {}

  async get(): Promise<DatabaseCredentials> {
    return this.credentials;
  }

  current(): DatabaseCredentials {
    return this.credentials;
  }

  async refresh(): Promise<boolean> {
    return false;
  }
}

export interface SecretsManagerCredentialsOptions {
  readonly secretArn: string;
  readonly region: string;
  readonly logger: Logger;
  /**
   * Shortest time between two reads of the secret: a wrong password on every connection must not turn into a
   * flood of GetSecretValue calls (which are billed and throttled). Callers within it wait, so keep it well below
   * DATABASE_CONNECT_TIMEOUT_MS.
   * @default - 1000 ms
   */
  readonly minRefreshIntervalMs?: number;
  /** @default - a client for the secret's region; AWS_ENDPOINT_URL_SECRETS_MANAGER (SDK standard) overrides the endpoint */
  readonly client?: SecretsManagerClient;
}

/**
 * DATABASE_SECRET_ARN: the login is read from Secrets Manager at start and again whenever PostgreSQL refuses it.
 * With the multi-user rotation the secret alternates between two users; the one a running task holds keeps working
 * until the rotation after next, and a task that hits 28P01 picks up the current one here.
 */
export class SecretsManagerCredentials implements CredentialsProvider {
  private cached?: DatabaseCredentials;
  private inFlight?: Promise<boolean>;
  private lastReadAt = Number.NEGATIVE_INFINITY;
  private gen = 0;
  private readonly client: SecretsManagerClient;
  private readonly minIntervalMs: number;

  constructor(private readonly options: SecretsManagerCredentialsOptions) {
    this.client = options.client ?? new SecretsManagerClient({ region: options.region, maxAttempts: 2 });
    this.minIntervalMs = options.minRefreshIntervalMs ?? 1000;
  }

  get generation(): number {
    return this.gen;
  }

  current(): DatabaseCredentials | undefined {
    return this.cached;
  }

  async get(): Promise<DatabaseCredentials> {
    if (this.cached) return this.cached;
    await this.read();
    if (!this.cached) throw new Error('database secret could not be read');
    return this.cached;
  }

  refresh(): Promise<boolean> {
    return this.read(Math.max(0, this.lastReadAt + this.minIntervalMs - Date.now()));
  }

  /** One GetSecretValue at a time (after `delayMs`); resolves true when the login differs from the cached one. */
  private read(delayMs = 0): Promise<boolean> {
    if (this.inFlight) return this.inFlight;
    this.inFlight = (async () => {
      try {
        if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
        const out = await this.client.send(new GetSecretValueCommand({ SecretId: this.options.secretArn }));
        if (typeof out.SecretString !== 'string') throw new Error(`secret ${this.options.secretArn} has no SecretString`);
        const next = parseDatabaseCredentials(out.SecretString, `secret ${this.options.secretArn}`);
        const changed = !this.cached || this.cached.username !== next.username || this.cached.password !== next.password;
        if (changed) {
          this.cached = next;
          this.gen += 1;
        }
        // The user name is not secret and tells operators which half of the alternating-users rotation is in use.
        this.options.logger.info(
          { secretArn: this.options.secretArn, username: next.username, changed, versionId: out.VersionId },
          'database secret read',
        );
        return changed;
      } finally {
        this.lastReadAt = Date.now();
        this.inFlight = undefined;
      }
    })();
    return this.inFlight;
  }
}

export function createCredentialsProvider(source: DatabaseCredentialSource, logger: Logger): CredentialsProvider {
  if (source.kind === 'static') return new StaticCredentials(source.credentials);
  return new SecretsManagerCredentials({ secretArn: source.secretArn, region: source.region, logger });
}
