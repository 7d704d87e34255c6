#!/usr/bin/env node
// server-everything (npm @modelcontextprotocol/server-everything) over HTTP, on a free port.
//
//   node everything_server.mjs streamableHttp|sse
//
// The server listens on $PORT (3001 by default) on every interface; tests want a free port
// on 127.0.0.1 and to be told which. So its listen() is bound to 127.0.0.1:0 and the address
// is printed on stderr once it listens:
//   everything listening on http://127.0.0.1:PORT
// The server's own logging goes to stdout and stderr as usual.

import net from 'node:net';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const [mode] = process.argv.slice(2);
if (mode !== 'streamableHttp' && mode !== 'sse') {
  process.stderr.write('usage: node everything_server.mjs streamableHttp|sse\n');
  process.exit(2);
}

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  const callback = args.find((arg) => typeof arg === 'function');
  this.once('listening', () => {
    const { port } = this.address();
    process.stderr.write(`everything listening on http://127.0.0.1:${port}\n`);
  });
  return listen.call(this, 0, '127.0.0.1', callback);
};

// The package exports no entry point; its bin is dist/index.js, which reads the mode from argv.
const require = createRequire(import.meta.url);
const manifest = require.resolve('@modelcontextprotocol/server-everything/package.json');
process.argv.splice(2, process.argv.length - 2, mode);
await import(pathToFileURL(manifest.replace(/package\.json$/, 'dist/index.js')).href);
