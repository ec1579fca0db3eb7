import * as fs from 'fs';
import {
  allowedDomainsOf,
  cidrsOverlap,
  CONNECTION_HEADROOM,
  ConfigError,
  connectionBudgetOf,
  EnvironmentConfig,
  imageParameterNameOf,
  loadAllConfigs,
  parseCidr,
  parseEnvironmentName,
  recoveryStackNameOf,
  repositoryNameOf,
  serverlessV2MaxConnections,
  validateAcrossEnvironments,
  validateEnvironmentConfig,
} from '../lib/config';
import { downstreamProblems, findExampleValues, preflightProblems } from '../lib/config/preflight';
import { shippedConfigs, writeConfigDir } from './config-fixtures';

type Mutable<T> = { -readonly [K in keyof T]: T[K] extends object ? Mutable<T[K]> : T[K] };

/** GIVEN the shipped config of `env`, WHEN `change` is applied, THEN validation runs on the result. */
function validateChanged(env: 'dev' | 'staging' | 'prod', change: (c: Mutable<EnvironmentConfig>) => void): EnvironmentConfig {
  const config = structuredClone(shippedConfigs()[env]) as Mutable<EnvironmentConfig>;
  change(config);
  return validateEnvironmentConfig(config, env, `config/${env}.json`);
}

describe('the shipped configuration', () => {
  test('every environment validates', () => {
    const all = loadAllConfigs();
    expect(Object.keys(all)).toEqual(['dev', 'staging', 'prod']);
  });
  test('it is clearly example data, so the preflight refuses it', () => {
    for (const c of Object.values(shippedConfigs())) expect(findExampleValues(c)).toContain(`account (${c.account})`);
  });
});

describe('environment names', () => {
  test.each(['dev', 'staging', 'prod'])('%s is accepted', (name) => expect(parseEnvironmentName(name)).toBe(name));
  test.each(['production', '', 'PROD ', 'Prod', undefined, 3])('%p is rejected with the list of allowed names', (name) => {
    expect(() => parseEnvironmentName(name)).toThrow(ConfigError);
    expect(() => parseEnvironmentName(name)).toThrow(`unknown environment ${JSON.stringify(name)}, allowed: dev, staging, prod`);
  });
});

describe('rejected values name the field and the bad value', () => {
  test.each(['dev', 'staging', 'prod'] as const)('%s without TLS', (env) => {
    expect(() => validateChanged(env, (c) => (c.tls = {}))).toThrow(
      new RegExp(`tls: ${env} must serve HTTPS like every environment: set tls.certificateArn and tls.domainName, .*got: \\{\\}`),
    );
  });
  test('a malformed certificate ARN', () => {
    expect(() => validateChanged('staging', (c) => (c.tls.certificateArn = 'arn:aws:acm:us-east-1:222222222222:cert/abc'))).toThrow(
      /tls.certificateArn: must be an ACM certificate ARN.*got: "arn:aws:acm:us-east-1:222222222222:cert\/abc"/,
    );
  });
  test('a certificate in another region', () => {
    const arn = 'arn:aws:acm:eu-west-1:222222222222:certificate/12345678-1234-1234-1234-123456789012';
    expect(() => validateChanged('staging', (c) => (c.tls.certificateArn = arn))).toThrow(
      new RegExp(`tls.certificateArn: must be in us-east-1.*got: "${arn}"`),
    );
  });
  test('no Node versions', () => {
    expect(() => validateChanged('dev', (c) => (c.pipeline.nodeVersions = []))).toThrow(
      /pipeline.nodeVersions: must list at least one Node.js version, got: \[\]/,
    );
  });
  test('a duplicated Node version', () => {
    expect(() => validateChanged('dev', (c) => (c.pipeline.nodeVersions = ['18.20.8', '18.20.8']))).toThrow(
      /pipeline.nodeVersions.1: duplicated Node.js version, got: "18.20.8"/,
    );
  });
  test('an unknown Node version', () => {
    expect(() => validateChanged('dev', (c) => (c.pipeline.nodeVersions = ['16.20.2', '14.21.3']))).toThrow(
      /pipeline.nodeVersions.1: unknown Node.js version, allowed: 16.20.2, 18.20.8, 20.20.2, got: "14.21.3"/,
    );
  });
  test('log retention under 365 days', () => {
    expect(() => validateChanged('dev', (c) => (c.logs.retentionDays = 90))).toThrow(/logs.retentionDays: must be one of 365, .*got: 90/);
  });
  test('prod with fewer than 2 tasks', () => {
    expect(() =>
      validateChanged('prod', (c) => {
        c.service.desiredCount = 1;
        c.service.minCapacity = 1;
      }),
    ).toThrow(/service.desiredCount: must be >= 2 in prod, got: 1/);
  });
  test('prod with fewer than 2 availability zones', () => {
    expect(() =>
      validateChanged('prod', (c) => {
        c.network.availabilityZones = ['us-east-1a'];
        c.network.natGateways = 1;
      }),
    ).toThrow(/network.availabilityZones: prod needs at least 2 availability zones, got: 1 \(\["us-east-1a"\]\)/);
  });
  test.each(['10.0.0.0/33', '10.0.0.300/16', '10.0.0.1/16', 'ten/16'])('an invalid CIDR %s', (cidr) => {
    expect(() => validateChanged('dev', (c) => (c.network.cidr = cidr))).toThrow(
      new RegExp(`network.cidr: .*got: "${cidr.replace(/[./]/g, '\\$&')}"`),
    );
  });
  test('overlapping CIDRs across environments', () => {
    const all = shippedConfigs();
    const staging = { ...all.staging, network: { ...all.staging.network, cidr: '10.10.128.0/20' } };
    expect(() => validateAcrossEnvironments([all.dev, staging, all.prod])).toThrow(
      /network.cidr: dev \(10.10.0.0\/16\) overlaps staging \(10.10.128.0\/20\)/,
    );
  });
  test('prod without an alarm recipient', () => {
    expect(() => validateChanged('prod', (c) => (c.alarms.emails = []))).toThrow(/alarms.emails: prod needs at least one alarm recipient, got: \[\]/);
  });
  test('prod with nobody to page', () => {
    expect(() => validateChanged('prod', (c) => (c.alarms.pageEmails = []))).toThrow(
      /alarms.pageEmails: prod needs at least one on-call to page, got: \[\]/,
    );
    // dev and staging may page nobody
    expect(validateChanged('staging', (c) => (c.alarms.pageEmails = [])).alarms.pageEmails).toEqual([]);
  });
  test('prod where a rollback does not page', () => {
    expect(() => validateChanged('prod', (c) => (c.monitoring.pageOnRollback = false))).toThrow(
      /monitoring.pageOnRollback: a rollback in prod must page, got: false/,
    );
    expect(validateChanged('dev', (c) => (c.monitoring.pageOnRollback = false)).monitoring.pageOnRollback).toBe(false);
  });
  test('prod whose synthetic check runs less often than every 5 minutes', () => {
    expect(() => validateChanged('prod', (c) => (c.monitoring.canaryRateMinutes = 6))).toThrow(
      /monitoring.canaryRateMinutes: prod checks its public URL at least every 5 minutes, got: 6/,
    );
    expect(validateChanged('prod', (c) => (c.monitoring.canaryRateMinutes = 5)).monitoring.canaryRateMinutes).toBe(5);
    expect(validateChanged('dev', (c) => (c.monitoring.canaryRateMinutes = 60)).monitoring.canaryRateMinutes).toBe(60);
  });
  test.each([
    [
      'tracing.sampleRatio',
      (c: Mutable<EnvironmentConfig>) => (c.monitoring.tracing.sampleRatio = 1.5),
      /monitoring.tracing.sampleRatio: .*got: 1.5/,
    ],
    [
      'tracing.sampleRatio',
      (c: Mutable<EnvironmentConfig>) => (c.monitoring.tracing.sampleRatio = -0.1),
      /monitoring.tracing.sampleRatio: .*got: -0.1/,
    ],
    ['canaryRateMinutes', (c: Mutable<EnvironmentConfig>) => (c.monitoring.canaryRateMinutes = 0), /monitoring.canaryRateMinutes: .*got: 0/],
    [
      'thresholds.declineRatePercent',
      (c: Mutable<EnvironmentConfig>) => (c.monitoring.thresholds.declineRatePercent = 101),
      /monitoring.thresholds.declineRatePercent: .*got: 101/,
    ],
    [
      'thresholds.authFailuresPer5Minutes',
      (c: Mutable<EnvironmentConfig>) => (c.monitoring.thresholds.authFailuresPer5Minutes = 0),
      /monitoring.thresholds.authFailuresPer5Minutes: .*got: 0/,
    ],
    [
      'pageEmails',
      (c: Mutable<EnvironmentConfig>) => (c.alarms.pageEmails = ['pager']),
      /alarms.pageEmails.0: must be an email address.*got: "pager"/,
    ],
  ])('monitoring: a bad %s is refused, naming the value', (_, change, message) => {
    expect(() => validateChanged('dev', change)).toThrow(message);
  });
  test.each(['logs', 'artifacts', 'keys'] as const)('prod that destroys %s on delete', (what) => {
    expect(() => validateChanged('prod', (c) => (c.removal[what] = 'destroy'))).toThrow(
      new RegExp(`removal.${what}: prod must retain ${what}.*got: "destroy"`),
    );
  });
  test('an unknown field is named, not ignored', () => {
    expect(() => validateChanged('dev', (c) => Object.assign(c.service, { desiredCont: 2 }))).toThrow(/service: unknown field\(s\) "desiredCont"/);
  });
  test('a file for the wrong environment', () => {
    const dev = shippedConfigs().dev;
    expect(() => validateEnvironmentConfig(dev, 'staging', 'config/staging.json')).toThrow(/envName: must be "staging" in this file, got: "dev"/);
  });
  test('every problem is reported at once', () => {
    try {
      validateChanged('prod', (c) => {
        c.alarms.emails = [];
        c.removal.keys = 'destroy';
      });
      throw new Error('expected a ConfigError');
    } catch (e) {
      expect((e as ConfigError).problems).toHaveLength(2);
    }
  });
});

describe('the service and deployment rules', () => {
  test('bake time shorter than the alarm window', () => {
    expect(() => validateChanged('dev', (c) => (c.deployment.bakeTimeMinutes = 1))).toThrow(
      /deployment.bakeTimeMinutes: must be at least the alarm window \(120 s.*got: 1 min/,
    );
  });
  test('stop timeout over 120 s', () => {
    expect(() => validateChanged('dev', (c) => (c.service.stopTimeoutSeconds = 121))).toThrow(/service.stopTimeoutSeconds: must be <= 120.*got: 121/);
  });
  test('stop timeout not above the drain deadline', () => {
    expect(() => validateChanged('dev', (c) => (c.service.stopTimeoutSeconds = 20))).toThrow(
      /service.stopTimeoutSeconds: must be above drainDeadlineSeconds \(20\).*got: 20/,
    );
  });
  test('deregistration delay over 3600 s', () => {
    expect(() => validateChanged('dev', (c) => (c.service.deregistrationDelaySeconds = 3601))).toThrow(
      /service.deregistrationDelaySeconds: must be <= 3600.*got: 3601/,
    );
  });
  test.each([443, 80])('test port equal to production port %d', (port) => {
    expect(() => validateChanged('dev', (c) => (c.deployment.testListenerPort = port))).toThrow(
      new RegExp(`deployment.testListenerPort: must differ from the production ports 80 and 443, got: ${port}`),
    );
  });
  test('desired count above max capacity', () => {
    expect(() => validateChanged('staging', (c) => (c.service.desiredCount = 5))).toThrow(
      /service.desiredCount: must be <= maxCapacity \(4\), got: 5/,
    );
  });
  test('an ALB idle timeout not below the app keep-alive', () => {
    expect(() => validateChanged('dev', (c) => (c.loadBalancer.idleTimeoutSeconds = 65))).toThrow(
      /loadBalancer.idleTimeoutSeconds: must be below the app's keep-alive \(65 s\).*got: 65/,
    );
  });
  test('a test listener open to the internet', () => {
    expect(() => validateChanged('dev', (c) => (c.deployment.testListenerAllowedCidrs = ['0.0.0.0/0']))).toThrow(
      /deployment.testListenerAllowedCidrs.0: the test listener must not be reachable from the internet.*got: "0.0.0.0\/0"/,
    );
  });
  test('canary without its step settings', () => {
    expect(() => validateChanged('staging', (c) => delete c.deployment.stepPercent)).toThrow(
      /deployment.stepPercent\/stepBakeTimeMinutes: required for CANARY/,
    );
  });
  test('an invalid Fargate size', () => {
    expect(() => validateChanged('dev', (c) => (c.service.memoryMiB = 4096))).toThrow(
      /service.memoryMiB: with cpu 256 must be one of 512, 1024, 2048, got: 4096/,
    );
  });
});

describe('loading files', () => {
  test('malformed JSON names the file', () => {
    const all = shippedConfigs();
    const dir = writeConfigDir({ dev: all.dev, staging: all.staging, prod: all.prod });
    fs.writeFileSync(`${dir}/prod.json`, '{ "envName": "prod", ');
    expect(() => loadAllConfigs(dir)).toThrow(/prod.json[\s\S]*not valid JSON/);
  });
  test('a missing file names the file', () => {
    const all = shippedConfigs();
    const dir = writeConfigDir({ dev: all.dev, staging: all.staging });
    expect(() => loadAllConfigs(dir)).toThrow(/prod.json[\s\S]*cannot read the file/);
  });
});

describe('the deploy preflight', () => {
  test('lists every example value', () => {
    const problems = preflightProblems(shippedConfigs().prod);
    expect(problems.join('\n')).toMatch(/account \(333333333333\) is an example value/);
    expect(problems.join('\n')).toMatch(/source.owner \(example-org\)/);
    expect(problems.join('\n')).toMatch(/tls.domainName \(pay.example.com\)/);
    expect(problems.join('\n')).toMatch(/alarms.emails.0 \(payments-oncall@example.com\)/);
  });
  test('passes a team config whose account matches the credentials', () => {
    const own: EnvironmentConfig = {
      ...shippedConfigs().staging,
      account: '444455556666',
      tls: {
        certificateArn: 'arn:aws:acm:us-east-1:444455556666:certificate/9f1c2d3e-4b5a-6c7d-8e9f-0a1b2c3d4e5f',
        domainName: 'pay.acme-payments.io',
      },
      alarms: { emails: ['oncall@payments.internal'], pageEmails: ['pager@payments.internal'] },
      source: {
        ...shippedConfigs().staging.source,
        owner: 'acme-payments',
        connectionArn: 'arn:aws:codeconnections:us-east-1:444455556666:connection/9f1c2d3e-4b5a-6c7d-8e9f-0a1b2c3d4e5f',
      },
    };
    expect(preflightProblems(own, '444455556666')).toEqual([]);
    expect(preflightProblems(own, '999999999999')).toEqual([
      'account: config/staging.json is for 444455556666 but the credentials are for 999999999999',
    ]);
  });
});

describe('the deploy preflight of the account order (dev, then staging, then prod)', () => {
  test("refuses dev while staging's account, which dev's repository lets pull, is still an example", () => {
    const all = shippedConfigs();
    expect(downstreamProblems(all.dev, all.staging)).toEqual([
      "account of staging (222222222222) is an example value: dev's image repository grants that account pulls; set it in config/staging.json before deploying dev",
    ]);
  });
  test("passes once the downstream account is the team's own; prod promotes to nobody", () => {
    const all = shippedConfigs();
    expect(downstreamProblems(all.staging, { ...all.prod, account: '444455556666' })).toEqual([]);
    expect(downstreamProblems(all.prod, undefined)).toEqual([]);
  });
});

describe('TLS combinations: every one that would not give an HTTPS listener is refused', () => {
  test('no tls object at all', () => {
    expect(() => validateChanged('dev', (c) => delete (c as Partial<typeof c>).tls)).toThrow(
      /tls: required: every environment serves HTTPS \(certificateArn \+ domainName, or domainName \+ hostedZoneId \+ hostedZoneName\), got: \(missing\)/,
    );
  });
  test('only a hosted zone, no domain name and no certificate', () => {
    expect(() => validateChanged('dev', (c) => delete c.tls.domainName)).toThrow(
      /tls: dev must serve HTTPS .*got: \{"hostedZoneId":"Z11111111EXAMPLE","hostedZoneName":"dev.example.com"\}/,
    );
  });
  test('an imported certificate needs the domain name it covers', () => {
    expect(() => validateChanged('staging', (c) => delete c.tls.domainName)).toThrow(/tls.domainName: required with certificateArn/);
  });
  test('an imported certificate of another account', () => {
    const arn = 'arn:aws:acm:us-east-1:111111111111:certificate/00000000-0000-0000-0000-000000000000';
    expect(() => validateChanged('staging', (c) => (c.tls.certificateArn = arn))).toThrow(
      `tls.certificateArn: must be a certificate of this environment's account 222222222222, got: "${arn}"`,
    );
  });
  test('an imported certificate together with a hosted zone (the stack would silently create no record)', () => {
    expect(() =>
      validateChanged('staging', (c) => {
        c.tls.hostedZoneId = 'Z22222222EXAMPLE';
        c.tls.hostedZoneName = 'example.com';
      }),
    ).toThrow(/tls.hostedZoneId\/hostedZoneName: only for a certificate the stack creates.*got: "Z22222222EXAMPLE" \/ "example.com"/);
  });
  test('a domain without a certificate needs its hosted zone', () => {
    expect(() => validateChanged('prod', (c) => delete c.tls.hostedZoneId)).toThrow(
      /tls.hostedZoneId\/hostedZoneName: required to create and DNS-validate a certificate for "pay.example.com".*got: \(missing\) \/ "example.com"/,
    );
  });
  test('a domain outside its hosted zone', () => {
    expect(() => validateChanged('prod', (c) => (c.tls.domainName = 'pay.example.org'))).toThrow(
      /tls.domainName: must be inside hosted zone "example.com", got: "pay.example.org"/,
    );
  });
  test('a domain name that is not a lower-case DNS name', () => {
    expect(() => validateChanged('dev', (c) => (c.tls.domainName = 'Pay.Dev.example.com'))).toThrow(
      /tls.domainName: must be a lower-case DNS name like pay.example.org, got: "Pay.Dev.example.com"/,
    );
  });
  test('a malformed hosted zone id', () => {
    expect(() => validateChanged('dev', (c) => (c.tls.hostedZoneId = '/hostedzone/Z11111111EXAMPLE'))).toThrow(
      /tls.hostedZoneId: must be a Route 53 hosted zone id like Z0123456789ABCDEFGHIJ, got: "\/hostedzone\/Z11111111EXAMPLE"/,
    );
  });
  test('the shipped dev config creates and DNS-validates its own certificate', () => {
    expect(shippedConfigs().dev.tls).toEqual({
      domainName: 'pay.dev.example.com',
      hostedZoneId: 'Z11111111EXAMPLE',
      hostedZoneName: 'dev.example.com',
    });
  });
  test('the preflight refuses the shipped example TLS values of every environment', () => {
    const all = shippedConfigs();
    expect(findExampleValues(all.dev)).toEqual(
      expect.arrayContaining(['tls.domainName (pay.dev.example.com)', 'tls.hostedZoneId (Z11111111EXAMPLE)']),
    );
    expect(findExampleValues(all.staging)).toEqual(
      expect.arrayContaining(['tls.certificateArn (all-zero id)', 'tls.domainName (staging.pay.example.com)']),
    );
    expect(findExampleValues(all.prod)).toEqual(expect.arrayContaining(['tls.domainName (pay.example.com)', 'tls.hostedZoneId (Z00000000EXAMPLE)']));
  });
});

describe('the database section', () => {
  test('the shipped values: dev may pause (0 ACU), prod has a reader, deletion protection and keeps the cluster', () => {
    const { dev, prod } = shippedConfigs();
    expect(dev.database.minCapacityAcu).toBe(0);
    expect(prod.database).toMatchObject({ deletionProtection: true, removal: 'retain' });
    expect(prod.database.readers).toBeGreaterThanOrEqual(1);
    expect(prod.database.minCapacityAcu).toBeGreaterThan(0);
  });

  type Change = (c: Mutable<EnvironmentConfig>) => void;
  const cases: [string, 'dev' | 'prod', Change, RegExp][] = [
    [
      'prod that pauses at 0 ACU',
      'prod',
      (c) => void (c.database.minCapacityAcu = 0),
      /database.minCapacityAcu: prod must not pause \(0 ACU\).*got: 0/,
    ],
    ['prod without a reader', 'prod', (c) => void (c.database.readers = 0), /database.readers: prod needs at least 1 reader to fail over to, got: 0/],
    [
      'prod without deletion protection',
      'prod',
      (c) => void (c.database.deletionProtection = false),
      /database.deletionProtection: must be true in prod, got: false/,
    ],
    [
      'prod that snapshots and deletes',
      'prod',
      (c) => void (c.database.removal = 'snapshot'),
      /database.removal: prod must retain the cluster on stack deletion, got: "snapshot"/,
    ],
    [
      'prod with a day of backups',
      'prod',
      (c) => void (c.database.backupRetentionDays = 1),
      /database.backupRetentionDays: prod keeps at least 7 days of backups, got: 1/,
    ],
    [
      'a minimum above the maximum',
      'dev',
      (c) => void (c.database.minCapacityAcu = 8),
      /database.minCapacityAcu: must be <= maxCapacityAcu \(4\), got: 8/,
    ],
    [
      'a capacity off the half-ACU grid',
      'dev',
      (c) => void (c.database.maxCapacityAcu = 4.25),
      /database.maxCapacityAcu: must be a multiple of 0.5 ACU, got: 4.25/,
    ],
    ['a maximum below 1 ACU', 'dev', (c) => void (c.database.maxCapacityAcu = 0.5), /database.maxCapacityAcu: must be >= 1 ACU, got: 0.5/],
    [
      'backups kept 36 days',
      'dev',
      (c) => void (c.database.backupRetentionDays = 36),
      /database.backupRetentionDays: must be 1-35 \(Aurora automated backups\), got: 36/,
    ],
    ['rotation every 91 days', 'dev', (c) => void (c.database.rotationDays = 91), /database.rotationDays: must be <= 90 \(PCI DSS 8.2.4.*got: 91/],
    [
      'a malformed backup window',
      'dev',
      (c) => void (c.database.backupWindow = '3:00-3:30'),
      /database.backupWindow: must be a UTC window like 03:00-03:30, got: "3:00-3:30"/,
    ],
    [
      'a 20-minute backup window',
      'dev',
      (c) => void (c.database.backupWindow = '03:00-03:20'),
      /database.backupWindow: must last at least 30 minutes, got: "03:00-03:20"/,
    ],
    [
      'a malformed maintenance window',
      'dev',
      (c) => void (c.database.maintenanceWindow = 'sunday:04:00-sunday:04:30'),
      /database.maintenanceWindow: must be a UTC window like sun:04:00-sun:04:30.*got: "sunday:04:00-sunday:04:30"/,
    ],
    [
      'a maintenance window inside the backup window',
      'dev',
      (c) => void (c.database.maintenanceWindow = 'wed:03:15-wed:03:45'),
      /database.maintenanceWindow: must not overlap the daily backup window "03:00-03:30", got: "wed:03:15-wed:03:45"/,
    ],
    [
      'a backup window across midnight that overlaps maintenance on the next day',
      'dev',
      (c) => {
        c.database.backupWindow = '23:45-00:15';
        c.database.maintenanceWindow = 'mon:00:00-mon:00:30';
      },
      /database.maintenanceWindow: must not overlap the daily backup window "23:45-00:15", got: "mon:00:00-mon:00:30"/,
    ],
    ['an unknown field', 'dev', (c) => void Object.assign(c.database, { multiAz: true }), /database: unknown field\(s\) "multiAz"/],
  ];
  test.each(cases)('%s', (_name, env, change, message) => {
    expect(() => validateChanged(env, change)).toThrow(message);
  });

  test('windows that only touch (backup ends when maintenance starts) are accepted', () => {
    expect(() => validateChanged('dev', (c) => (c.database.maintenanceWindow = 'sun:03:30-sun:04:00'))).not.toThrow();
  });
});

describe('the connection budget against Aurora Serverless v2 max_connections (docs/aws-contracts.md, "Database")', () => {
  test("AWS's table, the smaller row between two, and the 2,000 cap below 1 ACU", () => {
    expect(serverlessV2MaxConnections(1, 1)).toBe(189);
    expect(serverlessV2MaxConnections(0.5, 1)).toBe(189);
    expect(serverlessV2MaxConnections(1, 2)).toBe(189);
    expect(serverlessV2MaxConnections(0, 4)).toBe(823);
    expect(serverlessV2MaxConnections(0.5, 8)).toBe(1669);
    expect(serverlessV2MaxConnections(1, 16)).toBe(3360);
    expect(serverlessV2MaxConnections(0.5, 16)).toBe(2000);
    expect(serverlessV2MaxConnections(0, 64)).toBe(2000);
    expect(serverlessV2MaxConnections(2, 32)).toBe(5000);
    expect(serverlessV2MaxConnections(2, 256)).toBe(5000);
  });
  test('counts blue and green: maxCapacity x 2 x poolMaxPerTask, plus migration, rotation and reserved slots', () => {
    const { prod } = shippedConfigs();
    expect(CONNECTION_HEADROOM).toEqual({ migration: 2, rotation: 4, superuserReserved: 3 });
    expect(connectionBudgetOf(prod)).toEqual({
      servicePools: prod.service.maxCapacity * 2 * prod.database.poolMaxPerTask,
      headroom: 9,
      total: prod.service.maxCapacity * 2 * prod.database.poolMaxPerTask + 9,
      maxConnections: 3360,
    });
  });
  test('the shipped environments fit under the rows a second AWS source confirms (189 at 1 ACU, the 2,000 cap)', () => {
    const { dev, staging, prod } = shippedConfigs();
    for (const c of [dev, staging]) expect(connectionBudgetOf(c).total).toBeLessThan(189);
    expect(connectionBudgetOf(prod).total).toBeLessThan(2000);
  });
  test('a pool that would exhaust the connections of the configured maximum ACU is refused, naming the numbers', () => {
    // GIVEN dev at 1 ACU (189 connections) and 2 tasks: 2 x 2 x 46 + 9 = 193
    expect(() =>
      validateChanged('dev', (c) => {
        c.database.maxCapacityAcu = 1;
        c.database.poolMaxPerTask = 46;
      }),
    ).toThrow(
      /database.poolMaxPerTask: service.maxCapacity \(2\) x 2 \(blue and green during a deployment\) x poolMaxPerTask \+ 9 \(migration, rotation, reserved\) = 193 must stay below the 189 connections Aurora allows with 0-1 ACU; lower poolMaxPerTask or raise maxCapacityAcu, got: 46/,
    );
    // AND 44 per task fits: 2 x 2 x 44 + 9 = 185 (45 makes 189, not below the limit)
    expect(() =>
      validateChanged('dev', (c) => {
        c.database.maxCapacityAcu = 1;
        c.database.poolMaxPerTask = 44;
      }),
    ).not.toThrow();
  });
});

/**
 * Every rule only prod has, one row each: prod with the value is refused with a message naming the field and the
 * value; prod at the boundary is accepted (where the rule has one); and staging with the very same change is accepted,
 * so a rule that started applying to every environment (or to none) fails here.
 */
describe('the prod-only rules, each refused in prod and accepted in staging', () => {
  type Change = (c: Mutable<EnvironmentConfig>) => void;
  const rules: ReadonlyArray<[string, Change, RegExp, Change | undefined]> = [
    [
      'one availability zone',
      (c) => {
        c.network.availabilityZones = ['us-east-1a'];
        c.network.natGateways = 1;
      },
      /network\.availabilityZones: prod needs at least 2 availability zones, got: 1 \(\["us-east-1a"\]\)/,
      (c) => {
        c.network.availabilityZones = ['us-east-1a', 'us-east-1b'];
        c.network.natGateways = 2;
      },
    ],
    [
      'fewer NAT gateways than availability zones',
      (c) => (c.network.natGateways = 1),
      /network\.natGateways: prod needs one NAT gateway per availability zone \(3\), got: 1/,
      undefined,
    ],
    [
      'one task',
      (c) => {
        c.service.desiredCount = 1;
        c.service.minCapacity = 1;
      },
      /service\.desiredCount: must be >= 2 in prod, got: 1/,
      (c) => {
        c.service.desiredCount = 2;
        c.service.minCapacity = 2;
      },
    ],
    ['a minimum of one task', (c) => (c.service.minCapacity = 1), /service\.minCapacity: must be >= 2 in prod, got: 1/, undefined],
    [
      'a load balancer without deletion protection',
      (c) => (c.loadBalancer.deletionProtection = false),
      /loadBalancer\.deletionProtection: must be true in prod, got: false/,
      undefined,
    ],
    ['no alarm recipient', (c) => (c.alarms.emails = []), /alarms\.emails: prod needs at least one alarm recipient, got: \[\]/, undefined],
    ['nobody to page', (c) => (c.alarms.pageEmails = []), /alarms\.pageEmails: prod needs at least one on-call to page, got: \[\]/, undefined],
    [
      'a rollback that does not page',
      (c) => (c.monitoring.pageOnRollback = false),
      /monitoring\.pageOnRollback: a rollback in prod must page, got: false/,
      undefined,
    ],
    [
      'a synthetic check every 6 minutes',
      (c) => (c.monitoring.canaryRateMinutes = 6),
      /monitoring\.canaryRateMinutes: prod checks its public URL at least every 5 minutes, got: 6/,
      (c) => (c.monitoring.canaryRateMinutes = 5),
    ],
    [
      'logs destroyed on delete',
      (c) => (c.removal.logs = 'destroy'),
      /removal\.logs: prod must retain logs on stack deletion \(PCI DSS 10\.7\), got: "destroy"/,
      undefined,
    ],
    [
      'artifacts destroyed on delete',
      (c) => (c.removal.artifacts = 'destroy'),
      /removal\.artifacts: prod must retain artifacts on stack deletion \(PCI DSS 10\.7\), got: "destroy"/,
      undefined,
    ],
    [
      'keys destroyed on delete',
      (c) => (c.removal.keys = 'destroy'),
      /removal\.keys: prod must retain keys on stack deletion \(PCI DSS 10\.7\), got: "destroy"/,
      undefined,
    ],
    [
      'no manual approval',
      (c) => (c.pipeline.approvalRequired = false),
      /pipeline\.approvalRequired: prod deploys need a manual approval, got: false/,
      undefined,
    ],
    [
      'second-region copies kept 34 days',
      (c) => (c.recovery.copyRetentionDays = 34),
      /recovery\.copyRetentionDays: prod keeps its second-region copies at least 35 days, got: 34/,
      (c) => (c.recovery.copyRetentionDays = 35),
    ],
    [
      'a database copy once a day',
      (c) => (c.recovery.backupEveryHours = 24),
      /recovery\.backupEveryHours: prod copies the database to the second region at least twice a day, got: 24/,
      (c) => (c.recovery.backupEveryHours = 12),
    ],
    [
      'a database that pauses',
      (c) => (c.database.minCapacityAcu = 0),
      /database\.minCapacityAcu: prod must not pause \(0 ACU\).*got: 0/,
      (c) => (c.database.minCapacityAcu = 0.5),
    ],
    [
      'no database reader',
      (c) => (c.database.readers = 0),
      /database\.readers: prod needs at least 1 reader to fail over to, got: 0/,
      (c) => (c.database.readers = 1),
    ],
    [
      'a database without deletion protection',
      (c) => (c.database.deletionProtection = false),
      /database\.deletionProtection: must be true in prod, got: false/,
      undefined,
    ],
    [
      'a database only snapshotted on delete',
      (c) => (c.database.removal = 'snapshot'),
      /database\.removal: prod must retain the cluster on stack deletion, got: "snapshot"/,
      undefined,
    ],
    [
      '6 days of database backups',
      (c) => (c.database.backupRetentionDays = 6),
      /database\.backupRetentionDays: prod keeps at least 7 days of backups, got: 6/,
      (c) => (c.database.backupRetentionDays = 7),
    ],
    [
      'a DNS Firewall that only alerts',
      (c) => (c.egress.dnsFirewallMode = 'alert'),
      /egress\.dnsFirewallMode: prod blocks every name not allowed \(PCI DSS 1\.3\.2\), got: "alert"/,
      undefined,
    ],
    [
      'a DNS Firewall that fails open',
      (c) => (c.egress.dnsFirewallFailOpen = true),
      /egress\.dnsFirewallFailOpen: prod fails closed .*got: true/,
      undefined,
    ],
  ];

  test.each(rules)('prod with %s is refused, naming the value', (_name, change, message) => {
    let error: unknown;
    try {
      validateChanged('prod', change);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems.filter((p) => message.test(p))).toHaveLength(1);
  });

  test.each(rules.filter((r) => r[3] !== undefined))('prod at the boundary of %s is accepted', (_name, _change, _message, boundary) => {
    expect(() => validateChanged('prod', boundary!)).not.toThrow();
  });

  test.each(rules)('staging with %s is accepted', (_name, change) => {
    expect(() => validateChanged('staging', change)).not.toThrow();
  });
});

/**
 * The rules every environment has, each at its boundary: the first value refused (named in the message) and the last
 * one accepted, so a rule that is off by one, inverted or gone fails here.
 */
describe('every rule at its boundary', () => {
  type Change = (c: Mutable<EnvironmentConfig>) => void;
  const refusedOnly = (env: 'dev' | 'staging' | 'prod', change: Change, message: RegExp) => {
    let error: unknown;
    try {
      validateChanged(env, change);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems.filter((p) => message.test(p))).toHaveLength(1);
  };
  const accepted = (env: 'dev' | 'staging' | 'prod', change: Change) => expect(() => validateChanged(env, change)).not.toThrow();

  const cases: ReadonlyArray<[string, 'dev' | 'staging' | 'prod', Change, RegExp, Change]> = [
    [
      'an availability zone of another region',
      'dev',
      (c) => (c.network.availabilityZones = ['us-east-1a', 'us-west-2b']),
      /network\.availabilityZones\.1: must be an availability zone of us-east-1, got: "us-west-2b"/,
      (c) => (c.network.availabilityZones = ['us-east-1a', 'us-east-1c']),
    ],
    [
      'a connection in another region',
      'dev',
      (c) => (c.source.connectionArn = c.source.connectionArn.replace(':us-east-1:', ':us-west-2:')),
      /source\.connectionArn: must be a connection in us-east-1, where the pipeline is, got: "arn:aws:codeconnections:us-west-2:/,
      () => undefined,
    ],
    [
      'a snapshot in another region',
      'dev',
      (c) => (c.database.restoreFromSnapshot = 'arn:aws:rds:us-west-2:111111111111:cluster-snapshot:tap-copy'),
      /database\.restoreFromSnapshot: must be a snapshot in us-east-1 .*got: "arn:aws:rds:us-west-2:111111111111:cluster-snapshot:tap-copy"/,
      (c) => (c.database.restoreFromSnapshot = 'arn:aws:rds:us-east-1:111111111111:cluster-snapshot:tap-copy'),
    ],
    [
      'a snapshot of another account',
      'dev',
      (c) => (c.database.restoreFromSnapshot = 'arn:aws:rds:us-east-1:999999999999:cluster-snapshot:tap-copy'),
      /database\.restoreFromSnapshot: must be a snapshot of account 111111111111, got: "arn:aws:rds:us-east-1:999999999999:/,
      (c) => (c.database.restoreFromSnapshot = 'arn:aws:rds:us-east-1:111111111111:cluster-snapshot:tap-copy'),
    ],
    [
      'the recovery region equal to the region',
      'dev',
      (c) => (c.recovery.region = 'us-east-1'),
      /recovery\.region: must differ from the environment's region us-east-1: .*got: "us-east-1"/,
      () => undefined,
    ],
    [
      'more NAT gateways than availability zones',
      'dev',
      (c) => (c.network.natGateways = 3),
      /network\.natGateways: must be <= the number of availability zones \(2\), got: 3/,
      (c) => (c.network.natGateways = 2),
    ],
    [
      'a minimum above the maximum',
      'dev',
      (c) => {
        c.service.minCapacity = 3;
        c.service.desiredCount = 3;
        c.service.maxCapacity = 2;
      },
      /service\.minCapacity: must be <= maxCapacity \(2\), got: 3/,
      (c) => {
        c.service.minCapacity = 2;
        c.service.desiredCount = 2;
        c.service.maxCapacity = 2;
      },
    ],
    [
      'fewer tasks than the minimum',
      'dev',
      (c) => {
        c.service.minCapacity = 2;
        c.service.desiredCount = 1;
      },
      /service\.desiredCount: must be >= minCapacity \(2\), got: 1/,
      (c) => {
        c.service.minCapacity = 2;
        c.service.desiredCount = 2;
      },
    ],
    [
      'a deregistration delay below the drain deadline',
      'dev',
      (c) => (c.service.deregistrationDelaySeconds = 19),
      /service\.deregistrationDelaySeconds: must be >= drainDeadlineSeconds \(20\) .*got: 19/,
      (c) => (c.service.deregistrationDelaySeconds = 20),
    ],
    [
      'a bake time one period short of the alarm window',
      'dev',
      (c) => (c.deployment.alarmEvaluationPeriods = 4),
      /deployment\.bakeTimeMinutes: must be at least the alarm window \(240 s = alarmPeriodSeconds x alarmEvaluationPeriods\) .*got: 3 min/,
      (c) => (c.deployment.alarmEvaluationPeriods = 3),
    ],
    [
      'step settings with BLUE_GREEN',
      'dev',
      (c) => (c.deployment.stepBakeTimeMinutes = 5),
      /deployment\.stepPercent\/stepBakeTimeMinutes: only for CANARY or LINEAR, got strategy "BLUE_GREEN" with \(missing\) \/ 5/,
      () => undefined,
    ],
    [
      'LINEAR in steps of 2 %',
      'dev',
      (c) => Object.assign(c.deployment, { strategy: 'LINEAR', stepPercent: 2, stepBakeTimeMinutes: 3 }),
      /deployment\.stepPercent: LINEAR needs 3-100, got: 2/,
      (c) => Object.assign(c.deployment, { strategy: 'LINEAR', stepPercent: 3, stepBakeTimeMinutes: 3 }),
    ],
    [
      'a step bake time shorter than the alarm window',
      'dev',
      (c) => Object.assign(c.deployment, { strategy: 'CANARY', stepPercent: 10, stepBakeTimeMinutes: 1 }),
      /deployment\.stepBakeTimeMinutes: must be at least the alarm window \(120 s\), got: 1 min/,
      (c) => Object.assign(c.deployment, { strategy: 'CANARY', stepPercent: 2, stepBakeTimeMinutes: 2 }),
    ],
    [
      'a test listener on the container port',
      'dev',
      (c) => (c.deployment.testListenerPort = 8080),
      /deployment\.testListenerPort: must differ from service\.containerPort, got: 8080/,
      (c) => (c.deployment.testListenerPort = 8081),
    ],
    [
      'a test listener open to a /15',
      'dev',
      (c) => (c.deployment.testListenerAllowedCidrs = ['10.0.0.0/15']),
      /deployment\.testListenerAllowedCidrs\.0: the test listener must not be reachable from the internet, use a \/16 or narrower, got: "10\.0\.0\.0\/15"/,
      (c) => (c.deployment.testListenerAllowedCidrs = ['10.0.0.0/16']),
    ],
    [
      'a maintenance window of 29 minutes',
      'dev',
      (c) => (c.database.maintenanceWindow = 'sun:04:00-sun:04:29'),
      /database\.maintenanceWindow: must last at least 30 minutes, got: "sun:04:00-sun:04:29"/,
      (c) => (c.database.maintenanceWindow = 'sun:04:00-sun:04:30'),
    ],
    [
      'a VPC of /15',
      'dev',
      (c) => (c.network.cidr = '10.10.0.0/15'),
      /network\.cidr: VPC prefix must be between \/16 and \/24 to fit two subnet tiers, got: "10\.10\.0\.0\/15"/,
      (c) => (c.network.cidr = '10.10.0.0/24'),
    ],
    [
      'a VPC of /25',
      'dev',
      (c) => (c.network.cidr = '10.10.0.0/25'),
      /network\.cidr: VPC prefix must be between \/16 and \/24 to fit two subnet tiers, got: "10\.10\.0\.0\/25"/,
      (c) => (c.network.cidr = '10.10.0.0/16'),
    ],
    [
      'an availability zone twice',
      'dev',
      (c) => (c.network.availabilityZones = ['us-east-1a', 'us-east-1a']),
      /network\.availabilityZones: must not repeat an availability zone, got: \["us-east-1a","us-east-1a"\]/,
      () => undefined,
    ],
    [
      'an allowed domain twice',
      'dev',
      (c) => (c.egress.allowedDomains = ['github.com', 'pypi.org', 'github.com']),
      /egress\.allowedDomains\.2: duplicated name, got: "github\.com"/,
      (c) => (c.egress.allowedDomains = ['github.com', 'pypi.org']),
    ],
    [
      'a certificate together with only a hosted zone name',
      'dev',
      (c) => {
        c.tls = {
          certificateArn: 'arn:aws:acm:us-east-1:111111111111:certificate/12345678-1234-1234-1234-123456789012',
          domainName: 'pay.dev.example.com',
          hostedZoneName: 'dev.example.com',
        };
      },
      /tls\.hostedZoneId\/hostedZoneName: only for a certificate the stack creates/,
      (c) => {
        c.tls = {
          certificateArn: 'arn:aws:acm:us-east-1:111111111111:certificate/12345678-1234-1234-1234-123456789012',
          domainName: 'pay.dev.example.com',
        };
      },
    ],
  ];

  test.each(cases)('%s is refused in %s, naming the value; the boundary is accepted', (_name, env, change, message, boundary) => {
    refusedOnly(env, change, message);
    accepted(env, boundary);
  });

  test('the whole message: the source, then one line per problem; the error is a ConfigError', () => {
    let error: unknown;
    try {
      validateChanged('dev', (c) => {
        c.network.natGateways = 3;
        c.deployment.testListenerPort = 8080;
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).name).toBe('ConfigError');
    expect((error as ConfigError).source).toBe('config/dev.json');
    expect((error as ConfigError).message).toBe(
      'Invalid configuration in config/dev.json:\n' +
        '  - network.natGateways: must be <= the number of availability zones (2), got: 3\n' +
        '  - deployment.testListenerPort: must differ from service.containerPort, got: 8080',
    );
  });

  test('an unknown field at the top level is named without a path; inside a section, with it', () => {
    const raw = { ...structuredClone(shippedConfigs().dev), extra: 1 };
    expect(() => validateEnvironmentConfig(raw, 'dev', 'x.json')).toThrow(/\n {2}- unknown field\(s\) "extra"$/);
    const nested = structuredClone(shippedConfigs().dev) as unknown as { network: Record<string, unknown> };
    nested.network.extra = 1;
    expect(() => validateEnvironmentConfig(nested, 'dev', 'x.json')).toThrow(/\n {2}- network: unknown field\(s\) "extra"$/);
  });

  test('overlap across environments is reported as config/*.json', () => {
    const all = shippedConfigs();
    let error: unknown;
    try {
      validateAcrossEnvironments([all.dev, { ...all.staging, network: { ...all.staging.network, cidr: all.dev.network.cidr } }]);
    } catch (e) {
      error = e;
    }
    expect((error as ConfigError).source).toBe('config/*.json');
  });

  test('parseCidr: the network number and prefix; anything else is not a CIDR', () => {
    expect(parseCidr('10.1.2.0/24')).toEqual({ network: ((10 * 256 + 1) * 256 + 2) * 256, prefix: 24 });
    expect(parseCidr('255.255.255.255/32')).toEqual({ network: 2 ** 32 - 1, prefix: 32 });
    expect(parseCidr('0.0.0.0/0')).toEqual({ network: 0, prefix: 0 });
    for (const bad of ['256.0.0.0/8', '10.0.0.0/33', 'x10.0.0.0/16', '10.0.0.0/16x', '10.0.0.1000/16', '10.0.0/16', '10.0.0.1/16']) {
      expect({ bad, parsed: parseCidr(bad) }).toEqual({ bad, parsed: undefined });
    }
  });

  test('cidrsOverlap: nested and partial ranges overlap; adjacent ones do not; an invalid one overlaps nothing', () => {
    expect(cidrsOverlap('10.0.0.0/16', '10.0.128.0/17')).toBe(true);
    expect(cidrsOverlap('10.0.128.0/17', '10.0.0.0/16')).toBe(true);
    expect(cidrsOverlap('10.0.0.0/16', '10.1.0.0/16')).toBe(false);
    expect(cidrsOverlap('10.1.0.0/16', '10.0.0.0/16')).toBe(false);
    expect(cidrsOverlap('10.0.0.0/15', '10.1.255.0/24')).toBe(true);
    expect(cidrsOverlap('10.0.0.0/16', 'nonsense')).toBe(false);
  });

  test('the names other tools derive from an environment', () => {
    expect(imageParameterNameOf('staging')).toBe('/tap/staging/app/image-uri');
    expect(repositoryNameOf('prod')).toBe('tap/prod/payment-service');
    expect(recoveryStackNameOf('dev')).toBe('TapStack-dev-recovery');
  });

  test('the DNS names a VPC may resolve: the configured ones, the service domain and the recovery region CloudFormation, once each', () => {
    const dev = shippedConfigs().dev;
    expect(allowedDomainsOf({ ...dev, egress: { ...dev.egress, allowedDomains: ['github.com', 'pay.dev.example.com'] } })).toEqual([
      'github.com',
      'pay.dev.example.com',
      'cloudformation.us-west-2.amazonaws.com',
    ]);
    expect(
      allowedDomainsOf({
        ...dev,
        tls: { certificateArn: 'arn:aws:acm:us-east-1:111111111111:certificate/12345678-1234-1234-1234-123456789012' },
        egress: { ...dev.egress, allowedDomains: [] },
      }),
    ).toEqual(['cloudformation.us-west-2.amazonaws.com']);
  });

  test('an unknown environment name on the command line is reported as -c env', () => {
    let error: unknown;
    try {
      parseEnvironmentName('qa');
    } catch (e) {
      error = e;
    }
    expect((error as ConfigError).source).toBe('-c env');
  });

  test('the preflight names the all-zero connection id and the example hosted zone id', () => {
    const found = findExampleValues(shippedConfigs().dev);
    expect(found).toContain('source.connectionArn (all-zero id)');
    expect(found).toContain('tls.hostedZoneId (Z11111111EXAMPLE)');
  });
});

test('a CPU size Fargate does not offer is refused, naming the sizes it offers', () => {
  expect(() => validateChanged('dev', (c) => (c.service.cpu = 300))).toThrow(
    /service\.cpu: must be one of 256, 512, 1024, 2048, 4096(, \d+)*, got: 300/,
  );
});
