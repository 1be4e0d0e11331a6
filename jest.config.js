// Jest runs our TypeScript as native ES modules (NestJS 12 ships ESM only), transformed by SWC.
const swc = [
  '@swc/jest',
  {
    jsc: {
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true, useDefineForClassFields: false },
      target: 'es2022',
      keepClassNames: true,
    },
    module: { type: 'es6' },
    sourceMaps: 'inline',
  },
];

// CommonJS packages that require an ESM-only dependency (Node 20's require(esm) is not
// available inside Jest's module system): those dependencies are compiled to CommonJS.
const ESM_REQUIRED_FROM_CJS = ['content-disposition', 'cookie'];

// @nestjs/throttler is CommonJS and requires the ESM-only @nestjs/common and @nestjs/core:
// inside Jest those are compiled to CommonJS when required from it (decorator metadata keys are
// strings on the shared reflect-metadata store, so both copies agree).
const CJS_REQUIRING_NEST = ['@nestjs/common', '@nestjs/core'];

const common = {
  transform: { '^.+\\.ts$': swc, [`node_modules/(${[...ESM_REQUIRED_FROM_CJS, ...CJS_REQUIRING_NEST].join('|')})/.+\\.js$`]: swc },
  transformIgnorePatterns: [`/node_modules/(?!(${[...ESM_REQUIRED_FROM_CJS, ...CJS_REQUIRING_NEST].join('|')})/)`],
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testEnvironment: 'node',
};

export default {
  // Global (Jest ignores it per project): e2e tests boot apps and wait for queues.
  testTimeout: 60_000,
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['<rootDir>/src/**/*.spec.ts'],
    },
    {
      ...common,
      displayName: 'e2e',
      testMatch: ['<rootDir>/test/**/*.e2e-spec.ts'],
      // The Redis outage test stops a Redis of its own; with the queue on PostgreSQL (no REDIS_URL) there is none to stop.
      testPathIgnorePatterns: ['/node_modules/', ...(process.env.REDIS_URL ? [] : ['<rootDir>/test/workers-redis-outage.e2e-spec.ts'])],
      globalSetup: '<rootDir>/test/harness/global-setup.ts',
      globalTeardown: '<rootDir>/test/harness/global-teardown.ts',
    },
  ],
};
