import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'

// The server's build script sets VPP_CONSOLE_OUT to a folder under its
// OUT_DIR; `npm run dev` proxies the API to a running `vpp serve` (VPP_API,
// default http://127.0.0.1:8080).
export default defineConfig({
  plugins: [vue()],
  build: {
    outDir: process.env.VPP_CONSOLE_OUT ?? 'dist',
    emptyOutDir: true,
    chunkSizeWarningLimit: 1500,
  },
  server: { proxy: { '/api': process.env.VPP_API ?? 'http://127.0.0.1:8080' } },
})
