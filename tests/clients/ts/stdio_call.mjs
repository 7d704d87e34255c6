#!/usr/bin/env node
// A real MCP host over stdio (the official TypeScript SDK's StdioClientTransport).
//
//   node stdio_call.mjs TOOL ARGS_JSON [--timeout SECONDS] [--list] -- COMMAND [ARGS...]
//
// Spawns COMMAND as the server (with this process's environment and working directory),
// calls TOOL with a progress callback, and prints JSON lines on stdout in the schema of
// call_tool.mjs: connected, progress, result, error (exit 1), timeout (exit 3). With --list
// it first lists what the server's capabilities offer (tools, prompts, resources and
// resource templates, every page) and prints a `listed` line with the counts.

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

const START = performance.now();

function emit(event, fields = {}) {
  const t = Math.round(performance.now() - START) / 1000;
  process.stdout.write(JSON.stringify({ event, ...fields, t }) + '\n');
}

function usage(message) {
  process.stderr.write(
    `${message}\nusage: node stdio_call.mjs TOOL ARGS_JSON [--timeout SECONDS] [--list] -- COMMAND [ARGS...]\n`,
  );
  process.exit(2);
}

function parseArgs(argv) {
  const split = argv.indexOf('--');
  if (split < 0 || split === argv.length - 1) usage('missing -- COMMAND');
  const [command, ...args] = argv.slice(split + 1);
  const own = argv.slice(0, split);
  let timeout = 30;
  let list = false;
  const positional = [];
  for (let i = 0; i < own.length; i++) {
    if (own[i] === '--timeout') timeout = Number(own[++i]);
    else if (own[i] === '--list') list = true;
    else positional.push(own[i]);
  }
  const [tool, argsJson = '{}'] = positional;
  if (!tool) usage('missing TOOL');
  if (!(timeout > 0)) usage('--timeout must be a positive number of seconds');
  let toolArgs;
  try {
    toolArgs = JSON.parse(argsJson);
  } catch (e) {
    usage(`ARGS_JSON is not valid JSON: ${e.message}`);
  }
  return { tool, toolArgs, timeout, list, command, args };
}

// Every page of each list the server's capabilities offer: how many of each it listed.
async function listEverything(client) {
  const caps = client.getServerCapabilities() ?? {};
  const lists = [
    ['tools', caps.tools, (cursor) => client.listTools({ cursor })],
    ['prompts', caps.prompts, (cursor) => client.listPrompts({ cursor })],
    ['resources', caps.resources, (cursor) => client.listResources({ cursor })],
    ['resourceTemplates', caps.resources, (cursor) => client.listResourceTemplates({ cursor })],
  ];
  const counts = {};
  for (const [field, offered, list] of lists) {
    if (!offered) continue;
    counts[field] = 0;
    let cursor;
    do {
      const page = await list(cursor);
      counts[field] += (page[field] ?? []).length;
      cursor = page.nextCursor;
    } while (cursor);
  }
  return counts;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const timer = setTimeout(() => {
    emit('timeout', { timeout: opts.timeout });
    process.exit(3);
  }, opts.timeout * 1000);
  // The SDK passes only a few "safe" variables by default; a host passes what it chooses.
  const transport = new StdioClientTransport({
    command: opts.command,
    args: opts.args,
    env: { ...process.env },
    cwd: process.cwd(),
    stderr: 'inherit',
  });
  const client = new Client({ name: 'mcp-tap-e2e-ts-stdio-host', version: '0.0.0' });
  await client.connect(transport);
  emit('connected', { transport: 'stdio' });
  if (opts.list) emit('listed', await listEverything(client));
  const result = await client.callTool({ name: opts.tool, arguments: opts.toolArgs }, undefined, {
    onprogress: ({ progress, total, message }) =>
      emit('progress', { call: 0, progress, total: total ?? null, message: message ?? null }),
    resetTimeoutOnProgress: true,
  });
  const text = (result.content ?? [])
    .filter((block) => typeof block.text === 'string')
    .map((block) => block.text)
    .join('');
  emit('result', { call: 0, text, is_error: Boolean(result.isError) });
  clearTimeout(timer);
  await client.close().catch(() => {});
}

try {
  await main();
  process.exit(0);
} catch (err) {
  emit('error', {
    type: err?.constructor?.name ?? typeof err,
    message: err instanceof Error ? err.message : String(err),
  });
  process.exit(1);
}
