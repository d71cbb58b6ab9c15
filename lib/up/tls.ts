// A self-signed serving certificate for the admission server of `posture up` (localhost only).
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Creates (once) `<dir>/tls.crt` and `<dir>/tls.key` for localhost and 127.0.0.1, with openssl. */
export async function selfSignedCertificate(dir: string): Promise<{ certFile: string; keyFile: string }> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const certFile = join(dir, 'tls.crt');
  const keyFile = join(dir, 'tls.key');
  if (existsSync(certFile) && existsSync(keyFile)) return { certFile, keyFile };
  try {
    await run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '365',
      '-subj',
      '/CN=posture-admission',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '-keyout',
      keyFile,
      '-out',
      certFile,
    ]);
  } catch (err) {
    throw new Error(
      `cannot generate a self-signed certificate with openssl (${(err as Error).message.split('\n')[0]}); set POSTURE_TLS_CERT_FILE and POSTURE_TLS_KEY_FILE`,
    );
  }
  return { certFile, keyFile };
}
