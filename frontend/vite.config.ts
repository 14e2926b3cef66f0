import { fileURLToPath, URL } from 'node:url'

import vue from '@vitejs/plugin-vue'
import { defineConfig } from 'vite'

// The dev server and `vite preview` hand the API to a local `portus serve`.
const backend = process.env.PORTUS_BACKEND ?? 'http://127.0.0.1:3000'
const proxy = { '/api': { target: backend }, '/v2': { target: backend } }

export default defineConfig({
  plugins: [vue()],
  resolve: { alias: { '@': fileURLToPath(new URL('./src', import.meta.url)) } },
  server: { proxy },
  preview: { proxy },
  build: { outDir: 'dist', target: 'es2022', reportCompressedSize: true },
})
