#!/usr/bin/env node
// A TypeScript SDK client that answers what a server asks it: sampling and elicitation.
//
//   node asks.mjs MODEL_TEXT NAME TOOL... (--url URL | -- COMMAND [ARGS...])
//
// Connects over Streamable HTTP (--url) or stdio (a spawned COMMAND), answers every
// sampling/createMessage with MODEL_TEXT (model "m1") and every elicitation/create by
// accepting {"name": NAME}, calls each TOOL with the arguments the asking test server's tools
// take, and prints one JSON line a call: {"tool", "text"}. Exit 1 on an error, 3 after 60 s.

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CreateMessageRequestSchema, ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';

const ARGUMENTS = { ask_model: { prompt: '2+2?' }, ask_name: {} };

const argv = process.argv.slice(2);
const split = argv.indexOf('--');
const own = split < 0 ? argv : argv.slice(0, split);
const urlAt = own.indexOf('--url');
const url = urlAt < 0 ? null : own[urlAt + 1];
const [modelText, name, ...tools] = urlAt < 0 ? own : own.filter((_, i) => i !== urlAt && i !== urlAt + 1);
if (!modelText || !name || tools.length === 0 || (url === null && split < 0)) {
  process.stderr.write('usage: node asks.mjs MODEL_TEXT NAME TOOL... (--url URL | -- COMMAND [ARGS...])\n');
  process.exit(2);
}

setTimeout(() => {
  process.stderr.write('asks.mjs: no answer within 60 s\n');
  process.exit(3);
}, 60_000).unref();

const transport = url
  ? new StreamableHTTPClientTransport(new URL(url))
  : new StdioClientTransport({
      command: argv[split + 1],
      args: argv.slice(split + 2),
      env: { ...process.env },
      cwd: process.cwd(),
      stderr: 'inherit',
    });
const client = new Client(
  { name: 'mcp-tap-e2e-ts-asks', version: '0.0.0' },
  { capabilities: { sampling: {}, elicitation: {} } },
);
client.setRequestHandler(CreateMessageRequestSchema, async () => ({
  role: 'assistant',
  content: { type: 'text', text: modelText },
  model: 'm1',
}));
client.setRequestHandler(ElicitRequestSchema, async () => ({ action: 'accept', content: { name } }));

try {
  await client.connect(transport);
  for (const tool of tools) {
    const result = await client.callTool({ name: tool, arguments: ARGUMENTS[tool] ?? {} });
    const text = (result.content ?? []).map((block) => block.text ?? '').join('');
    process.stdout.write(JSON.stringify({ tool, text }) + '\n');
  }
  await client.close();
  process.exit(0);
} catch (error) {
  process.stderr.write(`asks.mjs: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
