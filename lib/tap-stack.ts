import { Stack, StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { EnvironmentConfig } from './config';
import { Network } from './network/network';
import { AccessLogsBucket } from './security/access-logs-bucket';
import { AuditTrail } from './security/audit-trail';
import { Keys } from './security/keys';
import { removalPolicyOf } from './shared/removal';
import { ArtifactStore } from './storage/artifact-store';

export interface TapStackProps extends StackProps {
  /** The validated configuration of this stack's environment. */
  readonly config: EnvironmentConfig;
}

/** The complete platform for one environment. Composition only: each unit defines itself under lib/. */
export class TapStack extends Stack {
  public readonly keys: Keys;
  public readonly network: Network;
  public readonly accessLogs: AccessLogsBucket;
  public readonly auditTrail: AuditTrail;
  public readonly artifactStore: ArtifactStore;

  constructor(scope: Construct, id: string, props: TapStackProps) {
    super(scope, id, props);
    const { config } = props;
    const logRemoval = removalPolicyOf(config.removal.logs);

    this.keys = new Keys(this, 'Keys', { removalPolicy: removalPolicyOf(config.removal.keys) });
    this.accessLogs = new AccessLogsBucket(this, 'AccessLogs', { retentionDays: config.logs.retentionDays, removalPolicy: logRemoval });
    this.auditTrail = new AuditTrail(this, 'AuditTrail', {
      key: this.keys.logs,
      accessLogsBucket: this.accessLogs.bucket,
      retentionDays: config.logs.retentionDays,
      removalPolicy: logRemoval,
    });
    this.network = new Network(this, 'Network', {
      cidr: config.network.cidr,
      availabilityZones: config.network.availabilityZones,
      natGateways: config.network.natGateways,
      logsKey: this.keys.logs,
      logRetentionDays: config.logs.retentionDays,
      logRemovalPolicy: logRemoval,
    });
    this.artifactStore = new ArtifactStore(this, 'ArtifactStore', {
      key: this.keys.artifacts,
      accessLogsBucket: this.accessLogs.bucket,
      removalPolicy: removalPolicyOf(config.removal.artifacts),
    });
  }
}
