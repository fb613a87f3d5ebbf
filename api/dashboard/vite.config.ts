// The dashboard's build: `npm run build` turns api/dashboard/ into static files in dist/dashboard/,
// which the API serves at `/`. `npx vite --config api/dashboard/vite.config.ts` serves it live,
// talking to an API on 127.0.0.1:8089.
import { defineConfig } from 'vite';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const api = 'http://127.0.0.1:8089';

export default defineConfig({
  root: here,
  base: '/',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: { outDir: fileURLToPath(new URL('../../dist/dashboard', import.meta.url)), emptyOutDir: true },
  server: { proxy: { '/api': api } },
  logLevel: 'warn',
});
