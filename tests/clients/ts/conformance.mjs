#!/usr/bin/env node
// The official conformance suite's server scenarios, several in one Node.js process.
//
//   node conformance.mjs URL SCENARIO...
//
// The suite's CLI (npm @modelcontextprotocol/conformance) runs one scenario, or a whole suite,
// and then exits. Starting Node.js for each scenario costs more than the scenario itself, so
// this runs the CLI's `server --url URL --scenario S` for each S in turn in this process: each
// import of the CLI under a new query string runs it again (its dependencies stay loaded), and
// its process.exit is caught here. The CLI's own output is printed as it comes, then a line
//   scenario S exited N
// for each. Exit code: how many scenarios failed (0: all passed).

import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const [url, ...scenarios] = process.argv.slice(2);
if (!url || scenarios.length === 0) {
  process.stderr.write('usage: node conformance.mjs URL SCENARIO...\n');
  process.exit(2);
}

const require = createRequire(import.meta.url);
const manifest = require.resolve('@modelcontextprotocol/conformance/package.json');
const cli = pathToFileURL(manifest.replace(/package\.json$/, 'dist/index.js')).href;
const exit = process.exit.bind(process);
const argv = process.argv.slice(0, 2);
let failed = 0;

for (const [index, scenario] of scenarios.entries()) {
  const code = await new Promise((resolve) => {
    process.exit = (status) => resolve(status ?? 0);
    process.argv = [...argv, 'server', '--url', url, '--scenario', scenario];
    import(`${cli}?run=${index}`).catch((error) => {
      process.stderr.write(`${error}\n`);
      resolve(1);
    });
  });
  console.log(`scenario ${scenario} exited ${code}`);
  if (code !== 0) failed += 1;
}
exit(failed);
