import { createServer } from 'http';
import type { Server } from 'http';
import type { Socket } from 'net';
import { randomUUID } from 'crypto';

/**
 * A local stand-in for Secrets Manager's GetSecretValue (JSON 1.1 protocol: POST /, X-Amz-Target header), so the
 * service's real SDK client can be pointed at it with AWS_ENDPOINT_URL_SECRETS_MANAGER.
 */
export class FakeSecretsManager {
  private readonly secrets = new Map<string, { value: string; versionId: string }>();
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  /** Secret ids asked for, in order. */
  readonly requests: string[] = [];
  /** While set, every call fails with this HTTP status (e.g. 500: the service is unavailable). */
  failWith?: number;
  /** While set, calls are accepted and never answered (a blackholed or overloaded endpoint). */
  stall = false;
  /** Stalled calls whose connection the client has not closed yet. */
  stalled = 0;

  put(arn: string, value: object): void {
    this.secrets.set(arn, { value: JSON.stringify(value), versionId: randomUUID() });
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      if (this.stall) {
        this.requests.push('(stalled)');
        this.stalled += 1;
        req.resume();
        req.socket.once('close', () => {
          this.stalled -= 1;
        });
        return;
      }
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const reply = (status: number, body: object): void => {
          res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
          res.end(JSON.stringify(body));
        };
        if (req.headers['x-amz-target'] !== 'secretsmanager.GetSecretValue') {
          reply(400, { __type: 'UnknownOperationException', message: 'only GetSecretValue is faked' });
          return;
        }
        const { SecretId } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { SecretId: string };
        this.requests.push(SecretId);
        if (this.failWith) {
          reply(this.failWith, { __type: 'InternalServiceError', message: 'fake outage' });
          return;
        }
        const secret = this.secrets.get(SecretId);
        if (!secret) {
          reply(400, { __type: 'ResourceNotFoundException', message: "Secrets Manager can't find the specified secret." });
          return;
        }
        reply(200, {
          ARN: SecretId,
          Name: SecretId.split(':').pop(),
          SecretString: secret.value,
          VersionId: secret.versionId,
          VersionStages: ['AWSCURRENT'],
          CreatedDate: Date.now() / 1000,
        });
      });
    });
    this.server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    if (typeof address !== 'object' || address === null) throw new Error('no address');
    return `http://127.0.0.1:${address.port}`;
  }

  async stop(): Promise<void> {
    // Keep-alive sockets of the SDK clients (and stalled calls) would keep close() waiting.
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

/** Environment for an AWS SDK client talking to the fake: region and static fake keys, no instance metadata lookups. */
export function fakeAwsEnv(endpoint: string): Record<string, string> {
  return {
    AWS_ENDPOINT_URL_SECRETS_MANAGER: endpoint,
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'AKIAFAKEFAKEFAKEFAKE',
    AWS_SECRET_ACCESS_KEY: 'fake-secret-access-key',
    AWS_EC2_METADATA_DISABLED: 'true',
  };
}
