// One lint configuration for the whole repository; each package's eslint.config.js picks its flavour.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const base = tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', '**/coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-definitions': 'off',
      'no-restricted-syntax': [
        'error',
        {
          selector: 'CallExpression[callee.object.name=/^(it|test|describe)$/][callee.property.name=/^(only|skip)$/]',
          message: 'No focused or skipped tests.',
        },
      ],
    },
  },
);

export const nodeConfig = base;

/** The domain package stays free of frameworks so both the API and the dashboard can share it. */
export const domainConfig = [
  ...base,
  {
    files: ['src/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: ['@nestjs/*', 'typeorm', 'react', 'react-dom', 'express', 'pg', 'better-sqlite3'] },
      ],
    },
  },
];
