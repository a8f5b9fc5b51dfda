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

/** The domain package stays free of frameworks so both the API and the dashboard can share it: it
 * imports nothing but itself and zod (its wire schemas). */
export const domainConfig = [
  ...base,
  {
    files: ['src/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ regex: '^(?!zod$|\\.{1,2}/)', message: 'The domain imports nothing but itself and zod.' }] },
      ],
    },
  },
];

/** The engine runs the job lifecycle without a web framework, and never reaches into the api. */
export const engineConfig = [
  ...base,
  {
    files: ['src/**/*.ts', 'test/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { regex: '^@nestjs/', message: 'The engine imports no Nest.' },
            { regex: '^(express|react|react-dom)$', message: 'The engine imports no web framework.' },
            { regex: '^@jobtrail/(api|dashboard)', message: 'The engine never imports an app.' },
            { regex: '(^|/)apps/', message: 'The engine never imports an app.' },
          ],
        },
      ],
    },
  },
];

/** The api uses the engine through its public entry only. */
export const apiConfig = [
  ...base,
  {
    files: ['src/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { regex: '^@jobtrail/(engine|domain)/.+', message: 'Import a package through its public entry.' },
            { regex: '(^|/)packages/', message: 'Import a package by its name, not by path.' },
          ],
        },
      ],
    },
  },
];
