import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { NodeHttpHandler } from '@smithy/node-http-handler';
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

/**
 * TCP + TLS to the Secrets Manager endpoint (a VPC endpoint in the same AZ answers in milliseconds). The SDK's default
 * is none (0): a blackholed endpoint would hold the read until the kernel gives up (minutes).
 */
export const SECRETS_MANAGER_CONNECTION_TIMEOUT_MS = 1000;
/** Longest silence of the endpoint during one GetSecretValue (SDK default none: an endpoint that never answers hangs). */
export const SECRETS_MANAGER_REQUEST_TIMEOUT_MS = 2000;
/** Attempts per read (one retry): a read is bounded by about twice the timeouts above, and by readTimeoutMs. */
export const SECRETS_MANAGER_MAX_ATTEMPTS = 2;
/** Longest read of the secret, all attempts together, when the caller does not bound it (the migration task). */
export const DEFAULT_SECRET_READ_TIMEOUT_MS = 5000;

/**
 * A client for `region` whose reads cannot hang: connection and request timeouts (docs/aws-contracts.md, "Database",
 * the NodeHttpHandler row: from @smithy/node-http-handler 4.4 requestTimeout only warns unless throwOnRequestTimeout is
 * set, which test/rotation.test.ts would catch on an upgrade).
 */
export function createSecretsManagerClient(region: string): SecretsManagerClient {
  return new SecretsManagerClient({
    region,
    maxAttempts: SECRETS_MANAGER_MAX_ATTEMPTS,
    requestHandler: new NodeHttpHandler({
      connectionTimeout: SECRETS_MANAGER_CONNECTION_TIMEOUT_MS,
      requestTimeout: SECRETS_MANAGER_REQUEST_TIMEOUT_MS,
    }),
  });
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
  /**
   * A read (all its attempts) is abandoned after this long: the request is aborted, so a later refresh reads again
   * instead of joining a read that never ends.
   * @default DEFAULT_SECRET_READ_TIMEOUT_MS
   */
  readonly readTimeoutMs?: number;
  /**
   * @default - createSecretsManagerClient(region): HTTP timeouts; AWS_ENDPOINT_URL_SECRETS_MANAGER (SDK standard)
   * overrides the endpoint
   */
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
  private readonly readTimeoutMs: number;

  constructor(private readonly options: SecretsManagerCredentialsOptions) {
    this.client = options.client ?? createSecretsManagerClient(options.region);
    this.minIntervalMs = options.minRefreshIntervalMs ?? 1000;
    this.readTimeoutMs = options.readTimeoutMs ?? DEFAULT_SECRET_READ_TIMEOUT_MS;
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

  /**
   * One GetSecretValue at a time (after `delayMs`); resolves true when the login differs from the cached one. The
   * request is aborted after readTimeoutMs, so the read always ends and the next caller can start another.
   */
  private read(delayMs = 0): Promise<boolean> {
    if (this.inFlight) return this.inFlight;
    const read = this.readOnce(delayMs);
    this.inFlight = read;
    const ended = (): void => {
      if (this.inFlight === read) this.inFlight = undefined;
    };
    read.then(ended, ended);
    return read;
  }

  private async readOnce(delayMs: number): Promise<boolean> {
    const abort = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    try {
      if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
      timer = setTimeout(() => abort.abort(), this.readTimeoutMs);
      const out = await this.client.send(new GetSecretValueCommand({ SecretId: this.options.secretArn }), { abortSignal: abort.signal });
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
    } catch (err) {
      // Once per read, not per waiting request. The SDK's errors name the operation, never the secret's value.
      this.options.logger.warn(
        { secretArn: this.options.secretArn, err, timedOut: abort.signal.aborted, readTimeoutMs: this.readTimeoutMs },
        'database secret read failed',
      );
      throw err;
    } finally {
      clearTimeout(timer);
      this.lastReadAt = Date.now();
    }
  }
}

/** `readTimeoutMs`: the longest read of a Secrets Manager secret (@default DEFAULT_SECRET_READ_TIMEOUT_MS). */
export function createCredentialsProvider(source: DatabaseCredentialSource, logger: Logger, readTimeoutMs?: number): CredentialsProvider {
  if (source.kind === 'static') return new StaticCredentials(source.credentials);
  return new SecretsManagerCredentials({ secretArn: source.secretArn, region: source.region, logger, ...(readTimeoutMs ? { readTimeoutMs } : {}) });
}
