// Migration 010 (sources, listing pages, retired repositories, imported results): up, its rules,
// and down again, on both databases.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { repoOrThrow } from '../repo/identity.ts';
import { addRepos, claimDueRepos, getRepo, migrate, migrateDownOne } from './index.ts';
import { addSource, applySourceChanges, claimDueSources, listSources } from './sources.ts';
import { describeEachFreshDatabase } from './testing.ts';

const NOW = new Date('2030-01-01T00:00:00Z');

describeEachFreshDatabase('migration 010: sources', (ctx) => {
  test('a retired repository is held past any claim, whoever sets its due time; restored, it is due again', async () => {
    await migrate(ctx.db, { to: '010_sources' });
    await addRepos(ctx.db, [{ repo: repoOrThrow('o/kept') }, { repo: repoOrThrow('o/archived') }]);
    const { source } = await addSource(ctx.db, { host: 'github.com', name: 'o', includeArchived: false, includeForks: false, topic: null });
    const applied = await applySourceChanges(
      ctx.db,
      source.id,
      { add: [], adopt: ['github.com/o/kept', 'github.com/o/archived'], retire: [{ key: 'github.com/o/archived', reason: 'archived' }], restore: [] },
      NOW,
    );
    assert.deepEqual(applied, { added: 0, adopted: 2, retired: 1, restored: 0 });
    await ctx.db('repos').update({ next_due_at: new Date('2000-01-01T00:00:00Z') });
    const claims = await claimDueRepos(ctx.db, { owner: 't', limit: 10, leaseSeconds: 60, now: NOW });
    assert.deepEqual(
      claims.map((c) => c.key),
      ['github.com/o/kept'],
    );
    assert.equal(new Date((await getRepo(ctx.db, 'github.com/o/archived'))!.next_due_at).toISOString(), '9999-12-31T00:00:00.000Z');
    const again = await applySourceChanges(
      ctx.db,
      source.id,
      { add: [], adopt: [], retire: [{ key: 'github.com/o/archived', reason: 'archived' }], restore: [] },
      NOW,
    );
    assert.equal(again.retired, 0, 'retiring it again changes nothing');
    await applySourceChanges(ctx.db, source.id, { add: [], adopt: [], retire: [], restore: ['github.com/o/archived'] }, NOW);
    assert.equal(new Date((await getRepo(ctx.db, 'github.com/o/archived'))!.next_due_at).toISOString(), NOW.toISOString());
    // A due source is claimed once: a second claim at the same time finds it pushed to its next discovery.
    assert.equal((await claimDueSources(ctx.db, { now: new Date(Date.now() + 1000), intervalSeconds: 3600, limit: 5 })).length, 1);
    assert.equal((await claimDueSources(ctx.db, { now: new Date(Date.now() + 1000), intervalSeconds: 3600, limit: 5 })).length, 0);
    assert.equal((await listSources(ctx.db))[0].repos, 2);
  });

  test('down removes it (imported results with it) and up again', async () => {
    assert.deepEqual(await migrateDownOne(ctx.db), ['010_sources']);
    assert.equal(Object.hasOwn(await ctx.db('repos').columnInfo(), 'retired_at'), false);
    assert.deepEqual(await migrate(ctx.db, { to: '010_sources' }), ['010_sources']);
    assert.equal(Object.hasOwn(await ctx.db('repos').columnInfo(), 'retired_at'), true);
  });
});
