// This function's webhooks folder: every .ts file in it is one webhook (lib/admission/registry.ts).
// The function hands it to the registry (index.ts); the CLI (bin/posture.ts), the tests and the
// benchmarks take it from here, a module of its own so that naming the folder loads nothing else.
import { fileURLToPath } from 'node:url';

export const WEBHOOKS_DIR = fileURLToPath(new URL('./webhooks/', import.meta.url));
