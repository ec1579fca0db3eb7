import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import * as path from 'path';
import { acknowledge, acknowledgeGrantPolicy } from '../compliance/acknowledge';
import { checkovSkip } from '../compliance/checkov';
import { EncryptedLogGroup } from '../shared/encrypted-log-group';

export interface SmokeTestHookProps {
  readonly vpc: ec2.IVpc;
  /** The test listener URL the new revision answers on before production traffic moves. */
  readonly testUrl: string;
  /** The API key the smoke payment presents. */
  readonly apiKey: secretsmanager.ISecret;
  readonly logsKey: kms.IKey;
  readonly logRetentionDays: number;
  readonly logRemovalPolicy: RemovalPolicy;
  /** Encrypts the function's environment variables. */
  readonly dataKey: kms.IKey;
}

/** Source of the hook: tested on its own in test/tools/smoke.test.ts against a real HTTP server. */
export const HOOK_ENTRY = path.join(__dirname, '..', '..', 'tools', 'smoke', 'hook-handler.ts');

/**
 * The ECS lifecycle hook run after test traffic shifts to the new revision: liveness, readiness and a payment round
 * trip with a published test card through the test listener. FAILED (or any error or timeout) makes ECS roll back
 * before a customer request reaches the new revision. Bundled locally with esbuild, runs in the private subnets.
 */
export class SmokeTestHook extends Construct {
  public readonly function: nodejs.NodejsFunction;
  public readonly securityGroup: ec2.SecurityGroup;

  constructor(scope: Construct, id: string, props: SmokeTestHookProps) {
    super(scope, id);
    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'Smoke-test hook: HTTPS to AWS endpoints and the test listener',
      allowAllOutbound: true,
    });
    const logGroup = new EncryptedLogGroup(this, 'LogGroup', {
      key: props.logsKey,
      retentionDays: props.logRetentionDays,
      removalPolicy: props.logRemovalPolicy,
    });
    this.function = new nodejs.NodejsFunction(this, 'Function', {
      entry: HOOK_ENTRY,
      handler: 'handler',
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 256,
      timeout: Duration.seconds(60),
      vpc: props.vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      securityGroups: [this.securityGroup],
      logGroup,
      environmentEncryption: props.dataKey,
      reservedConcurrentExecutions: 2,
      tracing: lambda.Tracing.ACTIVE,
      environment: { TEST_URL: props.testUrl, API_KEY_SECRET_ARN: props.apiKey.secretArn },
      bundling: { minify: true, sourceMap: false, target: 'node24', forceDockerBundling: false },
      description: 'ECS blue/green POST_TEST_TRAFFIC_SHIFT hook: smoke test through the test listener',
    });
    props.apiKey.grantRead(this.function);

    const noDlq = 'Invoked synchronously by ECS, which reads its answer and rolls back on error; a DLQ would never receive anything';
    acknowledge(this.function, ['NIST.800.53.R5'], 'LambdaDLQ', noDlq);
    checkovSkip(this.function, 'CKV_AWS_116', noDlq);
    acknowledgeGrantPolicy(this.function.role!, 'Smoke-test hook role: read one secret, write its own logs and traces, attach to the VPC');
    acknowledge(
      this.function.role!,
      ['AwsSolutions'],
      'IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]',
      'AWS managed policy for VPC-attached functions: creates and deletes the ENIs only',
    );
    acknowledge(
      this.function.role!,
      ['AwsSolutions'],
      'IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      "AWS managed policy for function logs; the log group is this function's own",
    );
    acknowledge(
      this.function.role!,
      ['AwsSolutions'],
      'IAM5[Resource::*]',
      'X-Ray PutTraceSegments/PutTelemetryRecords have no resource-level permissions',
    );
  }
}
