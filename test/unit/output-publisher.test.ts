import assert from 'node:assert/strict';
import { OutputPublisher, OUTPUT_BATCH_MS } from '../../activities/output-publisher.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const silent = { warn() {} } as never;

describe('output publisher (chunks of running work, for streams)', () => {
  it('posts nothing for work that ends within its batch time, even while other streams are posted', async () => {
    const posts: string[][] = [];
    const pub = new OutputPublisher(async (body) => { posts.push(body.streams.map((s) => s.stream_id)); }, silent);
    const long = pub.sink('long', 0, 'grant-long');
    const short = pub.sink('short', 0, 'grant-short');
    long({ stream: 'stdout', text: 'a' });
    await sleep(OUTPUT_BATCH_MS - 8);
    short({ stream: 'stdout', text: 'b' });
    await sleep(10); // the long stream's batch time passed: it is posted, the short one is not yet due
    pub.finish('short');
    await sleep(OUTPUT_BATCH_MS + 10);
    assert.deepEqual(posts, [['long']]);
    pub.finish('long');
    await pub.flush();
  });

  it('posts a live stream in order and its last chunks when the work ends', async () => {
    const chunks: Array<{ seq: number; text: string }> = [];
    const grants: string[] = [];
    const pub = new OutputPublisher(async (body) => { for (const s of body.streams) { chunks.push(...s.chunks); grants.push(s.grant); } }, silent);
    const sink = pub.sink('s', 1_000_000, 'grant-s');
    sink({ stream: 'stdout', text: 'one' });
    await sleep(OUTPUT_BATCH_MS + 10);
    sink({ stream: 'stderr', text: 'two' });
    pub.finish('s');
    await pub.flush();
    assert.deepEqual(chunks.map((c) => [c.seq, c.text]), [[1_000_000, 'one'], [1_000_001, 'two']]);
    // Every post carries the stream's grant, the last one (sent as the work ends) too.
    assert.deepEqual(grants, ['grant-s', 'grant-s']);
  });
});
