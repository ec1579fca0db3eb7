#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import * as path from 'path';
import { buildApp } from '../lib/app';
import { ConfigError } from '../lib/config';
import { addCompliancePacks } from '../lib/compliance/packs';
import { TapStack } from '../lib/tap-stack';

const app = new App();
let stack: TapStack;
try {
  stack = buildApp(app, { deployAccount: process.env.CDK_DEFAULT_ACCOUNT });
} catch (e) {
  // A config mistake is the user's, not a crash: print the list of bad values and exit non-zero, without a stack trace.
  if (e instanceof ConfigError || (e instanceof Error && e.message.startsWith('Preflight'))) {
    console.error(e.message);
    process.exit(1);
  }
  throw e;
}
addCompliancePacks(app);
const assembly = app.synth();
// stderr, so `cdk synth > template.yaml` stays a clean template.
console.error(`${stack.stackName}: template written to ${path.relative(process.cwd(), path.join(assembly.directory, stack.templateFile))}`);
