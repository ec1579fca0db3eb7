import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import * as path from 'path';
import { acknowledge, acknowledgeGrantPolicy, arnToken, nagAccount } from '../compliance/acknowledge';
import { checkovSkip } from '../compliance/checkov';
import { EncryptedLogGroup } from '../common/encrypted-log-group';
import { allowEgress, PrivateAwsAccess } from '../network/egress';

export interface SmokeTestHookProps {
  readonly vpc: ec2.IVpc;
  /**
   * The cluster of the service the hook guards. The hook reads that cluster's service deployments to recognise a
   * service's first deployment (which it lets through untested), and nothing else.
   */
  readonly cluster: ecs.ICluster;
  /** The interface endpoints: Secrets Manager (the API key) and ECS (the deployment lookups). */
  readonly network: PrivateAwsAccess;
  /** The test listener URL the new revision answers on before production traffic moves. */
  readonly testUrl: string;
  /** The test listener's port: the only port the hook sends to outside the VPC. */
  readonly testListenerPort: number;
  /** The API key the smoke payment presents. */
  readonly apiKey: secretsmanager.ISecret;
  readonly logsKey: kms.IKey;
  readonly logRetentionDays: number;
  readonly logRemovalPolicy: RemovalPolicy;
  /** Encrypts the function's environment variables. */
  readonly dataKey: kms.IKey;
}

/** Source of the hook: tested on its own in test/tools/smoke*.test.ts against a real HTTP server and a mocked ECS API. */
export const HOOK_ENTRY = path.join(__dirname, '..', '..', 'tools', 'smoke', 'hook-handler.ts');

/**
 * The ECS lifecycle hook run after test traffic shifts to the new revision: liveness, readiness and a payment round
 * trip with a published test card through the test listener. FAILED (or any error or timeout) makes ECS roll back
 * before a customer request reaches the new revision. ECS runs the hook on the service's first deployment too, where
 * nothing can pass and nothing can be rolled back to; only that deployment, as ECS itself records it (the service's
 * one deployment, with no source revision), is answered SUCCEEDED untested. Bundled locally with esbuild, runs in the private subnets.
 */
export class SmokeTestHook extends Construct {
  public readonly function: nodejs.NodejsFunction;
  public readonly securityGroup: ec2.SecurityGroup;

  constructor(scope: Construct, id: string, props: SmokeTestHookProps) {
    super(scope, id);
    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'Smoke-test hook: HTTPS to AWS endpoints and the test listener',
      allowAllOutbound: false,
    });
    allowEgress(this.securityGroup, props.network, [
      { to: 'aws-endpoints', why: 'Secrets Manager and ECS endpoints' },
      // The load balancer is internet-facing: its name resolves to public addresses that AWS may change, reached
      // through NAT, so the peer cannot be narrower than any address; its security group admits the NAT addresses only.
      { to: 'internet', port: props.testListenerPort, why: 'The test listener of the load balancer, through NAT' },
    ]);
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
      // No reserved concurrency: Lambda keeps 100 executions unreserved per account, so any reservation fails the
      // function's creation where the account quota is below 100 + reservation, as in new accounts, which start with
      // reduced quotas (10 is common). ECS invokes the hook once per deployment stage, so there is no burst to cap.
      tracing: lambda.Tracing.ACTIVE,
      environment: { TEST_URL: props.testUrl, API_KEY_SECRET_ARN: props.apiKey.secretArn, CLUSTER_NAME: props.cluster.clusterName },
      bundling: { minify: true, sourceMap: false, target: 'node24', forceDockerBundling: false },
      description: 'ECS blue/green POST_TEST_TRAFFIC_SHIFT hook: smoke test through the test listener',
    });
    props.apiKey.grantRead(this.function);
    // The first-deployment check (tools/smoke/first-deployment.ts): read-only, this cluster's services only. The
    // service's name is generated by CloudFormation after this function exists, so the cluster is the narrowest
    // scope available; it holds the payment service alone. Actions and resources as in
    // https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-deployment-permissions.html
    const stack = Stack.of(this);
    const serviceArns = stack.formatArn({ service: 'ecs', resource: 'service', resourceName: `${props.cluster.clusterName}/*` });
    const deploymentArns = stack.formatArn({ service: 'ecs', resource: 'service-deployment', resourceName: `${props.cluster.clusterName}/*` });
    this.function.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['ecs:ListServiceDeployments', 'ecs:DescribeServiceDeployments'],
        resources: [serviceArns, deploymentArns],
      }),
    );

    const noDlq = 'Invoked synchronously by ECS, which reads its answer and rolls back on error; a DLQ would never receive anything';
    acknowledge(this.function, ['NIST.800.53.R5'], 'LambdaDLQ', noDlq);
    checkovSkip(this.function, 'CKV_AWS_116', noDlq);
    const noReservation =
      'Reserved concurrency fails the function creation in accounts whose Lambda quota is under 100 plus the reservation; ECS invokes it once per deployment stage';
    acknowledge(this.function, ['NIST.800.53.R5'], 'LambdaConcurrency', noReservation);
    checkovSkip(this.function, 'CKV_AWS_115', noReservation);
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
      'xray:PutTraceSegments and xray:PutTelemetryRecords, which active tracing adds (CDK): AWS authorizes them on no resource type',
    );
    const cluster = arnToken(props.cluster).replace('.Arn>', '>');
    for (const resource of ['service', 'service-deployment']) {
      acknowledge(
        this.function.role!,
        ['AwsSolutions'],
        `IAM5[Resource::arn:aws:ecs:${stack.region}:${nagAccount(this)}:${resource}/${cluster}/*]`,
        "ecs:ListServiceDeployments and ecs:DescribeServiceDeployments (read only) in this one cluster: the service's generated name is not known before this role, and ECS names each deployment",
      );
    }
  }
}
