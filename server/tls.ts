// The webhook's own TLS, without cert-manager: a CA and a serving certificate made with node-forge,
// kept in one Secret, the CA injected as caBundle into the webhook configurations, renewed well
// before expiry and reloaded without a restart.
//
// CA rotation overlaps: (1) a new CA is made and the bundle trusts old and new, while the serving
// certificate is still the old CA's; (2) after `overlapMs` the serving certificate is re-issued by
// the new CA; (3) after another `overlapMs` the old CA leaves the bundle. Replicas never fight:
// every write carries the resourceVersion it read, and the loser re-reads.
import { randomBytes } from 'node:crypto';
import forge from 'node-forge';
import type { Logger } from './log.js';
import type { KubeRest} from './kube/rest.js';
import { isAlreadyExists, isConflict, isNotFound, paths } from './kube/rest.js';

export interface TlsBundle {
  caCert: string;
  caKey: string;
  previousCaCert?: string;
  cert: string;
  key: string;
}

export interface WebhookTlsOptions {
  rest: KubeRest;
  log: Logger;
  namespace: string;
  secretName: string;
  dnsNames: string[];
  ipAddresses: string[];
  caLifetimeMs?: number;
  certLifetimeMs?: number;
  /** How long old and new CA are both trusted during a CA rotation. */
  overlapMs?: number;
  now?: () => number;
}

const DAY = 24 * 3600 * 1000;
const ANNOTATION_PHASE_AT = 'gateway-orchestrator.io/ca-rotation-phase-at';

interface SecretObject {
  metadata: { name: string; namespace: string; resourceVersion?: string; annotations?: Record<string, string>; labels?: Record<string, string> };
  type?: string;
  data?: Record<string, string>;
}

export class WebhookTls {
  private current: TlsBundle | undefined;
  private readonly caLifetimeMs: number;
  private readonly certLifetimeMs: number;
  private readonly overlapMs: number;
  private readonly now: () => number;

  constructor(private readonly options: WebhookTlsOptions) {
    this.caLifetimeMs = options.caLifetimeMs ?? 5 * 365 * DAY;
    this.certLifetimeMs = options.certLifetimeMs ?? 90 * DAY;
    this.overlapMs = options.overlapMs ?? 10 * 60 * 1000;
    this.now = options.now ?? Date.now;
  }

  get bundle(): TlsBundle | undefined {
    return this.current;
  }

  /** PEM bundle the API server should trust: the current CA, plus the previous one while it overlaps. */
  caBundle(): string {
    if (!this.current) throw new Error('TLS not loaded yet');
    return this.current.previousCaCert ? `${this.current.caCert}${this.current.previousCaCert}` : this.current.caCert;
  }

  /**
   * Loads the Secret (creating it when missing) and moves any due renewal or rotation one step.
   * Returns true when the serving certificate changed and the server should reload it.
   */
  async sync(options: { forceCaRotation?: boolean; forceCertRenewal?: boolean } = {}): Promise<boolean> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const secret = await this.readSecret();
      if (!secret) {
        const bundle = this.issueFresh();
        try {
          await this.options.rest.create(paths.secrets(this.options.namespace), this.toSecret(bundle, undefined, {}));
          return this.adopt(bundle);
        } catch (err) {
          if (isAlreadyExists(err)) continue; // another replica was first: use theirs
          throw err;
        }
      }
      const loaded = fromSecret(secret);
      if (!loaded) throw new Error(`Secret ${this.options.namespace}/${this.options.secretName} is not a usable webhook TLS secret; delete it to have it re-created`);
      const next = this.nextStep(loaded, secret, options);
      if (!next) return this.adopt(loaded);
      try {
        await this.options.rest.replace(paths.secrets(this.options.namespace, this.options.secretName), this.toSecret(next.bundle, secret.metadata.resourceVersion, next.annotations));
        this.options.log.info({ step: next.step, secret: this.options.secretName }, 'webhook TLS rotated');
        options = {};
        return this.adopt(next.bundle);
      } catch (err) {
        if (isConflict(err)) continue; // another replica rotated first: re-read
        throw err;
      }
    }
    throw new Error('webhook TLS secret kept changing under us');
  }

  /** Writes caBundle into every webhook of the named configurations, when it differs. */
  async injectCaBundle(names: { validating?: string; mutating?: string }): Promise<void> {
    const caBundle = Buffer.from(this.caBundle()).toString('base64');
    const targets: Array<[string, string | undefined]> = [
      [paths.validatingWebhooks(names.validating), names.validating],
      [paths.mutatingWebhooks(names.mutating), names.mutating],
    ];
    for (const [path, name] of targets) {
      if (!name) continue;
      let config: { webhooks?: Array<{ clientConfig?: { caBundle?: string } }> };
      try {
        config = await this.options.rest.get(path);
      } catch (err) {
        if (isNotFound(err)) continue; // not installed (yet): nothing to inject
        throw err;
      }
      const patch = (config.webhooks ?? [])
        .map((w, i) => (w.clientConfig?.caBundle === caBundle ? undefined : { op: 'replace', path: `/webhooks/${i}/clientConfig/caBundle`, value: caBundle }))
        .filter((op) => op !== undefined);
      // "add" works whether or not the field exists; "replace" needs it to exist.
      if (patch.length) await this.options.rest.patch(path, 'json', patch.map((op) => ({ ...op, op: 'add' })));
    }
  }

  private adopt(bundle: TlsBundle): boolean {
    const changed = this.current?.cert !== bundle.cert || this.current?.previousCaCert !== bundle.previousCaCert || this.current?.caCert !== bundle.caCert;
    this.current = bundle;
    return changed;
  }

  private nextStep(
    bundle: TlsBundle,
    secret: SecretObject,
    options: { forceCaRotation?: boolean; forceCertRenewal?: boolean },
  ): { bundle: TlsBundle; annotations: Record<string, string>; step: string } | undefined {
    const now = this.now();
    const phaseAt = Number(secret.metadata.annotations?.[ANNOTATION_PHASE_AT] ?? 0);
    const ca = forge.pki.certificateFromPem(bundle.caCert);
    const cert = forge.pki.certificateFromPem(bundle.cert);
    const servedByCurrentCa = cert.issuer.hash === ca.subject.hash && verifies(ca, cert);

    if (bundle.previousCaCert) {
      // Overlap in progress.
      if (!servedByCurrentCa) {
        if (now - phaseAt < this.overlapMs) return undefined;
        return { bundle: { ...bundle, ...this.issueServing(bundle) }, annotations: { [ANNOTATION_PHASE_AT]: String(now) }, step: 'serving certificate from new CA' };
      }
      if (now - phaseAt < this.overlapMs) return undefined;
      const { previousCaCert: _dropped, ...rest } = bundle;
      return { bundle: rest, annotations: {}, step: 'previous CA retired' };
    }
    const caRemaining = ca.validity.notAfter.getTime() - now;
    if (options.forceCaRotation || caRemaining < this.caLifetimeMs / 3) {
      const fresh = makeCa(now, this.caLifetimeMs);
      return { bundle: { ...bundle, previousCaCert: bundle.caCert, caCert: fresh.cert, caKey: fresh.key }, annotations: { [ANNOTATION_PHASE_AT]: String(now) }, step: 'new CA, both trusted' };
    }
    const certRemaining = cert.validity.notAfter.getTime() - now;
    if (options.forceCertRenewal || !servedByCurrentCa || certRemaining < this.certLifetimeMs / 3 || !this.coversNames(cert)) {
      return { bundle: { ...bundle, ...this.issueServing(bundle) }, annotations: {}, step: 'serving certificate renewed' };
    }
    return undefined;
  }

  private coversNames(cert: forge.pki.Certificate): boolean {
    const ext = cert.getExtension('subjectAltName') as { altNames?: Array<{ type: number; value?: string; ip?: string }> } | null;
    // forge gives IP entries (type 7) both `ip` (text) and `value` (raw bytes): compare the text.
    const names = new Set((ext?.altNames ?? []).map((a) => (a.type === 7 ? (a.ip ?? '') : (a.value ?? ''))));
    return this.options.dnsNames.every((n) => names.has(n)) && this.options.ipAddresses.every((ip) => names.has(ip));
  }

  private issueFresh(): TlsBundle {
    const ca = makeCa(this.now(), this.caLifetimeMs);
    return { caCert: ca.cert, caKey: ca.key, ...this.issueServing({ caCert: ca.cert, caKey: ca.key }) };
  }

  private issueServing(ca: { caCert: string; caKey: string }): { cert: string; key: string } {
    return issueServingCertificate(ca, { dnsNames: this.options.dnsNames, ipAddresses: this.options.ipAddresses, now: this.now(), lifetimeMs: this.certLifetimeMs });
  }

  private async readSecret(): Promise<SecretObject | undefined> {
    try {
      return await this.options.rest.get<SecretObject>(paths.secrets(this.options.namespace, this.options.secretName));
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  private toSecret(bundle: TlsBundle, resourceVersion: string | undefined, annotations: Record<string, string>): SecretObject & { apiVersion: string; kind: string } {
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    return {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name: this.options.secretName,
        namespace: this.options.namespace,
        labels: { 'app.kubernetes.io/managed-by': 'gateway-orchestrator' },
        annotations,
        ...(resourceVersion ? { resourceVersion } : {}),
      },
      type: 'kubernetes.io/tls',
      data: {
        'tls.crt': b64(bundle.cert),
        'tls.key': b64(bundle.key),
        'ca.crt': b64(bundle.caCert),
        'ca.key': b64(bundle.caKey),
        ...(bundle.previousCaCert ? { 'previous-ca.crt': b64(bundle.previousCaCert) } : {}),
      },
    };
  }
}

function fromSecret(secret: SecretObject): TlsBundle | undefined {
  const d = secret.data ?? {};
  const get = (k: string) => (d[k] ? Buffer.from(d[k], 'base64').toString('utf8') : undefined);
  const cert = get('tls.crt');
  const key = get('tls.key');
  const caCert = get('ca.crt');
  const caKey = get('ca.key');
  if (!cert || !key || !caCert || !caKey) return undefined;
  const previousCaCert = get('previous-ca.crt');
  return { cert, key, caCert, caKey, ...(previousCaCert ? { previousCaCert } : {}) };
}

/** A CA and a serving certificate, without Kubernetes: for tests and benchmarks. */
export function issueStandaloneTls(options: { dnsNames: string[]; ipAddresses: string[]; now?: number }): TlsBundle {
  const now = options.now ?? Date.now();
  const ca = makeCa(now, 365 * DAY);
  const serving = issueServingCertificate({ caCert: ca.cert, caKey: ca.key }, { ...options, now, lifetimeMs: 90 * DAY });
  return { caCert: ca.cert, caKey: ca.key, ...serving };
}

function issueServingCertificate(
  ca: { caCert: string; caKey: string },
  options: { dnsNames: string[]; ipAddresses: string[]; now: number; lifetimeMs: number },
): { cert: string; key: string } {
  const keys = forge.pki.rsa.generateKeyPair({ bits: 2048 });
  const caCert = forge.pki.certificateFromPem(ca.caCert);
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = serial();
  cert.validity.notBefore = new Date(options.now - 5 * 60 * 1000);
  cert.validity.notAfter = new Date(options.now + options.lifetimeMs);
  cert.setSubject([{ name: 'commonName', value: options.dnsNames[0] ?? 'gateway-orchestrator' }]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
    { name: 'extKeyUsage', serverAuth: true },
    {
      name: 'subjectAltName',
      altNames: [...options.dnsNames.map((value) => ({ type: 2, value })), ...options.ipAddresses.map((ip) => ({ type: 7, ip }))],
    },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(ca.caKey), forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: forge.pki.privateKeyToPem(keys.privateKey) };
}

function makeCa(now: number, lifetimeMs: number): { cert: string; key: string } {
  const keys = forge.pki.rsa.generateKeyPair({ bits: 2048 });
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = serial();
  cert.validity.notBefore = new Date(now - 5 * 60 * 1000);
  cert.validity.notAfter = new Date(now + lifetimeMs);
  const subject = [
    { name: 'commonName', value: `gateway-orchestrator-webhook-ca-${now}` },
    { name: 'organizationName', value: 'gateway-orchestrator' },
  ];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: forge.pki.privateKeyToPem(keys.privateKey) };
}

function verifies(ca: forge.pki.Certificate, cert: forge.pki.Certificate): boolean {
  try {
    return ca.verify(cert);
  } catch {
    return false;
  }
}

function serial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f; // positive
  return bytes.toString('hex');
}
