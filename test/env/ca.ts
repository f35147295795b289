import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** A PEM certificate with its key, as files and as text. */
export interface IssuedCertificate {
  certPath: string;
  keyPath: string;
  /** Key and certificate in one PEM file, as an AzureRM service connection holds them. */
  bundlePath: string;
  certPem: string;
  keyPem: string;
  /** base64url(SHA-256 of the DER certificate): the `x5t#S256` MSAL puts in client assertions. */
  thumbprintS256: string;
  /** base64 DER, as in a JWT `x5c` header. */
  derBase64: string;
}

/**
 * The certificate authority of one run of the environment. Every emulator serves HTTPS with a certificate it
 * issues for 127.0.0.1, localhost and ::1; clients trust it through NODE_EXTRA_CA_CERTS, as a self-hosted agent
 * trusts a company CA.
 */
export class CertificateAuthority {
  readonly caCertPath: string;
  readonly caKeyPath: string;
  readonly server: IssuedCertificate;

  private constructor(readonly dir: string) {
    this.caCertPath = path.join(dir, 'ca.crt');
    this.caKeyPath = path.join(dir, 'ca.key');
    openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-keyout', this.caKeyPath, '-out', this.caCertPath,
      '-subj', '/CN=AKS Secure Delivery test CA', '-addext', 'basicConstraints=critical,CA:TRUE',
      '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
    this.server = this.issue('localhost', {
      ext: 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost,IP:::1\n',
    });
  }

  static create(dir: string): CertificateAuthority {
    fs.mkdirSync(dir, { recursive: true });
    return new CertificateAuthority(dir);
  }

  get caPem(): string {
    return fs.readFileSync(this.caCertPath, 'utf8');
  }

  /** A certificate signed by the CA (server by default; pass an ext for client certificates). */
  issue(name: string, { ext = 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n' } = {}): IssuedCertificate {
    const base = path.join(this.dir, name.replace(/[^a-z0-9.-]/gi, '_'));
    const keyPath = `${base}.key`;
    const certPath = `${base}.crt`;
    openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyPath, '-out', `${base}.csr`, '-subj', `/CN=${name}`]);
    fs.writeFileSync(`${base}.ext`, ext);
    openssl(['x509', '-req', '-in', `${base}.csr`, '-CA', this.caCertPath, '-CAkey', this.caKeyPath, '-CAcreateserial',
      '-days', '2', '-out', certPath, '-extfile', `${base}.ext`]);
    return describe(certPath, keyPath);
  }

  /** A self-signed certificate, as an app registration holds for certificate credentials. */
  selfSigned(name: string): IssuedCertificate {
    const base = path.join(this.dir, name.replace(/[^a-z0-9.-]/gi, '_'));
    openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-keyout', `${base}.key`, '-out', `${base}.crt`, '-subj', `/CN=${name}`]);
    return describe(`${base}.crt`, `${base}.key`);
  }
}

function describe(certPath: string, keyPath: string): IssuedCertificate {
  const certPem = fs.readFileSync(certPath, 'utf8');
  const keyPem = fs.readFileSync(keyPath, 'utf8');
  const bundlePath = certPath.replace(/\.crt$/, '.pem');
  fs.writeFileSync(bundlePath, keyPem + certPem, { mode: 0o600 });
  const der = new X509Certificate(certPem).raw;
  return {
    certPath, keyPath, bundlePath, certPem, keyPem,
    thumbprintS256: createHash('sha256').update(der).digest('base64url'),
    derBase64: der.toString('base64'),
  };
}

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A directory with the CA certificate as skopeo's --cert-dir options expect it (`ca.crt`). */
export function skopeoCertDir(caFile: string, dir: string): string {
  fs.mkdirSync(dir, { recursive: true });
  fs.copyFileSync(caFile, path.join(dir, 'ca.crt'));
  return dir;
}
