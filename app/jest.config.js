/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // One throwaway PostgreSQL per jest run (free port, fresh temp dir), stopped and deleted at the end.
  globalSetup: '<rootDir>/test/global-setup.ts',
  globalTeardown: '<rootDir>/test/global-teardown.ts',
  transform: {
    // isolatedModules in tsconfig makes ts-jest transpile only: type checking runs once in `npm run typecheck`.
    '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.json' }],
  },
  collectCoverageFrom: ['src/**/*.ts'],
  coverageReporters: ['text-summary', 'text', 'json-summary'],
  coverageThreshold: { global: { lines: 90 } },
  testTimeout: 30000,
};
