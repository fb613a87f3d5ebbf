import assert from 'node:assert/strict';
import { rowsTouched } from '../../db/index.js';

describe('rowsTouched', () => {
  it('takes the number knex over pg answers', () => {
    assert.equal(rowsTouched(3), 3);
    assert.equal(rowsTouched(0), 0);
  });

  it('reads affectedRows from a PGlite result object', () => {
    assert.equal(rowsTouched({ affectedRows: 2, rows: [], fields: [] }), 2);
  });

  it('reads rowCount from a driver result object', () => {
    assert.equal(rowsTouched({ rowCount: 1, rows: [] }), 1);
  });

  it('prefers affectedRows when both are given', () => {
    assert.equal(rowsTouched({ affectedRows: 4, rowCount: 9 }), 4);
  });

  it('counts nothing touched for undefined, null or garbage', () => {
    for (const r of [undefined, null, {}, 'many', { affectedRows: 'lots' }, { rowCount: {} }, []]) {
      assert.equal(rowsTouched(r), 0, JSON.stringify(r));
    }
  });
});
