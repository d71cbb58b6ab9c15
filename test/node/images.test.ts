// The pieces of the real-node tier that need no node: the images written from files (read back
// with GNU tar, as a different reader than ours), and iptables-save lines turned back into argv.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { dockerArchive, scorecardImage, tar } from '../cluster/images.ts';
import { ruleArgs } from '../cluster/node.ts';
import { SCORECARD_VERSIONS } from '../cluster/tools.ts';

const work = mkdtempSync(path.join(os.tmpdir(), 'posture-images-test-'));
after(() => rmSync(work, { recursive: true, force: true }));

function extract(archive: string, into: string): void {
  execFileSync('mkdir', ['-p', into]);
  execFileSync('tar', ['-xf', archive, '-C', into, '--same-owner', '--same-permissions']);
}

test('tar() writes an archive GNU tar reads back byte for byte: modes, owners, long names, empty and odd-sized files', () => {
  const deep = `${'d'.repeat(60)}/${'e'.repeat(60)}`;
  const long = `${deep}/${'f'.repeat(90)}`;
  const data = Buffer.from('x'.repeat(513));
  const file = path.join(work, 'a.tar');
  writeFileSync(
    file,
    tar([
      { name: 'dir', type: 'dir', mode: 0o1777 },
      { name: 'dir/f', type: 'file', mode: 0o640, uid: 65532, gid: 65532, data },
      { name: 'empty', type: 'file', mode: 0o600 },
      { name: 'd'.repeat(60), type: 'dir', mode: 0o755 },
      { name: deep, type: 'dir', mode: 0o755 },
      { name: long, type: 'file', mode: 0o644, data: Buffer.from('long') },
    ]),
  );
  const out = path.join(work, 'a');
  extract(file, out);
  assert.equal(statSync(path.join(out, 'dir')).mode & 0o7777, 0o1777);
  const f = statSync(path.join(out, 'dir/f'));
  assert.deepEqual([f.mode & 0o7777, f.uid, f.gid, f.size], [0o640, 65532, 65532, 513]);
  assert.equal(readFileSync(path.join(out, 'empty'), 'utf8'), '');
  assert.equal(readFileSync(path.join(out, long), 'utf8'), 'long');
});

test("a Scorecard image is laid out like upstream's: /scorecard as ENTRYPOINT, user 65532 in /etc/passwd, the CA bundle, /tmp 1777, tagged ghcr.io/ossf/scorecard:<version>", () => {
  const version = SCORECARD_VERSIONS[0];
  const img = scorecardImage(version);
  assert.equal(img.ref, `ghcr.io/ossf/scorecard:${version}`);
  const out = path.join(work, 'sc');
  extract(img.tar, out);
  const [manifest] = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8'));
  assert.deepEqual(manifest.RepoTags, [img.ref]);
  const config = JSON.parse(readFileSync(path.join(out, manifest.Config), 'utf8'));
  assert.deepEqual([config.config.Entrypoint, config.config.User, config.os, config.architecture], [['/scorecard'], '65532', 'linux', 'amd64']);
  const layer = path.join(out, 'rootfs');
  extract(path.join(out, manifest.Layers[0]), layer);
  const digest = execFileSync('sha256sum', [path.join(out, manifest.Layers[0])], { encoding: 'utf8' }).split(' ')[0];
  assert.deepEqual(config.rootfs.diff_ids, [`sha256:${digest}`]);
  assert.match(readFileSync(path.join(layer, 'etc/passwd'), 'utf8'), /^nonroot:x:65532:65532:/m);
  assert.equal(statSync(path.join(layer, 'tmp')).mode & 0o7777, 0o1777);
  assert.equal(statSync(path.join(layer, 'scorecard')).mode & 0o7777, 0o755);
  assert.deepEqual(readFileSync(path.join(layer, 'etc/ssl/certs/ca-certificates.crt')), readFileSync('/etc/ssl/certs/ca-certificates.crt'));
  assert.match(execFileSync(path.join(layer, 'scorecard'), ['version'], { encoding: 'utf8' }), new RegExp(version.replace(/\./g, '\\.')));
});

test('an image archive is written once: the same content is the same file, other content another', (t) => {
  // into a cache of this test's own, not ~/.cache/posture
  const cache = process.env.POSTURE_CACHE;
  process.env.POSTURE_CACHE = path.join(work, 'cache');
  t.after(() => {
    if (cache === undefined) delete process.env.POSTURE_CACHE;
    else process.env.POSTURE_CACHE = cache;
  });
  const spec = (text: string) => ({
    tags: ['posture.test/same:1'],
    layer: [{ name: 'f', type: 'file' as const, mode: 0o644, data: Buffer.from(text) }],
    config: {},
  });
  const a = dockerArchive(spec('one'));
  const mtime = statSync(a.tar).mtimeMs;
  assert.equal(dockerArchive(spec('one')).tar, a.tar);
  assert.equal(statSync(a.tar).mtimeMs, mtime);
  assert.notEqual(dockerArchive(spec('two')).tar, a.tar);
  assert.ok(a.tar.startsWith(path.join(work, 'cache')));
});

test('iptables-save rules split back into the argv that deletes them: quoted comments, escaped quotes, negations', () => {
  assert.deepEqual(ruleArgs('-A POSTROUTING -s 10.244.250.2/32 -m comment --comment "name: \\"posture-node\\" id: abc" -j CNI-1'), [
    '-A',
    'POSTROUTING',
    '-s',
    '10.244.250.2/32',
    '-m',
    'comment',
    '--comment',
    'name: "posture-node" id: abc',
    '-j',
    'CNI-1',
  ]);
  assert.deepEqual(ruleArgs('-A CNI-1 ! -d 224.0.0.0/4 -j MASQUERADE'), ['-A', 'CNI-1', '!', '-d', '224.0.0.0/4', '-j', 'MASQUERADE']);
  assert.deepEqual(ruleArgs('-A X -m comment --comment "" -j ACCEPT'), ['-A', 'X', '-m', 'comment', '--comment', '', '-j', 'ACCEPT']);
});
