import assert from 'node:assert/strict';
import { LOGIN_BACKOFF_BASE_MS, LOGIN_BACKOFF_MAX_MS, LOGIN_MAX_FAILURES, LOGIN_WINDOW_MS, LoginLimiter } from '../../api/login-limiter.js';

const T0 = 1_700_000_000_000;

function fail(l: LoginLimiter, times: number, username: string, address: string, at = T0): void {
  for (let i = 0; i < times; i++) l.recordFailure(username, address, at);
}

describe('LoginLimiter', () => {
  it('allows 10 failures per 5 minutes by default', () => {
    assert.equal(LOGIN_MAX_FAILURES, 10);
    assert.equal(LOGIN_WINDOW_MS, 300_000);
  });

  it('lets a first login through', () => {
    assert.equal(new LoginLimiter().retryAfterSec('alice', '10.0.0.1', T0), 0);
  });

  it('lets logins through while failures stay under the limit', () => {
    const l = new LoginLimiter();
    fail(l, LOGIN_MAX_FAILURES - 1, 'alice', '10.0.0.1');
    assert.equal(l.retryAfterSec('alice', '10.0.0.1', T0), 0);
  });

  it('answers a positive Retry-After once the limit is reached: the whole window for failures made just now', () => {
    const l = new LoginLimiter();
    fail(l, LOGIN_MAX_FAILURES, 'alice', '10.0.0.1');
    assert.equal(l.retryAfterSec('alice', '10.0.0.1', T0), 300);
  });

  it('counts Retry-After from the oldest failure still in the window, rounding up to a second', () => {
    const l = new LoginLimiter();
    for (let i = 0; i < LOGIN_MAX_FAILURES; i++) l.recordFailure('alice', '10.0.0.1', T0 + i * 1000);
    assert.equal(l.retryAfterSec('alice', '10.0.0.1', T0 + 60_000), 240);
    assert.equal(l.retryAfterSec('alice', '10.0.0.1', T0 + LOGIN_WINDOW_MS - 500), 1);
  });

  it('lets the user in again when the window has passed', () => {
    const l = new LoginLimiter();
    fail(l, LOGIN_MAX_FAILURES, 'alice', '10.0.0.1');
    assert.ok(l.retryAfterSec('alice', '10.0.0.1', T0 + LOGIN_WINDOW_MS - 1) > 0);
    assert.equal(l.retryAfterSec('alice', '10.0.0.1', T0 + LOGIN_WINDOW_MS), 0);
  });

  it('forgets failures older than the window when counting new ones', () => {
    const l = new LoginLimiter();
    fail(l, LOGIN_MAX_FAILURES - 1, 'alice', '10.0.0.1', T0);
    fail(l, 1, 'alice', '10.0.0.1', T0 + LOGIN_WINDOW_MS + 1);
    assert.equal(l.retryAfterSec('alice', '10.0.0.1', T0 + LOGIN_WINDOW_MS + 1), 0);
  });

  it('never locks a username out from another address: guesses from many addresses only slow it down', () => {
    const l = new LoginLimiter();
    for (let i = 0; i < LOGIN_MAX_FAILURES; i++) l.recordFailure('alice', `10.0.0.${i}`, T0);
    assert.equal(l.retryAfterSec('alice', '192.168.1.1', T0), 0, 'the real user, elsewhere, may log in');
    assert.equal(l.backoffMs('alice', T0), LOGIN_BACKOFF_BASE_MS);
    assert.equal(l.backoffMs('bob', T0), 0);
    l.recordFailure('alice', '10.0.1.1', T0);
    assert.equal(l.backoffMs('alice', T0), 2 * LOGIN_BACKOFF_BASE_MS, 'the delay doubles');
    for (let i = 0; i < 20; i++) l.recordFailure('alice', `10.0.2.${i}`, T0);
    assert.equal(l.backoffMs('alice', T0), LOGIN_BACKOFF_MAX_MS, 'up to a bound');
    assert.equal(l.backoffMs('alice', T0 + LOGIN_WINDOW_MS), 0, 'and forgets after the window');
  });

  it('blocks a username guessed from one address at that address only', () => {
    const l = new LoginLimiter();
    fail(l, LOGIN_MAX_FAILURES, 'alice', '10.0.0.1');
    assert.ok(l.retryAfterSec('alice', '10.0.0.1', T0) > 0);
    assert.equal(l.retryAfterSec('alice', '10.0.0.2', T0), 0);
  });

  it('blocks a guessing address for every username', () => {
    const l = new LoginLimiter();
    for (let i = 0; i < LOGIN_MAX_FAILURES; i++) l.recordFailure(`user${i}`, '10.9.9.9', T0);
    assert.ok(l.retryAfterSec('someone-else', '10.9.9.9', T0) > 0);
    assert.equal(l.retryAfterSec('someone-else', '10.0.0.2', T0), 0);
  });

  it('counts usernames case-insensitively', () => {
    const l = new LoginLimiter();
    for (let i = 0; i < LOGIN_MAX_FAILURES; i++) l.recordFailure(i % 2 ? 'Alice' : 'ALICE', '10.0.0.1', T0);
    assert.ok(l.retryAfterSec('alice', '10.0.0.1', T0) > 0);
    assert.equal(l.backoffMs('aLiCe', T0), LOGIN_BACKOFF_BASE_MS);
  });

  it('clears the username\'s counts on a successful login, whatever its case', () => {
    const l = new LoginLimiter();
    for (let i = 0; i < LOGIN_MAX_FAILURES; i++) l.recordFailure('alice', `10.0.0.${i}`, T0);
    l.recordSuccess('ALICE', '10.0.0.3');
    assert.equal(l.backoffMs('alice', T0), 0);
  });

  it('keeps the address blocked after a successful login from it', () => {
    const l = new LoginLimiter();
    fail(l, LOGIN_MAX_FAILURES, 'alice', '10.0.0.1');
    l.recordSuccess('alice', '10.0.0.1');
    assert.equal(l.retryAfterSec('alice', '10.0.0.2', T0), 0, 'the username is cleared');
    assert.ok(l.retryAfterSec('bob', '10.0.0.1', T0) > 0, 'the address is not');
    assert.ok(l.retryAfterSec('alice', '10.0.0.1', T0) > 0);
  });

  it('forgets everything on reset', () => {
    const l = new LoginLimiter();
    fail(l, LOGIN_MAX_FAILURES, 'alice', '10.0.0.1');
    l.reset();
    assert.equal(l.retryAfterSec('alice', '10.0.0.1', T0), 0);
  });

  it('honours a custom limit and window', () => {
    const l = new LoginLimiter(3, 10_000);
    fail(l, 2, 'alice', '10.0.0.1');
    assert.equal(l.retryAfterSec('alice', '10.0.0.1', T0), 0);
    fail(l, 1, 'alice', '10.0.0.1');
    assert.equal(l.retryAfterSec('alice', '10.0.0.1', T0), 10);
    assert.equal(l.retryAfterSec('alice', '10.0.0.1', T0 + 10_000), 0);
  });

  it('holds at most 10,000 keys: a flood of names drops the least recently used, so memory stays bounded', () => {
    const l = new LoginLimiter();
    fail(l, LOGIN_MAX_FAILURES, 'victim', '10.0.0.1'); // three keys (address, name at address, name), the oldest
    // 3,332 more failures of three keys each: 9,999 keys in all, nothing dropped yet.
    for (let i = 0; i < 3332; i++) l.recordFailure(`u${i}`, `addr-${i}`, T0);
    assert.ok(l.backoffMs('victim', T0) > 0, 'at the cap nothing is dropped');
    for (let i = 0; i < 2; i++) l.recordFailure(`one-more-${i}`, `addr-one-more-${i}`, T0);
    assert.equal(l.backoffMs('victim', T0), 0, 'past the cap the oldest keys are dropped');
    for (let i = 0; i < 20_000; i++) l.recordFailure(`flood${i}`, `flood-addr-${i}`, T0);
    const size = (l as unknown as { failures: Map<string, unknown> }).failures.size;
    assert.ok(size <= 10_000, `${size} keys kept`);
  });

  it('keeps a recently used key through a flood of new names', () => {
    const l = new LoginLimiter();
    fail(l, LOGIN_MAX_FAILURES, 'victim', '10.0.0.1');
    for (let i = 0; i < 1500; i++) l.recordFailure(`u${i}`, `addr-${i}`, T0);
    l.recordFailure('victim', '10.0.0.1', T0); // used again: now the newest
    for (let i = 1500; i < 4500; i++) l.recordFailure(`u${i}`, `addr-${i}`, T0);
    assert.ok(l.backoffMs('victim', T0) > 0);
    assert.ok(l.retryAfterSec('victim', '10.0.0.1', T0) > 0);
  });
});
