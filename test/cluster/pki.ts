// Certificates for the local control plane, made with the openssl CLI (ECDSA P-256, one step per
// certificate with `openssl req -x509 -CA`, OpenSSL >= 3.0).
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export interface CertFiles {
  cert: string;
  key: string;
}

export interface CA extends CertFiles {}

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** Escapes one RDN value for openssl's -subj syntax (`/` and `\` are special). */
function rdn(v: string): string {
  return v.replace(/[\\/]/g, (c) => `\\${c}`);
}

export function createCA(dir: string, name: string, cn = name): CA {
  mkdirSync(dir, { recursive: true });
  const cert = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  openssl([
    'req',
    '-x509',
    ...EC,
    '-keyout',
    key,
    '-out',
    cert,
    '-days',
    '30',
    '-subj',
    `/CN=${rdn(cn)}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign,digitalSignature',
  ]);
  return { cert, key };
}

export interface IssueOptions {
  ca: CA;
  dir: string;
  /** file base name */
  name: string;
  commonName: string;
  /** each becomes an O= RDN: Kubernetes reads these as the user's groups */
  organizations?: string[];
  /** DNS names and IP addresses for a serving certificate */
  hosts?: string[];
  usage: 'server' | 'client' | 'both';
  days?: number;
}

export function issueCert(o: IssueOptions): CertFiles {
  mkdirSync(o.dir, { recursive: true });
  const cert = path.join(o.dir, `${o.name}.crt`);
  const key = path.join(o.dir, `${o.name}.key`);
  const subj = [...(o.organizations ?? []).map((g) => `/O=${rdn(g)}`), `/CN=${rdn(o.commonName)}`].join('');
  const eku = o.usage === 'server' ? 'serverAuth' : o.usage === 'client' ? 'clientAuth' : 'serverAuth,clientAuth';
  const args = [
    'req',
    '-x509',
    '-CA',
    o.ca.cert,
    '-CAkey',
    o.ca.key,
    ...EC,
    '-keyout',
    key,
    '-out',
    cert,
    '-days',
    String(o.days ?? 30),
    '-subj',
    subj,
    '-addext',
    'basicConstraints=critical,CA:FALSE',
    '-addext',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    '-addext',
    `extendedKeyUsage=${eku}`,
  ];
  if (o.hosts?.length) {
    const san = o.hosts.map((h) => (/^[\d.]+$|:/.test(h) ? `IP:${h}` : `DNS:${h}`)).join(',');
    args.push('-addext', `subjectAltName=${san}`);
  }
  openssl(args);
  return { cert, key };
}

/** A bare EC private key (used as the service-account token signing key). */
export function createKey(file: string): string {
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', file]);
  return file;
}

export function pem(file: string): string {
  return readFileSync(file, 'utf8');
}
