#!/usr/bin/env node
// The `abrec` command. Runs the TypeScript sources directly through tsx, on Node 22
// (npm puts the project's node_modules/.bin/node first on PATH for npx and npm scripts).
const [major] = process.versions.node.split('.').map(Number);
if (major < 22) {
  console.error(`abrec needs Node.js 22 or newer (this is ${process.version}); run it through npx or npm, which use the project's Node 22.`);
  process.exit(1);
}
const { register } = await import('tsx/esm/api');
register();
const { main } = await import('../cli/main.ts');
await main();
