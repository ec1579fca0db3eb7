// Flat config: typescript-eslint recommended rules plus Prettier for formatting (enforced by `npm run lint`).
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';
import { securityConfig } from './eslint.security.config.mjs';

export default tseslint.config(
  {
    ignores: [
      'node_modules/**',
      'cdk.out/**',
      'cdk.out.*/**',
      'coverage/**',
      '.venv/**',
      'app/**',
      '.build/**',
      'reports/**',
      '.stryker-tmp/**',
      'jest.config.js',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  prettier,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/consistent-type-assertions': ['error', { assertionStyle: 'as', objectLiteralTypeAssertions: 'never' }],
    },
  },
  // The security rules run with the normal lint too, so an inline exception is checked by both.
  ...securityConfig,
);
