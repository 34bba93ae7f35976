// Lint for the console: ESLint's and typescript-eslint's recommended rules
// with type information, and no HTML written as strings (the page builds
// elements with dom.ts's h(), so text can never become markup).
import js from "@eslint/js";
import { defineConfig } from "eslint/config";
import tseslint from "typescript-eslint";

export default defineConfig(
  { ignores: ["dist/", "node_modules/", "src/gen/"] },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "no-restricted-properties": [
        "error",
        ...["innerHTML", "outerHTML", "insertAdjacentHTML"].map((property) => ({
          property,
          message: "Build elements with h() from dom.ts.",
        })),
      ],
      "@typescript-eslint/no-floating-promises": [
        "error",
        // node:test runs what describe() and it() return.
        { allowForKnownSafeCalls: [{ from: "package", package: "node:test", name: ["describe", "it"] }] },
      ],
      eqeqeq: "error",
      "prefer-const": "error",
    },
  },
  { files: ["**/*.mjs"], extends: [tseslint.configs.disableTypeChecked] },
);
