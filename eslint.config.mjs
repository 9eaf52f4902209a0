// Lint: TypeScript rules, Nx module boundaries (tags in each project.json), and the domain rule:
// pure domain code (contracts, */src/domain/**) may not import NestJS, NATS, SSH or database drivers.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import nx from '@nx/eslint-plugin';
import globals from 'globals';

const drivers = ['@nestjs/*', 'nats', '@nats-io/*', 'ssh2', 'mongodb', '@kurrent/*', '@eventstore/*', 'node:sqlite', 'graphql-yoga', 'node:child_process', 'node:net'];

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', 'gateway/console/**', '.nx/**', '**/*.d.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    plugins: { '@nx': nx },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/no-explicit-any': 'error',
      // Input validators match control characters on purpose (NUL, newlines in names and argv).
      'no-control-regex': 'off',
      '@nx/enforce-module-boundaries': [
        'error',
        {
          allow: [],
          depConstraints: [
            { sourceTag: 'type:contracts', onlyDependOnLibsWithTags: ['type:contracts'] },
            { sourceTag: 'type:adapter', onlyDependOnLibsWithTags: ['type:contracts', 'type:adapter', 'type:testing'] },
            { sourceTag: 'type:testing', onlyDependOnLibsWithTags: ['type:contracts', 'type:testing'] },
            { sourceTag: 'scope:service', onlyDependOnLibsWithTags: ['scope:shared'] },
            { sourceTag: 'scope:gateway', onlyDependOnLibsWithTags: ['scope:shared'] },
            { sourceTag: 'scope:cli', onlyDependOnLibsWithTags: ['scope:shared', 'scope:service', 'scope:gateway'] },
          ],
        },
      ],
    },
  },
  {
    files: ['libs/contracts/src/**/*.ts', '**/src/domain/**/*.ts'],
    ignores: ['**/*.spec.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: drivers.map((group) => ({ group: [group], message: 'domain code stays pure: drivers and frameworks live at the edges' })) }],
    },
  },
  {
    // The CLI composes the services and the gateway into one process for `patchbay up --single-process`.
    files: ['libs/cli/src/**/*.ts'],
    rules: { '@nx/enforce-module-boundaries': ['error', { allow: ['@patchbay/inventory', '@patchbay/policy', '@patchbay/planner', '@patchbay/executor', '@patchbay/gateway'], depConstraints: [{ sourceTag: '*', onlyDependOnLibsWithTags: ['*'] }] }] },
  },
  {
    // End-to-end suites drive whole applications on purpose.
    files: ['test/**/*.ts'],
    rules: { '@nx/enforce-module-boundaries': 'off' },
  },
  {
    files: ['**/*.mjs', 'scripts/**', 'bench/**'],
    languageOptions: { globals: { ...globals.node } },
  },
);
