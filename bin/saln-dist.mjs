#!/usr/bin/env node
// The `saln` command from the compiled library (dist/, `npm run build`): for machines that get a bundle without
// tsx or the TypeScript sources (scripts/gpu-bundle.sh); bin/saln.mjs runs the sources instead.
await import('../dist/src/cli/main.js');
