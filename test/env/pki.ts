// The local control plane's PKI, made with node-forge: a serving CA and the API server's
// serving certificate, a client CA whose certificates the API server trusts as identities
// (CN = user, O = groups), and the service-account signing key pair.

import { randomBytes } from 'node:crypto';
import forge from 'node-forge';

const { pki } = forge;

export interface PemPair {
  certPem: string;
  keyPem: string;
}

const DAY_MS = 24 * 60 * 60 * 1000;

function newKeys(): forge.pki.rsa.KeyPair {
  // node-forge uses Node's native generator when it can, so this takes milliseconds.
  return pki.rsa.generateKeyPair({ bits: 2048, e: 0x10001 });
}

function serial(): string {
  // Positive (high bit clear), 16 random bytes.
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return bytes.toString('hex');
}

function validity(cert: forge.pki.Certificate, days: number): void {
  const now = Date.now();
  cert.validity.notBefore = new Date(now - 5 * 60 * 1000); // tolerate small clock skew
  cert.validity.notAfter = new Date(now + days * DAY_MS);
}

export function createCa(commonName: string, days = 365): PemPair {
  const keys = newKeys();
  const cert = pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = serial();
  validity(cert, days);
  const subject = [{ name: 'commonName', value: commonName }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return { certPem: pki.certificateToPem(cert), keyPem: pki.privateKeyToPem(keys.privateKey) };
}

function issue(
  ca: PemPair,
  subject: forge.pki.CertificateField[],
  extensions: object[],
  days: number,
): PemPair {
  const caCert = pki.certificateFromPem(ca.certPem);
  const caKey = pki.privateKeyFromPem(ca.keyPem);
  const keys = newKeys();
  const cert = pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = serial();
  validity(cert, days);
  cert.setSubject(subject);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
    ...extensions,
  ]);
  cert.sign(caKey, forge.md.sha256.create());
  return { certPem: pki.certificateToPem(cert), keyPem: pki.privateKeyToPem(keys.privateKey) };
}

/** Serving certificate for the API server, valid for its loopback address and in-cluster names. */
export function issueServingCert(ca: PemPair, dnsNames: string[], ips: string[], days = 365): PemPair {
  return issue(
    ca,
    [{ name: 'commonName', value: 'kube-apiserver' }],
    [
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [...dnsNames.map((value) => ({ type: 2, value })), ...ips.map((ip) => ({ type: 7, ip }))],
      },
    ],
    days,
  );
}

/** Client certificate: the API server authenticates it as user `user` in `groups`. */
export function issueClientCert(ca: PemPair, user: string, groups: string[], days = 365): PemPair {
  return issue(
    ca,
    [
      { name: 'commonName', value: user },
      ...groups.map((value) => ({ name: 'organizationName', value })),
    ],
    [
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', clientAuth: true },
    ],
    days,
  );
}

/** Key pair the API server signs (and verifies) service-account tokens with. */
export function createServiceAccountKeys(): { publicPem: string; privatePem: string } {
  const keys = newKeys();
  return { publicPem: pki.publicKeyToPem(keys.publicKey), privatePem: pki.privateKeyToPem(keys.privateKey) };
}
