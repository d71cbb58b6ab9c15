// Loaded into every process of the unit tier (`node --import`, see tiers.ts): neither database
// opens, so a unit test that reaches one through the code under test (the CLI opening the embedded
// database, a runtime connecting to DATABASE_URL) fails saying so instead of passing slowly.
// tiers.test.ts catches the imports; this catches what imports cannot show. The drivers are
// patched as they load: loading them here would slow every unit test process, most of which never touch them.
import { registerHooks } from 'node:module';

const refuse = (what: string) => `throw new Error('a unit test opened ${what}: database tests are named *.db.test.ts (test/tiers.ts)')`;
const shapeCheck = (member: string) =>
  `if (typeof module.exports.prototype.${member} !== 'function') throw new Error('test/no-database.ts: the driver changed shape; update the guard');`;

// knex-pglite creates the PGlite instance in knex's driver hook; PostgreSQL connects through pg.Client.
const patches: Array<[RegExp, string]> = [
  [
    /\/node_modules\/knex-pglite\/dist\/index\.js$/,
    `${shapeCheck('_driver')} module.exports.prototype._driver = () => { ${refuse('the embedded database (PGlite)')}; };`,
  ],
  [
    /\/node_modules\/pg\/lib\/client\.js$/,
    `${shapeCheck('connect')} module.exports.prototype.connect = function (callback) {
    try { ${refuse('a PostgreSQL connection')}; } catch (e) { if (callback) return void process.nextTick(callback, e); return Promise.reject(e); }
  };`,
  ],
];

registerHooks({
  load(url, context, nextLoad) {
    const loaded = nextLoad(url, context);
    const patch = patches.find(([file]) => file.test(url));
    return patch ? { ...loaded, source: `${loaded.source}\n;${patch[1]}\n` } : loaded;
  },
});
