import * as registry from '../../lib/registry/image-repository';
import { BUILD_TAG_PREFIX, buildTag, DEPLOYED_TAG_PREFIX, deployedTag, ecrRepositoryUri, parseEcrImageUri } from '../../tools/common/ecr';

const DIGEST = `sha256:${'c'.repeat(64)}`;

describe('ECR tag names', () => {
  test('the tools use the same tag prefixes as the repository lifecycle rules (a drift would expire deployed images)', () => {
    expect(BUILD_TAG_PREFIX).toBe(registry.BUILD_TAG_PREFIX);
    expect(DEPLOYED_TAG_PREFIX).toBe(registry.DEPLOYED_TAG_PREFIX);
  });

  test('deployedTag is deployed-<env>-<UTC yyyymmddhhmmss>, whatever the local time zone', () => {
    expect(deployedTag('prod', new Date('2026-03-01T23:05:09.987+02:00'))).toBe('deployed-prod-20260301210509');
  });

  test('buildTag is sha-<commit>', () => {
    expect(buildTag('f'.repeat(40))).toBe(`sha-${'f'.repeat(40)}`);
  });
});

describe('parseEcrImageUri', () => {
  test.each([
    [`123456789012.dkr.ecr.eu-west-1.amazonaws.com/tap/payments@${DIGEST}`, '123456789012', 'eu-west-1', 'tap/payments'],
    [`123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com/payments@${DIGEST}`, '123456789012', 'us-gov-west-1', 'payments'],
    [`123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/a.b_c-d/e@${DIGEST}`, '123456789012', 'cn-north-1', 'a.b_c-d/e'],
  ])('parses %s', (uri, registryId, region, repository) => {
    expect(parseEcrImageUri(uri)).toEqual({ registryId, region, repository, digest: DIGEST });
  });

  test.each([
    ['a tag', '123456789012.dkr.ecr.eu-west-1.amazonaws.com/tap/payments:sha-abc'],
    ['a short account', `12345.dkr.ecr.eu-west-1.amazonaws.com/tap/payments@${DIGEST}`],
    ['ECR Public', `public.ecr.aws/tap/payments@${DIGEST}`],
    ['another registry', `ghcr.io/tap/payments@${DIGEST}`],
    ['an upper-case repository', `123456789012.dkr.ecr.eu-west-1.amazonaws.com/Tap@${DIGEST}`],
  ])('refuses %s', (_label, uri) => {
    expect(parseEcrImageUri(uri)).toBeUndefined();
  });

  test('ecrRepositoryUri builds the registry host back, with the .cn domain in China', () => {
    expect(ecrRepositoryUri('123456789012', 'eu-west-1', 'tap/payments')).toBe('123456789012.dkr.ecr.eu-west-1.amazonaws.com/tap/payments');
    expect(ecrRepositoryUri('123456789012', 'cn-north-1', 'tap')).toBe('123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/tap');
  });
});
