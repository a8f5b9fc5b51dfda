import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

export default defineConfig({
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true },
  server: {
    proxy: {
      // Same origin in dev as in production, so no CORS; `ws` also upgrades WebSockets, and SSE
      // works because the proxy streams responses unbuffered.
      '/api': { target: 'http://localhost:3000', changeOrigin: true, ws: true },
    },
  },
});
