import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import { fileURLToPath } from 'node:url';

// The console is a static single-page app the gateway serves at `/`. It validates workflow
// definitions with the very schemas the services use (@patchbay/contracts); the one Node built-in
// those import (node:crypto, for event hashes the console never computes) is stubbed out.
export default defineConfig({
  plugins: [react()],
  base: '/',
  resolve: {
    alias: {
      'node:crypto': fileURLToPath(new URL('./src/shims/node-crypto.ts', import.meta.url)),
    },
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: true,
    chunkSizeWarningLimit: 1500,
  },
  server: {
    proxy: { '/graphql': { target: process.env['PATCHBAY_GATEWAY'] ?? 'http://127.0.0.1:4000', ws: true }, '/audit': process.env['PATCHBAY_GATEWAY'] ?? 'http://127.0.0.1:4000' },
  },
});
