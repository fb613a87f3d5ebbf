import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { responseProblem } from '../../api/routes.js';
import { OPERATIONS } from '../../contract/operations.js';

const JSON_TYPE = 'application/json';

const task = {
  task_id: 'task_1',
  request_id: null,
  capability: 'echo',
  status: 'succeeded',
  result: { message: 'hi' },
  created_at: '2024-01-01T00:00:00.000Z',
  updated_at: '2024-01-01T00:00:01.000Z',
  deadline_at: '2024-01-01T00:01:00.000Z',
};

describe('response checks (responseProblem)', () => {
  it('calls an undocumented status a problem, naming it', () => {
    assert.equal(responseProblem(OPERATIONS.health, 404, { error: 'x' }, JSON_TYPE), 'status 404 is not documented');
    assert.equal(responseProblem(OPERATIONS.getTask, 500, { error: 'x' }, JSON_TYPE), 'status 500 is not documented');
  });

  it('accepts a body that matches its status\'s schema', () => {
    assert.equal(responseProblem(OPERATIONS.health, 200, { status: 'ok' }, JSON_TYPE), undefined);
    assert.equal(responseProblem(OPERATIONS.getTask, 200, task, JSON_TYPE), undefined);
    assert.equal(responseProblem(OPERATIONS.getTask, 404, { error: 'task not found' }, JSON_TYPE), undefined);
  });

  it('names a required field the body is missing', () => {
    const problem = responseProblem(OPERATIONS.ready, 200, { status: 'ready', database: true }, JSON_TYPE);
    assert.ok(problem);
    assert.match(problem, /temporal/);
    const { task_id: _omit, ...noId } = task;
    assert.match(responseProblem(OPERATIONS.getTask, 200, noId, JSON_TYPE) ?? '', /task_id/);
  });

  it('names a field with a value outside its schema', () => {
    assert.match(responseProblem(OPERATIONS.getTask, 200, { ...task, status: 'exploded' }, JSON_TYPE) ?? '', /status/);
  });

  it('checks the body as it goes on the wire: a Date is its JSON string', () => {
    assert.equal(responseProblem(OPERATIONS.getTask, 200, { ...task, created_at: new Date('2024-01-01T00:00:00Z') }, JSON_TYPE), undefined);
  });

  it('accepts a 204 with no body', () => {
    assert.equal(responseProblem(OPERATIONS.logout, 204, undefined, ''), undefined);
    assert.equal(responseProblem(OPERATIONS.deleteToken, 204, null, ''), undefined);
    assert.equal(responseProblem(OPERATIONS.deleteSession, 204, undefined, ''), undefined);
  });

  it('calls a missing body a problem where one is documented', () => {
    assert.equal(responseProblem(OPERATIONS.health, 200, undefined, ''), 'an empty body');
  });

  it('accepts raw bytes for a file download', () => {
    assert.equal(responseProblem(OPERATIONS.readSessionFile, 200, Buffer.from([0x89, 0x50, 0x4e, 0x47]), 'image/png'), undefined);
  });

  it('accepts a directory listing from the same download route', () => {
    const listing = { path: '/workspace', entries: [{ name: 'a.txt', type: 'file', size: 3, modified: '2024-01-01T00:00:00.000Z' }] };
    assert.equal(responseProblem(OPERATIONS.readSessionFile, 200, listing, JSON_TYPE), undefined);
    assert.match(responseProblem(OPERATIONS.readSessionFile, 200, { entries: [] }, JSON_TYPE) ?? '', /path/);
  });

  it('accepts text and streams only where a non-JSON content type is documented', () => {
    assert.equal(responseProblem(OPERATIONS.metrics, 200, '# HELP x\n', 'text/plain'), undefined);
    assert.equal(responseProblem(OPERATIONS.metrics, 200, Readable.from(['x']), 'text/plain'), undefined);
    assert.equal(responseProblem(OPERATIONS.health, 200, 'ok', 'text/plain'), 'a text/plain body where JSON is documented');
    assert.equal(responseProblem(OPERATIONS.health, 200, Buffer.from('ok'), ''), 'a non-JSON body where JSON is documented');
  });

  it('calls a JSON body a problem where an empty answer is documented', () => {
    assert.equal(responseProblem(OPERATIONS.mcp, 202, { accepted: true }, JSON_TYPE), 'a JSON body where none is documented');
  });

  it('accepts any JSON where JSON without a schema is documented (the MCP answer)', () => {
    assert.equal(responseProblem(OPERATIONS.mcp, 200, { jsonrpc: '2.0', id: 1, result: {} }, JSON_TYPE), undefined);
  });
});
