import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import { compliancePacks } from '../lib/compliance/packs';
import { AUDIT_LOG_CONTROLS, AUDIT_METRIC_NAMESPACE, AUDIT_QUERIES, AuditLogReview } from '../lib/monitoring/log-review';

type Resource = { Type: string; Properties: Record<string, unknown> };

// ---------------------------------------------------------------------------------------------------------------------
// The patterns as the Security Hub user guide prints them ("Copy the following pattern"), typed here a second time so
// that an edit of the table in lib/ cannot pass unnoticed. Security Hub fails the control on any other text.
// https://docs.aws.amazon.com/securityhub/latest/userguide/cloudwatch-controls.html
// https://github.com/awsdocs/aws-security-hub-user-guide/blob/bda5bf7ddbdf498557b2ac6a538577528004e6d5/doc_source/cloudwatch-controls.md
// ---------------------------------------------------------------------------------------------------------------------
const DOC_PATTERNS: Record<string, string> = {
  'CloudWatch.1': '{$.userIdentity.type="Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType !="AwsServiceEvent"}',
  'CloudWatch.2': '{($.errorCode="*UnauthorizedOperation") || ($.errorCode="AccessDenied*")}',
  'CloudWatch.3':
    '{ ($.eventName = "ConsoleLogin") && ($.additionalEventData.MFAUsed != "Yes") && ($.userIdentity.type = "IAMUser") && ($.responseElements.ConsoleLogin = "Success") }',
  'CloudWatch.4':
    '{($.eventName=DeleteGroupPolicy) || ($.eventName=DeleteRolePolicy) || ($.eventName=DeleteUserPolicy) || ($.eventName=PutGroupPolicy) || ($.eventName=PutRolePolicy) || ($.eventName=PutUserPolicy) || ($.eventName=CreatePolicy) || ($.eventName=DeletePolicy) || ($.eventName=CreatePolicyVersion) || ($.eventName=DeletePolicyVersion) || ($.eventName=AttachRolePolicy) || ($.eventName=DetachRolePolicy) || ($.eventName=AttachUserPolicy) || ($.eventName=DetachUserPolicy) || ($.eventName=AttachGroupPolicy) || ($.eventName=DetachGroupPolicy)}',
  'CloudWatch.5':
    '{($.eventName=CreateTrail) || ($.eventName=UpdateTrail) || ($.eventName=DeleteTrail) || ($.eventName=StartLogging) || ($.eventName=StopLogging)}',
  'CloudWatch.6': '{($.eventName=ConsoleLogin) && ($.errorMessage="Failed authentication")}',
  'CloudWatch.7': '{($.eventSource=kms.amazonaws.com) && (($.eventName=DisableKey) || ($.eventName=ScheduleKeyDeletion))}',
  'CloudWatch.8':
    '{($.eventSource=s3.amazonaws.com) && (($.eventName=PutBucketAcl) || ($.eventName=PutBucketPolicy) || ($.eventName=PutBucketCors) || ($.eventName=PutBucketLifecycle) || ($.eventName=PutBucketReplication) || ($.eventName=DeleteBucketPolicy) || ($.eventName=DeleteBucketCors) || ($.eventName=DeleteBucketLifecycle) || ($.eventName=DeleteBucketReplication))}',
  'CloudWatch.9':
    '{($.eventSource=config.amazonaws.com) && (($.eventName=StopConfigurationRecorder) || ($.eventName=DeleteDeliveryChannel) || ($.eventName=PutDeliveryChannel) || ($.eventName=PutConfigurationRecorder))}',
  'CloudWatch.10':
    '{($.eventName=AuthorizeSecurityGroupIngress) || ($.eventName=AuthorizeSecurityGroupEgress) || ($.eventName=RevokeSecurityGroupIngress) || ($.eventName=RevokeSecurityGroupEgress) || ($.eventName=CreateSecurityGroup) || ($.eventName=DeleteSecurityGroup)}',
  'CloudWatch.11':
    '{($.eventName=CreateNetworkAcl) || ($.eventName=CreateNetworkAclEntry) || ($.eventName=DeleteNetworkAcl) || ($.eventName=DeleteNetworkAclEntry) || ($.eventName=ReplaceNetworkAclEntry) || ($.eventName=ReplaceNetworkAclAssociation)}',
  'CloudWatch.12':
    '{($.eventName=CreateCustomerGateway) || ($.eventName=DeleteCustomerGateway) || ($.eventName=AttachInternetGateway) || ($.eventName=CreateInternetGateway) || ($.eventName=DeleteInternetGateway) || ($.eventName=DetachInternetGateway)}',
  'CloudWatch.13':
    '{($.eventName=CreateRoute) || ($.eventName=CreateRouteTable) || ($.eventName=ReplaceRoute) || ($.eventName=ReplaceRouteTableAssociation) || ($.eventName=DeleteRouteTable) || ($.eventName=DeleteRoute) || ($.eventName=DisassociateRouteTable)}',
  'CloudWatch.14':
    '{($.eventName=CreateVpc) || ($.eventName=DeleteVpc) || ($.eventName=ModifyVpcAttribute) || ($.eventName=AcceptVpcPeeringConnection) || ($.eventName=CreateVpcPeeringConnection) || ($.eventName=DeleteVpcPeeringConnection) || ($.eventName=RejectVpcPeeringConnection) || ($.eventName=AttachClassicLinkVpc) || ($.eventName=DetachClassicLinkVpc) || ($.eventName=DisableVpcClassicLink) || ($.eventName=EnableVpcClassicLink)}',
  // This app's own, from the WAF CloudTrail page (eventSource wafv2.amazonaws.com).
  'TAP.WAF.1':
    '{ ($.eventSource = "wafv2.amazonaws.com") && (($.eventName = "Create*") || ($.eventName = "Update*") || ($.eventName = "Delete*") || ($.eventName = "Associate*") || ($.eventName = "Disassociate*") || ($.eventName = "Put*")) }',
};

const EXPECTED: Record<string, { name: string; severity: 'Critical' | 'Warning' }> = {
  'CloudWatch.1': { name: 'RootUserUse', severity: 'Critical' },
  'CloudWatch.2': { name: 'UnauthorizedApiCalls', severity: 'Warning' },
  'CloudWatch.3': { name: 'ConsoleSignInWithoutMfa', severity: 'Critical' },
  'CloudWatch.4': { name: 'IamPolicyChanges', severity: 'Warning' },
  'CloudWatch.5': { name: 'CloudTrailChanges', severity: 'Critical' },
  'CloudWatch.6': { name: 'ConsoleAuthenticationFailures', severity: 'Warning' },
  'CloudWatch.7': { name: 'KmsKeyDisableOrDeletion', severity: 'Critical' },
  'CloudWatch.8': { name: 'S3BucketPolicyChanges', severity: 'Warning' },
  'CloudWatch.9': { name: 'ConfigChanges', severity: 'Warning' },
  'CloudWatch.10': { name: 'SecurityGroupChanges', severity: 'Warning' },
  'CloudWatch.11': { name: 'NetworkAclChanges', severity: 'Warning' },
  'CloudWatch.12': { name: 'NetworkGatewayChanges', severity: 'Warning' },
  'CloudWatch.13': { name: 'RouteTableChanges', severity: 'Warning' },
  'CloudWatch.14': { name: 'VpcChanges', severity: 'Warning' },
  'TAP.WAF.1': { name: 'WafConfigurationChanges', severity: 'Warning' },
};

// ---------------------------------------------------------------------------------------------------------------------
// A CloudWatch Logs JSON filter pattern evaluator for the subset the patterns use: `{ ... }`, `&&`, `||`, parentheses,
// `=` and `!=` against quoted or bare strings with `*` wildcards, and `NOT EXISTS` / `EXISTS`.
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html
// No npm package evaluates these patterns credibly (see the helper report); CloudWatch's TestMetricFilter API is the
// reference and needs an account. Assumption: a comparison on a field the event does not have is false, for `!=` too;
// the sample events below always carry the fields a pattern compares, so no verdict depends on it.
// ---------------------------------------------------------------------------------------------------------------------
type Token = { kind: 'op'; value: string } | { kind: 'word'; value: string; quoted: boolean };

function tokenize(src: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (src.startsWith('&&', i) || src.startsWith('||', i) || src.startsWith('!=', i)) {
      tokens.push({ kind: 'op', value: src.slice(i, i + 2) });
      i += 2;
    } else if ('{}()='.includes(c)) {
      tokens.push({ kind: 'op', value: c });
      i++;
    } else if (c === '"') {
      const end = src.indexOf('"', i + 1);
      if (end < 0) throw new Error(`unterminated string in ${src}`);
      tokens.push({ kind: 'word', value: src.slice(i + 1, end), quoted: true });
      i = end + 1;
    } else {
      let j = i;
      while (j < src.length && !/[\s{}()=!&|"]/.test(src[j]!)) j++;
      if (j === i) throw new Error(`unexpected '${c}' at ${i} in ${src}`);
      tokens.push({ kind: 'word', value: src.slice(i, j), quoted: false });
      i = j;
    }
  }
  return tokens;
}

function lookup(event: unknown, selector: string): { found: boolean; value: unknown } {
  if (!selector.startsWith('$.')) throw new Error(`selector ${selector}`);
  let v: unknown = event;
  for (const part of selector.slice(2).split('.')) {
    if (v === null || typeof v !== 'object' || !(part in (v as object))) return { found: false, value: undefined };
    v = (v as Record<string, unknown>)[part];
  }
  return { found: true, value: v };
}

const glob = (pattern: string) =>
  new RegExp(
    `^${pattern
      .split('*')
      .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );

function matchesFilterPattern(pattern: string, event: unknown): boolean {
  const tokens = tokenize(pattern);
  let pos = 0;
  const peek = () => tokens[pos];
  const take = (value?: string): Token => {
    const t = tokens[pos++];
    if (!t || (value !== undefined && t.value !== value)) throw new Error(`expected ${value ?? 'a token'} at ${pos - 1} in ${pattern}`);
    return t;
  };
  const orExpr = (): boolean => {
    let v = andExpr();
    while (peek()?.kind === 'op' && peek()!.value === '||') {
      take();
      v = andExpr() || v;
    }
    return v;
  };
  const andExpr = (): boolean => {
    let v = unary();
    while (peek()?.kind === 'op' && peek()!.value === '&&') {
      take();
      v = unary() && v;
    }
    return v;
  };
  const unary = (): boolean => {
    if (peek()?.kind === 'op' && peek()!.value === '(') {
      take('(');
      const v = orExpr();
      take(')');
      return v;
    }
    const selector = take();
    if (selector.kind !== 'word' || selector.quoted) throw new Error(`selector expected in ${pattern}`);
    const { found, value } = lookup(event, selector.value);
    const next = take();
    if (next.kind === 'word' && next.value === 'NOT') {
      take('EXISTS');
      return !found;
    }
    if (next.kind === 'word' && next.value === 'EXISTS') return found;
    if (next.kind !== 'op' || (next.value !== '=' && next.value !== '!=')) throw new Error(`operator expected in ${pattern}`);
    const operand = take();
    if (operand.kind !== 'word') throw new Error(`value expected in ${pattern}`);
    if (!found || value === null || typeof value === 'object') return false;
    const equal = glob(operand.value).test(String(value));
    return next.value === '=' ? equal : !equal;
  };
  take('{');
  const result = orExpr();
  take('}');
  if (pos !== tokens.length) throw new Error(`trailing tokens in ${pattern}`);
  return result;
}

describe('the filter pattern evaluator', () => {
  test.each([
    ['{ $.a = "x" }', { a: 'x' }, true],
    ['{ $.a = "x" }', { a: 'y' }, false],
    ['{ $.a != "x" }', { a: 'y' }, true],
    ['{ $.a != "x" }', {}, false],
    ['{ $.a.b NOT EXISTS }', { a: {} }, true],
    ['{ $.a.b NOT EXISTS }', { a: { b: 1 } }, false],
    ['{ $.a = "Access*" }', { a: 'AccessDeniedException' }, true],
    ['{ $.a = "*Operation" }', { a: 'Client.UnauthorizedOperation' }, true],
    ['{ $.a = "*Operation" }', { a: 'OperationAborted' }, false],
    ['{ ($.a = 1) || ($.b = 2) && ($.c = 3) }', { a: 1, b: 0, c: 0 }, true],
    ['{ (($.a = 1) || ($.b = 2)) && ($.c = 3) }', { a: 1, b: 0, c: 0 }, false],
    ['{($.s=kms.amazonaws.com) && ($.e=DisableKey)}', { s: 'kms.amazonaws.com', e: 'DisableKey' }, true],
  ])('%s on %j is %s', (pattern, event, expected) => {
    expect(matchesFilterPattern(pattern, event)).toBe(expected);
  });
});

// ---------------------------------------------------------------------------------------------------------------------
// Sample CloudTrail events, shaped as the CloudTrail User Guide's examples (record contents, console sign-in events),
// account 111111111111. Each lists every control it must match; all other controls must not match it.
// https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html
// https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-aws-console-sign-in-events.html
// ---------------------------------------------------------------------------------------------------------------------
const ACCOUNT = '111111111111';
const iamUser = { type: 'IAMUser', principalId: 'AIDAEXAMPLE', arn: `arn:aws:iam::${ACCOUNT}:user/alice`, accountId: ACCOUNT, userName: 'alice' };
const role = {
  type: 'AssumedRole',
  principalId: 'AROAEXAMPLE:deployer',
  arn: `arn:aws:sts::${ACCOUNT}:assumed-role/Deployer/deployer`,
  accountId: ACCOUNT,
  sessionContext: { attributes: { mfaAuthenticated: 'false', creationDate: '2026-11-30T10:00:00Z' } },
};
const root = { type: 'Root', principalId: ACCOUNT, arn: `arn:aws:iam::${ACCOUNT}:root`, accountId: ACCOUNT };

function apiCall(eventSource: string, eventName: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    eventVersion: '1.09',
    userIdentity: role,
    eventTime: '2026-11-30T12:00:00Z',
    eventSource,
    eventName,
    awsRegion: 'eu-west-1',
    sourceIPAddress: '192.0.2.10',
    userAgent: 'aws-cli/2.0',
    requestParameters: {},
    responseElements: null,
    eventID: '00000000-0000-0000-0000-000000000000',
    readOnly: false,
    eventType: 'AwsApiCall',
    managementEvent: true,
    recipientAccountId: ACCOUNT,
    eventCategory: 'Management',
    ...extra,
  };
}

function consoleLogin(identity: Record<string, unknown>, outcome: 'Success' | 'Failure', mfaUsed: 'Yes' | 'No'): Record<string, unknown> {
  return {
    ...apiCall('signin.amazonaws.com', 'ConsoleLogin', {
      userIdentity: identity,
      eventType: 'AwsConsoleSignIn',
      requestParameters: null,
      responseElements: { ConsoleLogin: outcome },
      additionalEventData: { LoginTo: 'https://console.aws.amazon.com/console/home', MobileVersion: 'No', MFAUsed: mfaUsed },
    }),
    ...(outcome === 'Failure' ? { errorMessage: 'Failed authentication' } : {}),
  };
}

const SAMPLES: [string, Record<string, unknown>, string[]][] = [
  ['root console sign-in without MFA', consoleLogin(root, 'Success', 'No'), ['CloudWatch.1']],
  ['root console sign-in with MFA', consoleLogin(root, 'Success', 'Yes'), ['CloudWatch.1']],
  ['root API call (CreateAccessKey)', apiCall('iam.amazonaws.com', 'CreateAccessKey', { userIdentity: root }), ['CloudWatch.1']],
  [
    'root identity acting through an AWS service (invokedBy)',
    apiCall('s3.amazonaws.com', 'GetBucketAcl', { userIdentity: { ...root, invokedBy: 'support.amazonaws.com' } }),
    [],
  ],
  ['AWS service event attributed to root', apiCall('kms.amazonaws.com', 'RotateKey', { userIdentity: root, eventType: 'AwsServiceEvent' }), []],
  ['IAM user console sign-in without MFA', consoleLogin(iamUser, 'Success', 'No'), ['CloudWatch.3']],
  ['IAM user console sign-in with MFA', consoleLogin(iamUser, 'Success', 'Yes'), []],
  ['IAM user console sign-in that failed', consoleLogin(iamUser, 'Failure', 'No'), ['CloudWatch.6']],
  ['federated role console sign-in', consoleLogin(role, 'Success', 'No'), []],
  [
    'EC2 call refused (Client.UnauthorizedOperation)',
    apiCall('ec2.amazonaws.com', 'RunInstances', { errorCode: 'Client.UnauthorizedOperation' }),
    ['CloudWatch.2'],
  ],
  ['S3 call refused (AccessDenied)', apiCall('s3.amazonaws.com', 'ListBuckets', { errorCode: 'AccessDenied' }), ['CloudWatch.2']],
  ['KMS call refused (AccessDeniedException)', apiCall('kms.amazonaws.com', 'Decrypt', { errorCode: 'AccessDeniedException' }), ['CloudWatch.2']],
  ['throttled call', apiCall('ec2.amazonaws.com', 'DescribeInstances', { errorCode: 'Client.RequestLimitExceeded' }), []],
  ['ordinary DescribeInstances', apiCall('ec2.amazonaws.com', 'DescribeInstances', { readOnly: true }), []],
  ['AttachRolePolicy', apiCall('iam.amazonaws.com', 'AttachRolePolicy'), ['CloudWatch.4']],
  ['PutRolePolicy', apiCall('iam.amazonaws.com', 'PutRolePolicy'), ['CloudWatch.4']],
  ['CreatePolicyVersion', apiCall('iam.amazonaws.com', 'CreatePolicyVersion'), ['CloudWatch.4']],
  ['CreateRole (not an IAM policy change for CIS)', apiCall('iam.amazonaws.com', 'CreateRole'), []],
  ['StopLogging', apiCall('cloudtrail.amazonaws.com', 'StopLogging'), ['CloudWatch.5']],
  ['UpdateTrail', apiCall('cloudtrail.amazonaws.com', 'UpdateTrail'), ['CloudWatch.5']],
  ['DeleteTrail', apiCall('cloudtrail.amazonaws.com', 'DeleteTrail'), ['CloudWatch.5']],
  ['LookupEvents', apiCall('cloudtrail.amazonaws.com', 'LookupEvents', { readOnly: true }), []],
  ['DisableKey', apiCall('kms.amazonaws.com', 'DisableKey'), ['CloudWatch.7']],
  ['ScheduleKeyDeletion', apiCall('kms.amazonaws.com', 'ScheduleKeyDeletion'), ['CloudWatch.7']],
  ['PutKeyPolicy (not a disable or deletion)', apiCall('kms.amazonaws.com', 'PutKeyPolicy'), []],
  ['EnableKey', apiCall('kms.amazonaws.com', 'EnableKey'), []],
  ['DeleteBucketPolicy', apiCall('s3.amazonaws.com', 'DeleteBucketPolicy'), ['CloudWatch.8']],
  ['PutBucketPolicy', apiCall('s3.amazonaws.com', 'PutBucketPolicy'), ['CloudWatch.8']],
  ['PutBucketAcl', apiCall('s3.amazonaws.com', 'PutBucketAcl'), ['CloudWatch.8']],
  ['GetBucketPolicy', apiCall('s3.amazonaws.com', 'GetBucketPolicy', { readOnly: true }), []],
  ['StopConfigurationRecorder', apiCall('config.amazonaws.com', 'StopConfigurationRecorder'), ['CloudWatch.9']],
  ['PutDeliveryChannel', apiCall('config.amazonaws.com', 'PutDeliveryChannel'), ['CloudWatch.9']],
  ['DescribeConfigRules', apiCall('config.amazonaws.com', 'DescribeConfigRules', { readOnly: true }), []],
  ['AuthorizeSecurityGroupIngress', apiCall('ec2.amazonaws.com', 'AuthorizeSecurityGroupIngress'), ['CloudWatch.10']],
  ['DeleteSecurityGroup', apiCall('ec2.amazonaws.com', 'DeleteSecurityGroup'), ['CloudWatch.10']],
  ['DescribeSecurityGroups', apiCall('ec2.amazonaws.com', 'DescribeSecurityGroups', { readOnly: true }), []],
  ['CreateNetworkAclEntry', apiCall('ec2.amazonaws.com', 'CreateNetworkAclEntry'), ['CloudWatch.11']],
  ['ReplaceNetworkAclAssociation', apiCall('ec2.amazonaws.com', 'ReplaceNetworkAclAssociation'), ['CloudWatch.11']],
  ['AttachInternetGateway', apiCall('ec2.amazonaws.com', 'AttachInternetGateway'), ['CloudWatch.12']],
  ['CreateCustomerGateway', apiCall('ec2.amazonaws.com', 'CreateCustomerGateway'), ['CloudWatch.12']],
  ['CreateNatGateway (not in the CIS list)', apiCall('ec2.amazonaws.com', 'CreateNatGateway'), []],
  ['CreateRoute', apiCall('ec2.amazonaws.com', 'CreateRoute'), ['CloudWatch.13']],
  ['DisassociateRouteTable', apiCall('ec2.amazonaws.com', 'DisassociateRouteTable'), ['CloudWatch.13']],
  ['CreateVpc', apiCall('ec2.amazonaws.com', 'CreateVpc'), ['CloudWatch.14']],
  ['ModifyVpcAttribute', apiCall('ec2.amazonaws.com', 'ModifyVpcAttribute'), ['CloudWatch.14']],
  ['CreateVpcPeeringConnection', apiCall('ec2.amazonaws.com', 'CreateVpcPeeringConnection'), ['CloudWatch.14']],
  ['CreateVpcEndpoint (not in the CIS list)', apiCall('ec2.amazonaws.com', 'CreateVpcEndpoint'), []],
  ['WAF CreateWebACL', apiCall('wafv2.amazonaws.com', 'CreateWebACL'), ['TAP.WAF.1']],
  ['WAF UpdateWebACL', apiCall('wafv2.amazonaws.com', 'UpdateWebACL'), ['TAP.WAF.1']],
  ['WAF UpdateIPSet', apiCall('wafv2.amazonaws.com', 'UpdateIPSet'), ['TAP.WAF.1']],
  ['WAF DeleteRuleGroup', apiCall('wafv2.amazonaws.com', 'DeleteRuleGroup'), ['TAP.WAF.1']],
  ['WAF AssociateWebACL', apiCall('wafv2.amazonaws.com', 'AssociateWebACL'), ['TAP.WAF.1']],
  ['WAF DisassociateWebACL', apiCall('wafv2.amazonaws.com', 'DisassociateWebACL'), ['TAP.WAF.1']],
  ['WAF PutLoggingConfiguration', apiCall('wafv2.amazonaws.com', 'PutLoggingConfiguration'), ['TAP.WAF.1']],
  ['WAF DeleteLoggingConfiguration', apiCall('wafv2.amazonaws.com', 'DeleteLoggingConfiguration'), ['TAP.WAF.1']],
  ['WAF GetWebACL', apiCall('wafv2.amazonaws.com', 'GetWebACL', { readOnly: true }), []],
  ['WAF ListIPSets', apiCall('wafv2.amazonaws.com', 'ListIPSets', { readOnly: true }), []],
  ['WAF CheckCapacity', apiCall('wafv2.amazonaws.com', 'CheckCapacity', { readOnly: true }), []],
  ['WAF Classic UpdateWebACL (other event source)', apiCall('waf.amazonaws.com', 'UpdateWebACL'), []],
  ['ECS UpdateService (a deployment, not an audit alarm)', apiCall('ecs.amazonaws.com', 'UpdateService'), []],
];

describe('each control matches the events it is for and no other', () => {
  test.each(SAMPLES)('%s', (_label, event, expected) => {
    // The event as CloudTrail writes it to CloudWatch Logs: one JSON document per log event.
    const parsed = JSON.parse(JSON.stringify(event)) as unknown;
    const matched = AUDIT_LOG_CONTROLS.filter((c) => matchesFilterPattern(c.pattern, parsed)).map((c) => c.id);
    expect(matched.sort()).toEqual([...expected].sort());
  });

  test('every control has a sample it matches and a near miss it does not', () => {
    for (const c of AUDIT_LOG_CONTROLS) {
      expect(SAMPLES.some(([, , ids]) => ids.includes(c.id))).toBe(true);
    }
    // Near misses: events of the same service that must stay silent.
    expect(SAMPLES.filter(([, , ids]) => ids.length === 0).length).toBeGreaterThanOrEqual(15);
  });
});

// ---------------------------------------------------------------------------------------------------------------------
// The construct in a small stack.
// ---------------------------------------------------------------------------------------------------------------------
function build(optional: boolean) {
  const app = new App();
  const stack = new Stack(app, 'LogReviewTest', { env: { account: ACCOUNT, region: 'eu-west-1' } });
  const trailLogs = new logs.LogGroup(stack, 'TrailLogs');
  const pageTopic = new sns.Topic(stack, 'PageTopic');
  const noticeTopic = new sns.Topic(stack, 'NoticeTopic');
  const extra = optional
    ? {
        serviceLogGroup: new logs.LogGroup(stack, 'ServiceLogs'),
        wafLogGroup: new logs.LogGroup(stack, 'WafLogs', { logGroupName: 'aws-waf-logs-LogReviewTest' }),
        pipelineLogGroups: [new logs.LogGroup(stack, 'BuildLogs')],
      }
    : {};
  const review = new AuditLogReview(stack, 'AuditLogReview', {
    logGroup: trailLogs,
    pageTopic,
    noticeTopic,
    alarmNamePrefix: stack.stackName,
    ...extra,
  });
  const template = Template.fromStack(stack);
  const resources = template.toJSON().Resources as Record<string, Resource>;
  const idOf = (c: { node: { defaultChild?: unknown } } | logs.LogGroup | sns.Topic) => stack.getLogicalId(c.node.defaultChild as never);
  return { stack, review, template, resources, ids: { trail: idOf(trailLogs), page: idOf(pageTopic), notice: idOf(noticeTopic) }, extra, idOf };
}

describe('AuditLogReview resources', () => {
  const { stack, review, resources, ids, extra, idOf } = build(true);
  const ofType = (type: string) => Object.values(resources).filter((r) => r.Type === type);

  test('the control table is the documented one: ids, patterns, names, severities, sources', () => {
    expect(AUDIT_LOG_CONTROLS.map((c) => c.id)).toEqual(Object.keys(DOC_PATTERNS));
    for (const c of AUDIT_LOG_CONTROLS) {
      expect(c.pattern).toBe(DOC_PATTERNS[c.id]);
      expect({ name: c.name, severity: c.severity }).toEqual(EXPECTED[c.id]);
      expect(c.source).toBe(
        c.id.startsWith('CloudWatch.')
          ? `https://docs.aws.amazon.com/securityhub/latest/userguide/cloudwatch-controls.html#cloudwatch-${c.id.split('.')[1]}`
          : 'https://docs.aws.amazon.com/waf/latest/developerguide/understanding-waf-entries.html',
      );
    }
    expect(new Set(AUDIT_LOG_CONTROLS.map((c) => c.name)).size).toBe(AUDIT_LOG_CONTROLS.length);
  });

  test('one metric filter per control on the trail log group: exact pattern, metric name, namespace, value 1, no default', () => {
    const filters = ofType('AWS::Logs::MetricFilter');
    expect(filters).toHaveLength(AUDIT_LOG_CONTROLS.length);
    for (const c of AUDIT_LOG_CONTROLS) {
      const f = filters.filter((r) => (r.Properties.MetricTransformations as { MetricName: string }[])[0]!.MetricName === c.name);
      expect(f).toHaveLength(1);
      expect(f[0]!.Properties).toEqual({
        LogGroupName: { Ref: ids.trail },
        FilterName: `LogReviewTest-AuditLogReview-${c.name}`,
        FilterPattern: DOC_PATTERNS[c.id],
        MetricTransformations: [{ MetricName: c.name, MetricNamespace: 'TapPayments/AuditLogReview', MetricValue: '1' }],
      });
    }
    expect(AUDIT_METRIC_NAMESPACE).toBe('TapPayments/AuditLogReview');
  });

  test('one alarm per control: >= 1 event summed over one 5-minute period, missing data not breaching, topics by severity', () => {
    const alarms = ofType('AWS::CloudWatch::Alarm').filter((r) => r.Properties.MetricName !== 'IncomingLogEvents');
    expect(alarms).toHaveLength(AUDIT_LOG_CONTROLS.length);
    for (const c of AUDIT_LOG_CONTROLS) {
      const { name, severity } = EXPECTED[c.id]!;
      const alarmName = `LogReviewTest-AuditLogReview-${name}-${severity}`;
      const a = alarms.filter((r) => r.Properties.AlarmName === alarmName);
      expect(a).toHaveLength(1);
      // Every alarm to the notice topic; a Critical one to the page topic as well (lib/monitoring/topics.ts).
      const topics = severity === 'Critical' ? [{ Ref: ids.notice }, { Ref: ids.page }] : [{ Ref: ids.notice }];
      expect(a[0]!.Properties).toEqual({
        AlarmName: alarmName,
        AlarmDescription: expect.stringContaining(`${c.id} `),
        Namespace: 'TapPayments/AuditLogReview',
        MetricName: name,
        Statistic: 'Sum',
        Period: 300,
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        EvaluationPeriods: 1,
        DatapointsToAlarm: 1,
        TreatMissingData: 'notBreaching',
        AlarmActions: topics,
        OKActions: topics,
      });
      expect(a[0]!.Properties.AlarmDescription).toContain(c.source);
      expect((a[0]!.Properties.AlarmDescription as string).length).toBeLessThanOrEqual(1024);
    }
  });

  test('a trail that stops delivering pages: no event on its log group for an hour, missing data breaching (PCI DSS 10.7.2)', () => {
    const delivery = ofType('AWS::CloudWatch::Alarm').filter((r) => r.Properties.MetricName === 'IncomingLogEvents');
    const topics = [{ Ref: ids.notice }, { Ref: ids.page }];
    expect(delivery.map((a) => a.Properties)).toEqual([
      {
        AlarmName: 'LogReviewTest-AuditLogReview-TrailDeliveryStopped-Critical',
        AlarmDescription: expect.stringContaining('PCI DSS 10.7.2'),
        Namespace: 'AWS/Logs',
        MetricName: 'IncomingLogEvents',
        Dimensions: [{ Name: 'LogGroupName', Value: { Ref: ids.trail } }],
        Statistic: 'Sum',
        Period: 900,
        Threshold: 1,
        ComparisonOperator: 'LessThanThreshold',
        EvaluationPeriods: 4,
        DatapointsToAlarm: 4,
        TreatMissingData: 'breaching',
        AlarmActions: topics,
        OKActions: topics,
      },
    ]);
  });

  test('every alarm name starts with the stack name and a dash (the topic policies admit `<stack>-*` only)', () => {
    for (const a of ofType('AWS::CloudWatch::Alarm')) expect(a.Properties.AlarmName).toMatch(new RegExp(`^${stack.stackName}-`));
  });

  test('pages are exactly root use, console sign-in without MFA, CloudTrail changes and KMS key disable/deletion', () => {
    expect(AUDIT_LOG_CONTROLS.filter((c) => c.severity === 'Critical').map((c) => c.id)).toEqual([
      'CloudWatch.1',
      'CloudWatch.3',
      'CloudWatch.5',
      'CloudWatch.7',
    ]);
    expect(Object.keys(review.alarms)).toEqual(AUDIT_LOG_CONTROLS.map((c) => c.id));
  });

  test('saved queries: names under the stack prefix, log groups and query strings', () => {
    const queries = ofType('AWS::Logs::QueryDefinition').map((r) => r.Properties);
    const trail = { Ref: ids.trail };
    const service = { Ref: idOf(extra.serviceLogGroup!) };
    const waf = { Ref: idOf(extra.wafLogGroup!) };
    const build = { Ref: idOf(extra.pipelineLogGroups![0]!) };
    expect(queries).toEqual(
      expect.arrayContaining([
        {
          Name: 'LogReviewTest/audit/deployment-timeline',
          LogGroupNames: [trail],
          QueryString: [
            'fields @timestamp, eventSource, eventName, userIdentity.arn, requestParameters.cluster, requestParameters.service, requestParameters.stackName, requestParameters.changeSetName, errorCode, errorMessage',
            '| filter (eventSource = "ecs.amazonaws.com" and eventName in ["CreateService", "UpdateService", "DeleteService", "RegisterTaskDefinition", "CreateTaskSet", "UpdateTaskSet", "DeleteTaskSet", "UpdateServicePrimaryTaskSet", "StopServiceDeployment"])',
            '    or (eventSource = "cloudformation.amazonaws.com" and eventName in ["CreateChangeSet", "ExecuteChangeSet", "CreateStack", "UpdateStack", "DeleteStack", "CancelUpdateStack", "ContinueUpdateRollback", "RollbackStack"])',
            '    or (eventSource = "elasticloadbalancing.amazonaws.com" and eventName in ["ModifyListener", "ModifyRule"])',
            '    or (eventSource = "codepipeline.amazonaws.com" and eventName in ["StartPipelineExecution", "StopPipelineExecution", "PutApprovalResult", "RetryStageExecution", "RollbackStage"])',
            '| sort @timestamp asc',
            '| limit 1000',
          ].join('\n'),
        },
        {
          Name: 'LogReviewTest/audit/root-and-iam-activity',
          LogGroupNames: [trail],
          QueryString: [
            'fields @timestamp, eventSource, eventName, userIdentity.type, userIdentity.arn, sourceIPAddress, userAgent, errorCode',
            '| filter userIdentity.type = "Root" or (eventSource = "iam.amazonaws.com" and eventName not like /^(Get|List|Generate|Simulate)/)',
            '| sort @timestamp desc',
            '| limit 1000',
          ].join('\n'),
        },
        {
          Name: 'LogReviewTest/service/request-by-id',
          LogGroupNames: [service],
          QueryString: [
            'fields @timestamp, level, msg, method, route, statusCode, responseTimeMs, requestId',
            '| filter requestId = "REPLACE_WITH_REQUEST_ID"',
            '| sort @timestamp asc',
            '| limit 500',
          ].join('\n'),
        },
        {
          Name: 'LogReviewTest/service/top-decline-reasons',
          LogGroupNames: [service],
          QueryString: 'filter ispresent(DeclineCode)\n| stats sum(PaymentsDeclined) as declines by DeclineCode\n| sort declines desc',
        },
        {
          Name: 'LogReviewTest/waf/blocks-by-rule',
          LogGroupNames: [waf],
          QueryString: 'filter action = "BLOCK"\n| stats count(*) as blocks by terminatingRuleId, terminatingRuleType\n| sort blocks desc',
        },
        {
          Name: 'LogReviewTest/pipeline/build-failures',
          LogGroupNames: [build],
          QueryString: [
            'fields @timestamp, @logStream, @message',
            '| filter @message like /(?i)(error|failed|exit status [1-9])/',
            '| sort @timestamp desc',
            '| limit 500',
          ].join('\n'),
        },
      ]),
    );
    expect(queries).toHaveLength(6);
    expect(Object.keys(review.queries).sort()).toEqual(Object.keys(AUDIT_QUERIES).sort());
  });

  test('cdk-nag: no finding on the construct (AwsSolutions, PCI DSS 3.2.1, NIST 800-53 R5)', () => {
    for (const pack of compliancePacks()) {
      const findings = pack.validateScope(review).violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} at ${r.constructPath}`));
      expect(findings).toEqual([]);
    }
  });
});

describe('AuditLogReview without the optional log groups', () => {
  const { resources, ids } = build(false);

  test('only the two trail queries are saved, and the controls are all there', () => {
    const queries = Object.values(resources).filter((r) => r.Type === 'AWS::Logs::QueryDefinition');
    expect(queries.map((q) => q.Properties.Name).sort()).toEqual([
      'LogReviewTest/audit/deployment-timeline',
      'LogReviewTest/audit/root-and-iam-activity',
    ]);
    for (const q of queries) expect(q.Properties.LogGroupNames).toEqual([{ Ref: ids.trail }]);
    expect(Object.values(resources).filter((r) => r.Type === 'AWS::Logs::MetricFilter')).toHaveLength(AUDIT_LOG_CONTROLS.length);
  });
});

describe('AuditLogReview props', () => {
  test.each(['', '-Tap', 'Tap Stack', '${Token[TOKEN.1]}'])('refuses alarm name prefix %j (alarm names must be `<stack name>-*`)', (prefix) => {
    const stack = new Stack(new App(), 'S');
    const topic = new sns.Topic(stack, 'T');
    expect(
      () =>
        new AuditLogReview(stack, 'R', { logGroup: new logs.LogGroup(stack, 'L'), pageTopic: topic, noticeTopic: topic, alarmNamePrefix: prefix }),
    ).toThrow(/alarmNamePrefix/);
  });
});
