import tseslint from 'typescript-eslint';

/** The local cloud knows nothing of orderflow; orderflow reaches the local cloud only through its public index. */
const PACKAGE_BOUNDARY = {
  patterns: [
    { group: ['**/lib/**', '#lib/*', '**/functions/**', '**/scripts/**'], message: 'packages/local-cloud is generic: it must not import the application.' },
  ],
};
const APPLICATION_BOUNDARY = {
  patterns: [
    { group: ['**/packages/local-cloud/**', 'local-cloud/*'], message: "Import the local cloud from 'local-cloud' (its src/index.ts) only." },
  ],
};

export default tseslint.config(
  { ignores: ['node_modules/', '.serverless/', '.esbuild/', '.local/', 'reports/', 'coverage/'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': ['error', { selector: 'ExportDefaultDeclaration', message: 'Use named exports.' }],
    },
  },
  { files: ['packages/local-cloud/**/*.{ts,js,mjs}'], rules: { 'no-restricted-imports': ['error', PACKAGE_BOUNDARY] } },
  { files: ['functions/**', 'lib/**', 'scripts/**', 'tests/**'], rules: { 'no-restricted-imports': ['error', APPLICATION_BOUNDARY] } },
  { files: ['eslint.config.js', 'vitest.config.ts'], rules: { 'no-restricted-syntax': 'off' } },
);
