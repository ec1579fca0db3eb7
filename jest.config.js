/** Unit and template tests of the CDK app and of the pipeline tools. app/ has its own suite. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.tsx?$': ['ts-jest', {}] },
  testTimeout: 120000,
};
