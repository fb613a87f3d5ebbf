import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { platform } from './support/hooks.js';
import { newToken } from './support/http.js';

type Tool = { content: Array<{ type: string; text?: string; data?: string; mimeType?: string }>; structuredContent?: any; isError?: boolean };

/**
 * An agent at work, through MCP only: it writes a small web app with the file tools, fixes it with an edit,
 * has durabox serve it, opens it in the session's browser, acts on it, and looks at it as a screenshot.
 */
describe('workbench: an agent builds a web app and tests it in the session\'s browser (MCP only)', function () {
  this.timeout(240_000);
  let client: Client;
  let sid: string;
  const tool = async (name: string, args: Record<string, unknown>): Promise<Tool> => (await client.callTool({ name, arguments: args })) as Tool;
  const ok = (r: Tool): Tool => {
    assert.ok(!r.isError, JSON.stringify(r.content));
    return r;
  };

  before(async () => {
    const token = await newToken();
    client = new Client({ name: 'agent', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${platform.url}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
  });
  after(async () => {
    if (sid) await client.callTool({ name: 'terminalExec', arguments: { session_id: sid, command: 'true', lease_ttl_sec: 1 } }).catch(() => undefined);
    await client.close();
  });

  it('lists the workbench tools, each described for a model with its output schema', async () => {
    const { tools } = await client.listTools();
    const byName = new Map(tools.map((t) => [t.name, t]));
    for (const name of ['glob', 'grep', 'editFile', 'moveFile', 'copyFile', 'makeDirectory', 'exposePort', 'listPorts', 'browserNavigate', 'browserScreenshot', 'browserClick', 'browserType', 'browserEvaluate', 'browserGetHtml', 'browserWaitFor', 'browserPdf']) {
      const t = byName.get(name);
      assert.ok(t, `tool ${name} is listed`);
      assert.ok((t.description ?? '').length > 80, `${name} says when to use it`);
      assert.ok(t.outputSchema, `${name} declares its output`);
    }
  });

  it('writes, edits, serves, browses and screenshots its app; bad input is a clear tool error', async () => {
    const started = ok(await tool('terminalExec', { command: 'mkdir -p app', template: 'browser', lease_ttl_sec: 600 }));
    sid = started.structuredContent.session_id;
    ok(await tool('writeFile', {
      session_id: sid, path: '/workspace/app/index.html',
      content: '<title>Counter</title><h1 id="count">0</h1><input id="name"><button id="inc" onclick="inc()">+1</button><p id="hello"></p>' +
        '<script src="app.js"></script>',
    }));
    ok(await tool('writeFile', { session_id: sid, path: '/workspace/app/app.js', content: 'function inc() { const c = document.getElementById("count"); c.textContent = String(Number(c.textContent) + 2); }\n' }));
    // The agent notices its bug and fixes it with an exact edit; an edit that matches twice is refused, naming the problem.
    const twice = await tool('editFile', { session_id: sid, path: '/workspace/app/index.html', old_text: 'id=', new_text: 'data-id=' });
    assert.equal(twice.isError, true);
    assert.match(twice.content[0].text ?? '', /edit_ambiguous|more than once|times/);
    ok(await tool('editFile', { session_id: sid, path: '/workspace/app/app.js', old_text: '+ 2', new_text: '+ 1' }));
    const found = ok(await tool('grep', { session_id: sid, pattern: 'textContent', path: '/workspace/app' }));
    assert.ok(JSON.stringify(found.structuredContent).includes('app.js'), JSON.stringify(found.structuredContent));

    // durabox serves it, and keeps it served across a pause or a move.
    const exposed = ok(await tool('exposePort', { session_id: sid, port: 3000, command: 'cd app && exec python3 -m http.server 3000 --bind 127.0.0.1' }));
    assert.equal(exposed.structuredContent.listening, true);
    const viaLink = await fetch(exposed.structuredContent.url);
    assert.equal(viaLink.status, 200, 'the link opens the app without a token');
    assert.match(await viaLink.text(), /<title>Counter<\/title>/);
    const listed = ok(await tool('listPorts', { session_id: sid }));
    assert.ok(listed.structuredContent.ports.some((p: { port: number }) => p.port === 3000));

    // Its own browser, on the session's localhost.
    const nav = ok(await tool('browserNavigate', { session_id: sid, url: 'http://localhost:3000/' }));
    assert.equal(nav.structuredContent.title, 'Counter');
    ok(await tool('browserClick', { session_id: sid, selector: '#inc' }));
    ok(await tool('browserClick', { session_id: sid, selector: '#inc' }));
    const count = ok(await tool('browserEvaluate', { session_id: sid, expression: 'document.getElementById("count").textContent' }));
    assert.equal(count.structuredContent.result, '2', 'the edit fixed the counter');
    ok(await tool('browserType', { session_id: sid, selector: '#name', text: 'durabox' }));
    const html = ok(await tool('browserGetHtml', { session_id: sid, selector: '#count' }));
    assert.match(JSON.stringify(html.structuredContent), /2<\/h1>/);
    const shot = ok(await tool('browserScreenshot', { session_id: sid }));
    const image = shot.content.find((c) => c.type === 'image');
    assert.ok(image, 'the screenshot is an MCP image item');
    assert.equal(image.mimeType, 'image/png');
    assert.equal(Buffer.from(image.data!, 'base64').subarray(1, 4).toString('ascii'), 'PNG');

    // Bad input: a selector that never appears, a port nobody listens on.
    const never = await tool('browserWaitFor', { session_id: sid, selector: '#never-there', timeout_ms: 1000 });
    assert.equal(never.isError, true);
    assert.match(never.content[0].text ?? '', /selector_timeout/);
    const closed = await tool('exposePort', { session_id: sid, port: 3999 });
    assert.equal(closed.isError, true);
    assert.match(closed.content[0].text ?? '', /port_not_listening/);
  });
});
