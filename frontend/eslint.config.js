import skipFormatting from '@vue/eslint-config-prettier/skip-formatting'
import { defineConfigWithVueTs, vueTsConfigs } from '@vue/eslint-config-typescript'
import { globalIgnores } from 'eslint/config'
import pluginVue from 'eslint-plugin-vue'

export default defineConfigWithVueTs(
  { name: 'app/files-to-lint', files: ['**/*.{ts,mts,vue}'] },
  globalIgnores([
    '**/dist/**',
    '**/coverage/**',
    '**/screenshots/**',
    '**/e2e-screenshots/**',
    '**/test-results/**',
    '**/playwright-report/**',
    '**/lighthouse/**',
    'src/api/schema.d.ts',
  ]),
  pluginVue.configs['flat/recommended'],
  vueTsConfigs.recommendedTypeChecked,
  {
    name: 'app/scripts',
    files: ['scripts/**/*.mjs', '*.js'],
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        URL: 'readonly',
        setTimeout: 'readonly',
      },
    },
  },
  {
    name: 'app/rules',
    rules: {
      'vue/multi-word-component-names': ['error', { ignores: [] }],
      '@typescript-eslint/no-floating-promises': 'error',
    },
  },
  skipFormatting,
)
