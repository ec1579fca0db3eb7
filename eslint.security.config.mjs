// Security static analysis (`npm run sast`, the pipeline's Static-Analysis step): eslint-plugin-security, pinned in
// package.json, no network at run time, over the service, the tools and the platform. Every finding is an error.
// Two rules are tuned, each for a stated reason:
// - detect-object-injection is off: it flags every `obj[key]` in typed code; untrusted keys are handled where they
//   enter (the service rejects unknown fields and __proto__ with strict zod schemas; config is schema-validated).
// - detect-non-literal-regexp and detect-unsafe-regex are off in tests, whose patterns come from their fixtures.
// - detect-non-literal-fs-filename is off only for code whose job is to read a file the operator names (the config
//   loader, CLI entry points, scripts, tests); it stays on for the service.
import security from 'eslint-plugin-security';
import tseslint from 'typescript-eslint';

const rules = Object.fromEntries(Object.keys(security.configs.recommended.rules).map((rule) => [rule, 'error']));

export const securityConfig = [
  {
    files: ['**/*.ts'],
    plugins: { security },
    rules: { ...rules, 'security/detect-object-injection': 'off' },
  },
  {
    files: ['lib/config/load.ts', 'tools/**/cli.ts', 'scripts/**/*.ts', 'test/**/*.ts', 'bin/**/*.ts'],
    rules: { 'security/detect-non-literal-fs-filename': 'off' },
  },
  // Tests build expected-message patterns from their own fixtures; no outside input reaches these regexes.
  {
    files: ['test/**/*.ts'],
    rules: { 'security/detect-non-literal-regexp': 'off', 'security/detect-unsafe-regex': 'off' },
  },
];

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/dist/**', '**/coverage/**', 'cdk.out*/**', '.venv/**'] },
  { files: ['**/*.ts'], languageOptions: { parser: tseslint.parser } },
  ...securityConfig,
);
