#!/usr/bin/env node
// A real MCP client (the official TypeScript SDK) for end-to-end tests.
//
//   node call_tool.mjs URL TOOL ARGS_JSON [--sse] [--list-tools] [--timeout SECONDS]
//
// Streamable HTTP (URL = .../mcp) by default; --sse uses the SDK's deprecated
// 2024-11-05 HTTP+SSE transport (URL = .../sse). Prints JSON lines on stdout,
// the same schema as ../py_client.py:
//   {"event":"connected","protocol_version":...,"transport":...,"t":...}
//   {"event":"tools","names":[...],"t":...}                       (--list-tools)
//   {"event":"progress","call":0,"progress":p,"total":t,"message":m,"t":...}
//   {"event":"result","call":0,"text":...,"is_error":bool,"protocol_version":...,"t":...}
//   {"event":"error","type":...,"message":...,"code":...,"t":...}  (exit 1)
//   {"event":"timeout","timeout":s,"t":...}                        (exit 3)
// t = seconds since the process started. Set MCP_CLIENT_DEBUG=1 to log every
// HTTP request's method, URL and headers to stderr.

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const START = performance.now();
const EXIT_OK = 0;
const EXIT_ERROR = 1;
const EXIT_USAGE = 2;
const EXIT_TIMEOUT = 3;

function elapsed() {
  return Math.round(performance.now() - START) / 1000;
}

// stdout writes to a pipe or file are synchronous on Linux, so process.exit() after emit() loses nothing.
function emit(event, fields = {}) {
  process.stdout.write(JSON.stringify({ event, ...fields, t: elapsed() }) + '\n');
}

function usage(message) {
  process.stderr.write(
    `${message}\nusage: node call_tool.mjs URL TOOL ARGS_JSON [--sse] [--list-tools] [--timeout SECONDS]\n` +
      '       node call_tool.mjs URL --list-tools [--sse]\n',
  );
  process.exit(EXIT_USAGE);
}

function parseArgs(argv) {
  const opts = { sse: false, listTools: false, timeout: 30, positional: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--sse') opts.sse = true;
    else if (arg === '--list-tools') opts.listTools = true;
    else if (arg === '--timeout') opts.timeout = Number(argv[++i]);
    else if (arg.startsWith('--')) usage(`unknown option ${arg}`);
    else opts.positional.push(arg);
  }
  const [url, tool, argsJson = '{}'] = opts.positional;
  if (!url) usage('missing URL');
  if (!tool && !opts.listTools) usage('missing TOOL');
  if (!(opts.timeout > 0)) usage('--timeout must be a positive number of seconds');
  let toolArgs;
  try {
    toolArgs = JSON.parse(argsJson);
  } catch (e) {
    usage(`ARGS_JSON is not valid JSON: ${e.message}`);
  }
  if (toolArgs === null || typeof toolArgs !== 'object' || Array.isArray(toolArgs)) {
    usage('ARGS_JSON must be a JSON object');
  }
  return { ...opts, url, tool, toolArgs };
}

function debugFetch() {
  if (!process.env.MCP_CLIENT_DEBUG) return undefined;
  return async (input, init = {}) => {
    const headers = Object.fromEntries(new Headers(init.headers ?? {}).entries());
    process.stderr.write(`[fetch] ${init.method ?? 'GET'} ${input} ${JSON.stringify(headers)}\n`);
    return fetch(input, init);
  };
}

function textOf(result) {
  return (result.content ?? [])
    .filter((block) => typeof block.text === 'string')
    .map((block) => block.text)
    .join('');
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const url = new URL(opts.url);
  const fetchImpl = debugFetch();
  const transport = opts.sse
    ? new SSEClientTransport(url, fetchImpl ? { fetch: fetchImpl } : undefined)
    : new StreamableHTTPClientTransport(url, fetchImpl ? { fetch: fetchImpl } : undefined);

  // The Client hands the negotiated version to the transport (which then sends it as the
  // mcp-protocol-version header); record it on the way through.
  let protocolVersion = null;
  const setProtocolVersion = transport.setProtocolVersion?.bind(transport);
  transport.setProtocolVersion = (version) => {
    protocolVersion = version;
    setProtocolVersion?.(version);
  };

  const timer = setTimeout(() => {
    emit('timeout', { timeout: opts.timeout });
    process.exit(EXIT_TIMEOUT);
  }, opts.timeout * 1000);

  const client = new Client({ name: 'mcp-tap-e2e-ts-client', version: '0.0.0' });
  await client.connect(transport);
  emit('connected', { protocol_version: protocolVersion, transport: opts.sse ? 'sse' : 'streamable-http' });

  if (opts.listTools) {
    const { tools } = await client.listTools();
    emit('tools', { names: tools.map((tool) => tool.name) });
  }

  if (opts.tool) {
    const result = await client.callTool({ name: opts.tool, arguments: opts.toolArgs }, undefined, {
      onprogress: ({ progress, total, message }) =>
        emit('progress', { call: 0, progress, total: total ?? null, message: message ?? null }),
      // The SDK's default request timeout is 60 s; progress keeps a long call alive.
      resetTimeoutOnProgress: true,
    });
    emit('result', {
      call: 0,
      text: textOf(result),
      is_error: Boolean(result.isError),
      protocol_version: protocolVersion,
    });
  }

  clearTimeout(timer);
  await client.close().catch(() => {});
}

try {
  await main();
  process.exit(EXIT_OK);
} catch (err) {
  const fields = {
    type: err?.constructor?.name ?? typeof err,
    message: err instanceof Error ? err.message : String(err),
  };
  if (typeof err?.code === 'number') fields.code = err.code;
  // undici's "fetch failed" hides the reason (ECONNREFUSED, ...) in err.cause.
  if (err?.cause) fields.cause = String(err.cause.code ?? err.cause.message ?? err.cause);
  emit('error', fields);
  if (process.env.MCP_CLIENT_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
  process.exit(EXIT_ERROR);
}
