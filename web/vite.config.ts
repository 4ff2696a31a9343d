import { defineConfig } from 'vitest/config';

// The dashboard is built into dist/app, which web/embed.go embeds into the
// gatescope binary; dist/ itself keeps a committed placeholder so that Go
// compiles before the first build. Everything is bundled: no CDN.
export default defineConfig({
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: 'dist/app',
    emptyOutDir: true,
    assetsDir: 'assets',
    target: 'es2020',
  },
  server: {
    // `npm run dev` proxies the API to a local `gatescope serve`
    // (GATESCOPE_URL, default http://127.0.0.1:8080).
    proxy: { '/api': { target: (globalThis as any).process?.env?.GATESCOPE_URL ?? 'http://127.0.0.1:8080', changeOrigin: false } },
  },
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
  },
});
