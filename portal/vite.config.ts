// The web portal's build: `vite build --config portal/vite.config.ts` writes dist/portal, which the
// server serves under /portal/ (src/http/static.ts). `vite --config portal/vite.config.ts` serves it
// for development, proxying the API to a server on 127.0.0.1:8080 (`npm start`).
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";
import { fileURLToPath } from "node:url";

const api = "http://127.0.0.1:8080";

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "/portal/",
  plugins: [react()],
  logLevel: "warn",
  build: {
    outDir: fileURLToPath(new URL("../dist/portal", import.meta.url)),
    emptyOutDir: true,
    assetsDir: "assets",
    sourcemap: false,
    target: "es2022",
    chunkSizeWarningLimit: 1024,
  },
  server: {
    proxy: { "/CertificateManagement": api, "/portal/api": api },
  },
});
