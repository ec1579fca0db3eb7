import { GetParameterCommand, ParameterAlreadyExists, ParameterNotFound, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import * as fs from 'fs';
import * as path from 'path';
import { ensureImageParameter, imageParameterName } from '../../tools/seed-image/seed-image';
import { main } from '../../tools/seed-image/cli';
import { inputs } from './mock-inputs';

const ssmMock = mockClient(SSMClient);
const NAME = '/tap/dev/app/image-uri';
const PLACEHOLDER = `123456789012.dkr.ecr.eu-west-1.amazonaws.com/tap/placeholder@sha256:${'c'.repeat(64)}`;
const notFound = (): ParameterNotFound => new ParameterNotFound({ message: 'not found', $metadata: { httpStatusCode: 400 } });
const fastRetry = { sleep: async (): Promise<void> => undefined };

beforeEach(() => ssmMock.reset());

describe('ensureImageParameter', () => {
  test('GIVEN no parameter THEN creates it with the placeholder, without overwrite', async () => {
    ssmMock.on(GetParameterCommand).rejects(notFound());
    ssmMock.on(PutParameterCommand).resolves({ Version: 1 });

    await expect(ensureImageParameter({ name: NAME, placeholder: PLACEHOLDER }, { ssm: new SSMClient({}), retry: fastRetry })).resolves.toBe(
      'created',
    );
    expect(inputs(ssmMock, PutParameterCommand)).toEqual([{ Name: NAME, Value: PLACEHOLDER, Type: 'String', Overwrite: false }]);
  });

  test('GIVEN the parameter exists THEN never writes it', async () => {
    ssmMock.on(GetParameterCommand).resolves({ Parameter: { Name: NAME, Value: 'the-deployed-image' } });

    await expect(ensureImageParameter({ name: NAME, placeholder: PLACEHOLDER }, { ssm: new SSMClient({}), retry: fastRetry })).resolves.toBe(
      'exists',
    );
    expect(ssmMock.commandCalls(PutParameterCommand)).toHaveLength(0);
  });

  test('GIVEN a deploy writes it between read and write THEN reports exists', async () => {
    ssmMock.on(GetParameterCommand).rejects(notFound());
    ssmMock.on(PutParameterCommand).rejects(new ParameterAlreadyExists({ message: 'exists', $metadata: {} }));

    await expect(ensureImageParameter({ name: NAME, placeholder: PLACEHOLDER }, { ssm: new SSMClient({}), retry: fastRetry })).resolves.toBe(
      'exists',
    );
  });

  test('GIVEN throttling then not found THEN retries and creates', async () => {
    const throttled = Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } });
    ssmMock.on(GetParameterCommand).rejectsOnce(throttled).rejects(notFound());
    ssmMock.on(PutParameterCommand).resolves({ Version: 1 });

    await expect(ensureImageParameter({ name: NAME, placeholder: PLACEHOLDER }, { ssm: new SSMClient({}), retry: fastRetry })).resolves.toBe(
      'created',
    );
    expect(ssmMock.commandCalls(GetParameterCommand)).toHaveLength(2);
  });

  test('GIVEN access denied THEN rethrows, writing nothing', async () => {
    ssmMock.on(GetParameterCommand).rejects(Object.assign(new Error('not authorized'), { name: 'AccessDeniedException' }));

    await expect(ensureImageParameter({ name: NAME, placeholder: PLACEHOLDER }, { ssm: new SSMClient({}), retry: fastRetry })).rejects.toThrow(
      'not authorized',
    );
    expect(ssmMock.commandCalls(PutParameterCommand)).toHaveLength(0);
  });
});

describe('seed-image CLI', () => {
  beforeEach(() => {
    jest.spyOn(console, 'log').mockImplementation(() => undefined);
    jest.spyOn(console, 'error').mockImplementation(() => undefined);
  });
  afterEach(() => jest.restoreAllMocks());

  test('builds the parameter name from the environment', async () => {
    ssmMock.on(GetParameterCommand).rejects(notFound());
    ssmMock.on(PutParameterCommand).resolves({ Version: 1 });

    await expect(main(['staging', PLACEHOLDER], {}, new SSMClient({}))).resolves.toBe(0);
    expect(imageParameterName('staging')).toBe('/tap/staging/app/image-uri');
    expect(inputs(ssmMock, PutParameterCommand)).toEqual([
      { Name: '/tap/staging/app/image-uri', Value: PLACEHOLDER, Type: 'String', Overwrite: false },
    ]);
    expect(console.log).toHaveBeenCalledWith(`seed-image: created /tap/staging/app/image-uri = ${PLACEHOLDER}`);
  });

  test('an existing parameter is reported as left unchanged', async () => {
    ssmMock.on(GetParameterCommand).resolves({ Parameter: { Name: NAME, Value: 'the-deployed-image' } });

    await expect(main(['dev', PLACEHOLDER], {}, new SSMClient({}))).resolves.toBe(0);
    expect(console.log).toHaveBeenCalledWith(`seed-image: ${NAME} already exists, left unchanged`);
    expect(ssmMock.commandCalls(PutParameterCommand)).toHaveLength(0);
  });

  test('is `npm run seed-image`; no `npm run bootstrap` to mistake for `cdk bootstrap`', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts['seed-image']).toBe('tsx tools/seed-image/cli.ts');
    expect(pkg.scripts.bootstrap).toBeUndefined();
  });

  test.each([
    [['qa', PLACEHOLDER], /unknown environment "qa", allowed: dev, staging, prod/],
    [['dev'], /placeholder image URI/],
    [['dev', 'nginx:latest'], /placeholder: image URI must be/],
  ])('rejects %j', async (argv, message) => {
    await expect(main(argv, {}, new SSMClient({}))).resolves.toBe(2);
    expect(console.error).toHaveBeenCalledTimes(1);
    expect(console.error).toHaveBeenCalledWith(expect.stringMatching(message));
    expect(ssmMock.calls()).toHaveLength(0);
  });
});
