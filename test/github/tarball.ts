// A gzipped tar of a repository's files, laid out as GitHub's tarball endpoint serves it: one
// top folder `<owner>-<repo>-<short sha>/` holding the tree. Plain ustar, written here: the fake
// needs no archive dependency for a handful of small files.
import { gzipSync } from 'node:zlib';

const BLOCK = 512;

function header(name: string, size: number, type: '0' | '5', mtime: number): Buffer {
  if (Buffer.byteLength(name) > 100) throw new Error(`tar: name longer than 100 bytes: ${name}`);
  const h = Buffer.alloc(BLOCK);
  const put = (text: string, offset: number, length: number) => h.write(text, offset, length, 'utf8');
  const octal = (n: number, offset: number, length: number) => put(`${n.toString(8).padStart(length - 1, '0')}\0`, offset, length);
  put(name, 0, 100);
  octal(type === '5' ? 0o755 : 0o644, 100, 8);
  octal(0, 108, 8); // uid
  octal(0, 116, 8); // gid
  octal(size, 124, 12);
  octal(mtime, 136, 12);
  h.fill(' ', 148, 156); // the checksum counts its own field as spaces
  put(type, 156, 1);
  put('ustar\0', 257, 6);
  put('00', 263, 2);
  let sum = 0;
  for (const b of h) sum += b;
  put(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8);
  return h;
}

/** The tarball of `files` (path → content) under `top/`. */
export function tarball(top: string, files: Record<string, string>, mtime = new Date('2026-01-01T00:00:00Z')): Buffer {
  const seconds = Math.floor(mtime.getTime() / 1000);
  const parts: Buffer[] = [header(`${top}/`, 0, '5', seconds)];
  const dirs = new Set<string>();
  for (const path of Object.keys(files).sort()) {
    const segments = path.split('/');
    for (let n = 1; n < segments.length; n++) {
      const dir = segments.slice(0, n).join('/');
      if (!dirs.has(dir)) {
        dirs.add(dir);
        parts.push(header(`${top}/${dir}/`, 0, '5', seconds));
      }
    }
    const body = Buffer.from(files[path], 'utf8');
    parts.push(header(`${top}/${path}`, body.length, '0', seconds), body, Buffer.alloc((BLOCK - (body.length % BLOCK)) % BLOCK));
  }
  parts.push(Buffer.alloc(BLOCK * 2)); // the end-of-archive marker
  return gzipSync(Buffer.concat(parts));
}
