// Platform configuration: its shape, defaults and validation. Pure: the caller reads the file.
// A bad config stops the process with one clear line naming the field (ConfigError).

import type { Visibility } from './api.js';

export interface AllowedDomain {
  /** Apex domain, normalised (e.g. "opendi.com"). The domain itself and every name below it are allowed. */
  domain: string;
  /** Namespaces that may use this domain; exact names or a prefix ending in "*". Absent: every namespace. */
  namespaces?: string[];
}

export interface PlatformConfig {
  /** Identifies this cluster in AWS tags and Route53 ownership records. */
  clusterId: string;
  allowedDomains: AllowedDomain[];
  defaults: {
    environment: string;
    visibility: Visibility;
    gatewayClass: string;
  };
  pool: {
    namespace: string;
    gatewayNamePrefix: string;
    /** Certificates an ALB listener takes besides its default one (AWS quota, adjustable). */
    certificatesPerGateway: number;
    /** Route rules an ALB takes (AWS quota); each hostname costs at least one. */
    rulesPerGateway: number;
    /** IP address type for the pool's load balancers. */
    ipAddressType: 'ipv4' | 'dualstack';
  };
  aws: {
    region: string;
    /** Override for every AWS service (local emulator); absent in production. */
    endpoint?: string;
    /** Client-side budgets in requests per second, per service. */
    rates: { route53: number; acm: number; elbv2: number };
  };
  orchestrator: {
    namespace: string;
    serviceAccount: string;
    /** Groups that may write orchestrator-owned objects besides the ServiceAccount (break glass). */
    breakGlassGroups: string[];
  };
  reconcile: {
    resyncSeconds: number;
    concurrency: number;
    /** A claim whose request never came to exist is released after this long. */
    claimGraceSeconds: number;
  };
  webhook: {
    port: number;
    metricsPort: number;
    serviceName: string;
    tlsSecretName: string;
    validatingConfigurationName: string;
    mutatingConfigurationName: string;
  };
}

export class ConfigError extends Error {
  constructor(
    readonly field: string,
    detail: string,
  ) {
    super(`invalid platform config: ${field}: ${detail}`);
    this.name = 'ConfigError';
  }
}

export const DEFAULT_CONFIG: PlatformConfig = {
  clusterId: 'local',
  allowedDomains: [],
  defaults: { environment: 'production', visibility: 'internet-facing', gatewayClass: 'aws-alb' },
  pool: {
    namespace: 'edge',
    gatewayNamePrefix: 'gw',
    certificatesPerGateway: 25,
    rulesPerGateway: 100,
    ipAddressType: 'ipv4',
  },
  aws: { region: 'eu-central-1', rates: { route53: 5, acm: 5, elbv2: 10 } },
  orchestrator: {
    namespace: 'gateway-orchestrator',
    serviceAccount: 'gateway-orchestrator',
    breakGlassGroups: ['gateway-orchestrator:break-glass'],
  },
  reconcile: { resyncSeconds: 180, concurrency: 16, claimGraceSeconds: 60 },
  webhook: {
    port: 9443,
    metricsPort: 9090,
    serviceName: 'gateway-orchestrator-webhook',
    tlsSecretName: 'gateway-orchestrator-webhook-tls',
    validatingConfigurationName: 'gateway-orchestrator',
    mutatingConfigurationName: 'gateway-orchestrator',
  },
};

type Json = Record<string, unknown>;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DOMAIN = /^(?=.{1,253}$)([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function section(raw: Json, field: string): Json {
  const value = raw[field];
  if (value === undefined) return {};
  if (!isObject(value)) throw new ConfigError(field, 'must be an object');
  return value;
}

function str(raw: Json, field: string, path: string, fallback: string, pattern?: RegExp): string {
  const value = raw[field];
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || value === '') throw new ConfigError(path, 'must be a non-empty string');
  if (pattern && !pattern.test(value)) throw new ConfigError(path, `"${value}" does not match ${pattern}`);
  return value;
}

function num(raw: Json, field: string, path: string, fallback: number, min: number, max: number): number {
  const value = raw[field];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new ConfigError(path, `must be a number from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return value;
}

function oneOf<T extends string>(raw: Json, field: string, path: string, fallback: T, allowed: readonly T[]): T {
  const value = raw[field];
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !allowed.includes(value as T)) {
    throw new ConfigError(path, `must be one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`);
  }
  return value as T;
}

function strings(raw: Json, field: string, path: string, fallback: string[]): string[] {
  const value = raw[field];
  if (value === undefined) return fallback;
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v === '')) {
    throw new ConfigError(path, 'must be a list of non-empty strings');
  }
  return value as string[];
}

function parseAllowedDomains(raw: Json): AllowedDomain[] {
  const value = raw['allowedDomains'];
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new ConfigError('allowedDomains', 'must be a list');
  return value.map((entry: unknown, i) => {
    const path = `allowedDomains[${i}]`;
    const item: Json = typeof entry === 'string' ? { domain: entry } : isObject(entry) ? entry : {};
    if (item['domain'] === undefined) throw new ConfigError(`${path}.domain`, 'is required');
    const domain = str(item, 'domain', `${path}.domain`, '').toLowerCase().replace(/\.$/, '');
    if (!DOMAIN.test(domain)) throw new ConfigError(`${path}.domain`, `"${domain}" is not a DNS domain name`);
    const namespaces = item['namespaces'] === undefined ? undefined : strings(item, 'namespaces', `${path}.namespaces`, []);
    return namespaces ? { domain, namespaces } : { domain };
  });
}

/** Validates a parsed config document (JSON or YAML) and fills defaults. Throws ConfigError. */
export function parsePlatformConfig(input: unknown): PlatformConfig {
  if (input === undefined || input === null) input = {};
  if (!isObject(input)) throw new ConfigError('(root)', 'must be an object');
  const d = DEFAULT_CONFIG;
  const defaults = section(input, 'defaults');
  const pool = section(input, 'pool');
  const aws = section(input, 'aws');
  const rates = section(aws, 'rates');
  const orchestrator = section(input, 'orchestrator');
  const reconcile = section(input, 'reconcile');
  const webhook = section(input, 'webhook');
  const endpoint = aws['endpoint'] === undefined ? undefined : str(aws, 'endpoint', 'aws.endpoint', '');
  if (endpoint !== undefined && !/^https?:\/\//.test(endpoint)) {
    throw new ConfigError('aws.endpoint', `must be an http(s) URL, got "${endpoint}"`);
  }
  return {
    clusterId: str(input, 'clusterId', 'clusterId', d.clusterId, /^[a-z0-9][-a-z0-9]{0,39}$/),
    allowedDomains: parseAllowedDomains(input),
    defaults: {
      environment: str(defaults, 'environment', 'defaults.environment', d.defaults.environment, DNS_LABEL),
      visibility: oneOf(defaults, 'visibility', 'defaults.visibility', d.defaults.visibility, ['internet-facing', 'internal']),
      gatewayClass: str(defaults, 'gatewayClass', 'defaults.gatewayClass', d.defaults.gatewayClass, DNS_LABEL),
    },
    pool: {
      namespace: str(pool, 'namespace', 'pool.namespace', d.pool.namespace, DNS_LABEL),
      gatewayNamePrefix: str(pool, 'gatewayNamePrefix', 'pool.gatewayNamePrefix', d.pool.gatewayNamePrefix, DNS_LABEL),
      certificatesPerGateway: num(pool, 'certificatesPerGateway', 'pool.certificatesPerGateway', d.pool.certificatesPerGateway, 1, 1000),
      rulesPerGateway: num(pool, 'rulesPerGateway', 'pool.rulesPerGateway', d.pool.rulesPerGateway, 1, 1000),
      ipAddressType: oneOf(pool, 'ipAddressType', 'pool.ipAddressType', d.pool.ipAddressType, ['ipv4', 'dualstack']),
    },
    aws: {
      region: str(aws, 'region', 'aws.region', d.aws.region, /^[a-z]{2}(-[a-z]+)+-\d$/),
      ...(endpoint ? { endpoint } : {}),
      rates: {
        route53: num(rates, 'route53', 'aws.rates.route53', d.aws.rates.route53, 0.1, 1000),
        acm: num(rates, 'acm', 'aws.rates.acm', d.aws.rates.acm, 0.1, 1000),
        elbv2: num(rates, 'elbv2', 'aws.rates.elbv2', d.aws.rates.elbv2, 0.1, 1000),
      },
    },
    orchestrator: {
      namespace: str(orchestrator, 'namespace', 'orchestrator.namespace', d.orchestrator.namespace, DNS_LABEL),
      serviceAccount: str(orchestrator, 'serviceAccount', 'orchestrator.serviceAccount', d.orchestrator.serviceAccount, DNS_LABEL),
      breakGlassGroups: strings(orchestrator, 'breakGlassGroups', 'orchestrator.breakGlassGroups', d.orchestrator.breakGlassGroups),
    },
    reconcile: {
      resyncSeconds: num(reconcile, 'resyncSeconds', 'reconcile.resyncSeconds', d.reconcile.resyncSeconds, 1, 86400),
      concurrency: num(reconcile, 'concurrency', 'reconcile.concurrency', d.reconcile.concurrency, 1, 64),
      claimGraceSeconds: num(reconcile, 'claimGraceSeconds', 'reconcile.claimGraceSeconds', d.reconcile.claimGraceSeconds, 1, 86400),
    },
    webhook: {
      port: num(webhook, 'port', 'webhook.port', d.webhook.port, 0, 65535),
      metricsPort: num(webhook, 'metricsPort', 'webhook.metricsPort', d.webhook.metricsPort, 0, 65535),
      serviceName: str(webhook, 'serviceName', 'webhook.serviceName', d.webhook.serviceName, DNS_LABEL),
      tlsSecretName: str(webhook, 'tlsSecretName', 'webhook.tlsSecretName', d.webhook.tlsSecretName),
      validatingConfigurationName: str(webhook, 'validatingConfigurationName', 'webhook.validatingConfigurationName', d.webhook.validatingConfigurationName),
      mutatingConfigurationName: str(webhook, 'mutatingConfigurationName', 'webhook.mutatingConfigurationName', d.webhook.mutatingConfigurationName),
    },
  };
}
