#!/usr/bin/env node
// A tour of server-everything with the official TypeScript SDK client.
//
//   node everything.mjs URL [--timeout SECONDS]             (Streamable HTTP)
//   node everything.mjs [--timeout SECONDS] -- COMMAND [ARGS...]   (stdio)
//
// Declares roots, sampling and elicitation, answers the server's requests for them, and walks
// the server's features: ping, logging level, tools (list and calls: plain, structured,
// images, resource links, progress, sampling, elicitation, roots), prompts (list, get,
// completion), resources (list, read, templates, template completion, subscribe, updates)
// and the simulated log. Prints one JSON line per step:
//   {"event":"step","step":NAME,...,"t":...}
// then {"event":"done","t":...} (exit 0). Failure: {"event":"error","step","message"} (exit 1);
// overall deadline: {"event":"timeout"} (exit 3); bad command line: exit 2.

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
  LoggingMessageNotificationSchema,
  ResourceUpdatedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';

const START = performance.now();
const WAIT_NOTIFICATION = 5000; // ms: the server sends both simulated notifications at once

function emit(event, fields = {}) {
  const t = Math.round(performance.now() - START) / 1000;
  process.stdout.write(JSON.stringify({ event, ...fields, t }) + '\n');
}

function usage(message) {
  process.stderr.write(
    `${message}\nusage: node everything.mjs URL [--timeout SECONDS]\n` +
      '       node everything.mjs [--timeout SECONDS] -- COMMAND [ARGS...]\n',
  );
  process.exit(2);
}

function parseArgs(argv) {
  const split = argv.indexOf('--');
  const own = split < 0 ? argv : argv.slice(0, split);
  const command = split < 0 ? [] : argv.slice(split + 1);
  let timeout = 30;
  const positional = [];
  for (let i = 0; i < own.length; i++) {
    if (own[i] === '--timeout') timeout = Number(own[++i]);
    else if (own[i].startsWith('--')) usage(`unknown option ${own[i]}`);
    else positional.push(own[i]);
  }
  if (!(timeout > 0)) usage('--timeout must be a positive number of seconds');
  if (split >= 0 && command.length === 0) usage('missing COMMAND after --');
  if ((positional.length === 1) === (command.length > 0)) usage('give either URL or -- COMMAND');
  return { url: positional[0], command, timeout };
}

function transportFor(opts) {
  if (opts.url) return new StreamableHTTPClientTransport(new URL(opts.url));
  const [command, ...args] = opts.command;
  return new StdioClientTransport({
    command,
    args,
    env: { ...process.env },
    cwd: process.cwd(),
    stderr: 'ignore', // the server logs every request to stderr
  });
}

// One notification of `schema` that `accept` likes, or null after WAIT_NOTIFICATION ms.
function awaiter(client, schema) {
  const waiting = [];
  client.setNotificationHandler(schema, (notification) => {
    for (const entry of waiting.splice(0)) entry(notification);
  });
  return () =>
    new Promise((resolve) => {
      const timer = setTimeout(() => resolve(null), WAIT_NOTIFICATION);
      waiting.push((notification) => {
        clearTimeout(timer);
        resolve(notification);
      });
    });
}

function kinds(result) {
  return (result.content ?? []).map((block) => block.type);
}

let current = 'connect';

async function step(name, action) {
  current = name;
  const fields = await action();
  emit('step', { step: name, ...(fields ?? {}) });
}

async function tour(client) {
  const nextLog = awaiter(client, LoggingMessageNotificationSchema);
  const nextUpdate = awaiter(client, ResourceUpdatedNotificationSchema);
  const call = (name, args = {}, options = {}) =>
    client.callTool({ name, arguments: args }, undefined, options);

  await step('ping', async () => {
    await client.ping();
  });
  await step('logging/setLevel', async () => {
    await client.setLoggingLevel('debug');
  });
  await step('tools/list', async () => {
    const { tools } = await client.listTools();
    return { names: tools.map((tool) => tool.name).sort() };
  });
  await step('echo', async () => ({ text: (await call('echo', { message: 'hi' })).content[0].text }));
  await step('get-sum', async () => ({ text: (await call('get-sum', { a: 2, b: 3 })).content[0].text }));
  await step('get-structured-content', async () => {
    const result = await call('get-structured-content', { location: 'New York' });
    return { structured: result.structuredContent };
  });
  await step('get-tiny-image', async () => ({ kinds: kinds(await call('get-tiny-image')) }));
  await step('get-annotated-message', async () => {
    const result = await call('get-annotated-message', { messageType: 'error', includeImage: true });
    return { kinds: kinds(result) };
  });
  await step('get-resource-links', async () => ({
    kinds: kinds(await call('get-resource-links', { count: 3 })),
  }));
  await step('get-resource-reference', async () => ({
    kinds: kinds(await call('get-resource-reference', { resourceType: 'Blob', resourceId: 2 })),
  }));
  await step('trigger-long-running-operation', async () => {
    const progress = [];
    const result = await call(
      'trigger-long-running-operation',
      { duration: 0.5, steps: 5 },
      { onprogress: ({ progress: p }) => progress.push(p), resetTimeoutOnProgress: true },
    );
    return { text: result.content[0].text, progress };
  });
  await step('trigger-sampling-request', async () => {
    const result = await call('trigger-sampling-request', { prompt: 'a haiku', maxTokens: 20 });
    return { text: result.content[0].text.split('\n')[0] };
  });
  await step('trigger-elicitation-request', async () => ({
    kinds: kinds(await call('trigger-elicitation-request')),
  }));
  await step('get-roots-list', async () => ({ kinds: kinds(await call('get-roots-list')) }));

  await step('prompts/list', async () => {
    const { prompts } = await client.listPrompts();
    return { names: prompts.map((prompt) => prompt.name).sort() };
  });
  await step('prompts/get', async () => {
    const simple = await client.getPrompt({ name: 'simple-prompt' });
    const args = await client.getPrompt({ name: 'args-prompt', arguments: { city: 'Oslo' } });
    return { messages: [simple.messages.length, args.messages.length] };
  });
  await step('completion/complete prompt', async () => {
    const { completion } = await client.complete({
      ref: { type: 'ref/prompt', name: 'completable-prompt' },
      argument: { name: 'name', value: 'A' },
      context: { arguments: { department: 'Engineering' } },
    });
    return { values: completion.values };
  });

  await step('resources/list', async () => {
    const { resources } = await client.listResources();
    const first = await client.readResource({ uri: resources[0].uri });
    return { count: resources.length, read: first.contents.length };
  });
  await step('resources/templates/list', async () => {
    const { resourceTemplates } = await client.listResourceTemplates();
    const text = await client.readResource({ uri: 'demo://resource/dynamic/text/1' });
    const blob = await client.readResource({ uri: 'demo://resource/dynamic/blob/2' });
    return { count: resourceTemplates.length, read: [text.contents.length, blob.contents.length] };
  });
  await step('completion/complete resource', async () => {
    const { completion } = await client.complete({
      ref: { type: 'ref/resource', uri: 'demo://resource/dynamic/text/{resourceId}' },
      argument: { name: 'resourceId', value: '1' },
    });
    return { values: completion.values };
  });

  const uri = 'demo://resource/dynamic/text/1';
  await step('resources/subscribe', async () => {
    await client.subscribeResource({ uri });
    const update = nextUpdate();
    await call('toggle-subscriber-updates');
    const updated = await update;
    await call('toggle-subscriber-updates'); // off again: no timer left behind
    await client.unsubscribeResource({ uri });
    return { updated: updated?.params.uri ?? null };
  });
  await step('notifications/message', async () => {
    const log = nextLog();
    await call('toggle-simulated-logging');
    const message = await log;
    await call('toggle-simulated-logging');
    return { logged: message !== null };
  });
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const timer = setTimeout(() => {
    emit('timeout', { timeout: opts.timeout, step: current });
    process.exit(3);
  }, opts.timeout * 1000);
  const client = new Client(
    { name: 'mcp-tap-e2e-ts-everything', version: '0.0.0' },
    { capabilities: { roots: { listChanged: true }, sampling: {}, elicitation: {} } },
  );
  client.setRequestHandler(ListRootsRequestSchema, async () => ({
    roots: [{ uri: 'file:///tmp/mcp-tap-e2e', name: 'e2e' }],
  }));
  client.setRequestHandler(CreateMessageRequestSchema, async () => ({
    role: 'assistant',
    content: { type: 'text', text: 'a canned answer' },
    model: 'canned',
    stopReason: 'endTurn',
  }));
  client.setRequestHandler(ElicitRequestSchema, async () => ({ action: 'decline' }));

  const transport = transportFor(opts);
  let protocolVersion = null;
  const setProtocolVersion = transport.setProtocolVersion?.bind(transport);
  transport.setProtocolVersion = (version) => {
    protocolVersion = version;
    setProtocolVersion?.(version);
  };
  await client.connect(transport);
  emit('connected', {
    protocol_version: protocolVersion ?? null,
    transport: opts.url ? 'streamable-http' : 'stdio',
  });
  await tour(client);
  if (opts.url) await transport.terminateSession().catch(() => {}); // DELETE, as a host would
  await client.close().catch(() => {});
  clearTimeout(timer);
  emit('done');
}

try {
  await main();
  process.exit(0);
} catch (err) {
  emit('error', {
    step: current,
    type: err?.constructor?.name ?? typeof err,
    message: err instanceof Error ? err.message : String(err),
  });
  process.exit(1);
}
