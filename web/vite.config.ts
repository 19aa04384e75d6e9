import { svelte } from "@sveltejs/vite-plugin-svelte";
import { defineConfig } from "vitest/config";

// The build lands inside the Python package, which `thresher serve` serves at `/`.
export default defineConfig({
  plugins: [svelte()],
  base: "/",
  build: {
    outDir: "../src/thresher/server/webapp",
    emptyOutDir: true,
    sourcemap: false,
  },
  server: {
    // `npm run dev` beside `thresher serve --port 8000`.
    proxy: { "/api": "http://127.0.0.1:8000" },
  },
  resolve: process.env.VITEST ? { conditions: ["browser"] } : undefined,
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.ts"],
  },
});
