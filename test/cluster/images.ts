// Container images for the real-node tier, built from files: no registry is reachable here and no
// image tooling is needed. Each is a docker-archive tarball (manifest.json, a config JSON and one
// layer tar) that `ctr images import` accepts, written into the cache keyed by its content, so a
// second run writes nothing:
//   pauseImage()            the pod sandbox: our own tools/pause program (built with go)
//   scorecardImage(version) laid out like upstream's ghcr.io/ossf/scorecard:<version> (binary as
//                           ENTRYPOINT, the host's CA bundle, nonroot 65532, /tmp 1777), under
//                           that very name, so posture's default Job spec runs it unchanged
//   rootUserImage()         the pause program with no USER: runs as root (runAsNonRoot refuses it)
//   httpGetImage()          our tools/httpget, nonroot: an HTTPS GET from a pod, into its log
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { cacheDir, HERE } from './config.ts';
import { scorecardBin } from './tools.ts';

export interface TarEntry {
  /** path inside the archive, no leading slash; directories end without slash */
  name: string;
  type: 'file' | 'dir';
  mode: number;
  uid?: number;
  gid?: number;
  data?: Buffer;
}

function octal(n: number, width: number): string {
  return `${n.toString(8).padStart(width - 1, '0')}\0`;
}

/** A POSIX ustar archive, deterministic (mtime 0, no user names). Names must fit ustar's 100+155. */
export function tar(entries: TarEntry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    let name = e.type === 'dir' ? `${e.name}/` : e.name;
    let prefix = '';
    if (Buffer.byteLength(name) > 100) {
      const cut = name.lastIndexOf('/', name.length - 2);
      prefix = name.slice(0, cut);
      name = name.slice(cut + 1);
      if (Buffer.byteLength(name) > 100 || Buffer.byteLength(prefix) > 155) throw new Error(`tar: name too long: ${e.name}`);
    }
    const data = e.type === 'file' ? (e.data ?? Buffer.alloc(0)) : Buffer.alloc(0);
    const h = Buffer.alloc(512);
    h.write(name, 0, 100);
    h.write(octal(e.mode & 0o7777, 8), 100);
    h.write(octal(e.uid ?? 0, 8), 108);
    h.write(octal(e.gid ?? 0, 8), 116);
    h.write(octal(data.length, 12), 124);
    h.write(octal(0, 12), 136);
    h.write('        ', 148); // the checksum is computed with its own field as spaces
    h.write(e.type === 'dir' ? '5' : '0', 156);
    h.write('ustar\0', 257);
    h.write('00', 263);
    h.write(prefix, 345, 155);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
    blocks.push(h, data);
    if (data.length % 512) blocks.push(Buffer.alloc(512 - (data.length % 512)));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

export interface ImageSpec {
  /** the names the image is imported under, e.g. ghcr.io/ossf/scorecard:v5.5.0 */
  tags: string[];
  layer: TarEntry[];
  config: { User?: string; Entrypoint?: string[]; Cmd?: string[]; Env?: string[]; WorkingDir?: string };
}

export interface ImageArchive {
  /** the first tag: what a pod's `image:` names */
  ref: string;
  tags: string[];
  /** the docker-archive tarball for `ctr images import` */
  tar: string;
}

/** Writes (or finds) the docker-archive tarball of spec in the cache, keyed by its content. */
export function dockerArchive(spec: ImageSpec): ImageArchive {
  const layer = tar(spec.layer);
  const diffId = sha256(layer);
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      created: '1970-01-01T00:00:00Z',
      config: spec.config,
      rootfs: { type: 'layers', diff_ids: [`sha256:${diffId}`] },
      history: [{ created: '1970-01-01T00:00:00Z', created_by: 'posture test/cluster/images.ts' }],
    }),
  );
  const configId = sha256(config);
  const manifest = Buffer.from(JSON.stringify([{ Config: `${configId}.json`, RepoTags: spec.tags, Layers: [`${diffId}/layer.tar`] }]));
  const key = sha256(Buffer.concat([config, manifest])).slice(0, 16);
  const dir = path.join(cacheDir(), 'images');
  const file = path.join(dir, `${spec.tags[0].replace(/[^A-Za-z0-9._-]+/g, '_')}-${key}.tar`);
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true });
    const archive = tar([
      { name: 'manifest.json', type: 'file', mode: 0o644, data: manifest },
      { name: `${configId}.json`, type: 'file', mode: 0o644, data: config },
      { name: diffId, type: 'dir', mode: 0o755 },
      { name: `${diffId}/layer.tar`, type: 'file', mode: 0o644, data: layer },
    ]);
    // written under a temporary name first, so a run cut short never leaves a half archive
    writeFileSync(`${file}.partial`, archive);
    renameSync(`${file}.partial`, file);
  }
  return { ref: spec.tags[0], tags: spec.tags, tar: file };
}

/** Builds test/cluster/tools/<name> (a small Go program of ours) into the cache, keyed by its source. */
export function goTool(name: 'pause' | 'httpget'): string {
  const srcDir = path.join(HERE, 'tools', name);
  const src = ['go.mod', 'main.go'].map((f) => readFileSync(path.join(srcDir, f), 'utf8')).join('\0');
  const out = path.join(cacheDir(), `${name}-${sha256(src).slice(0, 12)}`, 'bin', name);
  if (!existsSync(out)) {
    mkdirSync(path.dirname(out), { recursive: true });
    try {
      execFileSync('go', ['build', '-trimpath', '-ldflags=-s -w', '-o', `${out}.partial`, '.'], {
        cwd: srcDir,
        env: { ...process.env, CGO_ENABLED: '0', GOTOOLCHAIN: 'local' },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
    } catch (e) {
      throw new Error(`building ${srcDir} failed (needs go on PATH): ${(e as { stderr?: Buffer }).stderr ?? e}`);
    }
    renameSync(`${out}.partial`, out);
  }
  return out;
}

/** The pod sandbox image: the pause program as ENTRYPOINT, nothing else. */
export function pauseImage(): ImageArchive {
  const bin = readFileSync(goTool('pause'));
  const key = sha256(bin).slice(0, 12);
  return dockerArchive({
    tags: [`posture.test/pause:${key}`],
    layer: [{ name: 'pause', type: 'file', mode: 0o755, data: bin }],
    config: { User: '65535', Entrypoint: ['/pause'] },
  });
}

/** An image whose user is root (no USER): what runAsNonRoot must refuse. */
export function rootUserImage(): ImageArchive {
  const bin = readFileSync(goTool('pause'));
  return dockerArchive({
    tags: [`posture.test/runs-as-root:${sha256(bin).slice(0, 12)}`],
    layer: [{ name: 'pause', type: 'file', mode: 0o755, data: bin }],
    config: { Entrypoint: ['/pause'] },
  });
}

/** tools/httpget as nonroot 65532: an HTTPS GET from a pod (trusting SSL_CERT_FILE), printed to its log. */
export function httpGetImage(): ImageArchive {
  const bin = readFileSync(goTool('httpget'));
  return dockerArchive({
    tags: [`posture.test/httpget:${sha256(bin).slice(0, 12)}`],
    layer: [{ name: 'httpget', type: 'file', mode: 0o755, data: bin }],
    config: { User: '65532', Entrypoint: ['/httpget'] },
  });
}

export const HOST_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

/**
 * Scorecard's image as upstream lays it out (distroless base, nonroot): /scorecard as ENTRYPOINT,
 * a CA bundle, /etc/passwd and /etc/group with nonroot 65532 and its home, /tmp 1777, USER 65532.
 */
export function scorecardImage(version: string): ImageArchive {
  const bin = readFileSync(scorecardBin(version));
  if (!existsSync(HOST_CA_BUNDLE)) throw new Error(`${HOST_CA_BUNDLE} is missing: install Debian's ca-certificates`);
  const text = (s: string) => Buffer.from(s);
  return dockerArchive({
    tags: [`ghcr.io/ossf/scorecard:${version}`],
    layer: [
      { name: 'etc', type: 'dir', mode: 0o755 },
      {
        name: 'etc/passwd',
        type: 'file',
        mode: 0o644,
        data: text(
          'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n',
        ),
      },
      { name: 'etc/group', type: 'file', mode: 0o644, data: text('root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n') },
      { name: 'etc/ssl', type: 'dir', mode: 0o755 },
      { name: 'etc/ssl/certs', type: 'dir', mode: 0o755 },
      { name: 'etc/ssl/certs/ca-certificates.crt', type: 'file', mode: 0o644, data: readFileSync(HOST_CA_BUNDLE) },
      { name: 'home', type: 'dir', mode: 0o755 },
      { name: 'home/nonroot', type: 'dir', mode: 0o700, uid: 65532, gid: 65532 },
      { name: 'tmp', type: 'dir', mode: 0o1777 },
      { name: 'scorecard', type: 'file', mode: 0o755, data: bin },
    ],
    config: {
      User: '65532',
      Entrypoint: ['/scorecard'],
      Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', `SSL_CERT_FILE=${HOST_CA_BUNDLE}`],
      WorkingDir: '/home/nonroot',
    },
  });
}
