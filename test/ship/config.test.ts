// The platform config is validated at start with one clear error naming the field, and README's
// configuration reference documents every field with its real default (and nothing that is not
// a field), so the reference cannot drift from policy/config.ts.
import t from 'tap';
import { ConfigError, DEFAULT_CONFIG, parsePlatformConfig } from '../../policy/config.js';
import { readRepoFile } from './lib.js';

type Json = Record<string, unknown>;

/** Leaf paths of the defaults: "pool.certificatesPerGateway" -> 25. */
function leaves(value: unknown, prefix = ''): Array<[string, unknown]> {
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    return Object.entries(value as Json).flatMap(([k, v]) => leaves(v, prefix ? `${prefix}.${k}` : k));
  }
  return [[prefix, value]];
}

const render = (value: unknown) => (Array.isArray(value) ? `\`[${value.join(', ')}]\`` : `\`${String(value)}\``);

/** Rows of README's configuration table: field -> default cell. */
function referenceRows(): Map<string, string> {
  const readme = readRepoFile('README.md');
  const section = readme.slice(readme.indexOf('## Configuration reference'), readme.indexOf('\n## ', readme.indexOf('## Configuration reference') + 1));
  const rows = new Map<string, string>();
  for (const m of section.matchAll(/^\| `([^`]+)` \| ([^|]+) \|/gm)) rows.set(m[1]!, m[2]!.trim());
  return rows;
}

// Documented without a default value of their own.
const EXTRA_ROWS: Record<string, string> = {
  'allowedDomains[].domain': 'required',
  'allowedDomains[].namespaces': 'every namespace',
  'aws.endpoint': '(none)',
};

t.test('README documents every config field with its default', async (t) => {
  const rows = referenceRows();
  const fields = leaves(DEFAULT_CONFIG);
  t.ok(fields.length > 20, `${fields.length} fields`);
  for (const [path, value] of fields) t.equal(rows.get(path), render(value), `${path}: default ${render(value)}`);
  for (const [path, cell] of Object.entries(EXTRA_ROWS)) t.equal(rows.get(path), cell, path);
  const known = new Set([...fields.map(([p]) => p), ...Object.keys(EXTRA_ROWS)]);
  for (const path of rows.keys()) t.ok(known.has(path), `README row ${path} is a real field`);
});

t.test('a bad value names its field', async (t) => {
  const cases: Array<[Json, string]> = [
    [{ pool: { certificatesPerGateway: -1 } }, 'pool.certificatesPerGateway'],
    [{ pool: { certificatesPerGateway: '25' } }, 'pool.certificatesPerGateway'],
    [{ pool: { ipAddressType: 'ipv6' } }, 'pool.ipAddressType'],
    [{ webhook: { port: 70000 } }, 'webhook.port'],
    [{ aws: { region: 'Frankfurt' } }, 'aws.region'],
    [{ aws: { endpoint: 'localhost:4566' } }, 'aws.endpoint'],
    [{ aws: { rates: { route53: 0 } } }, 'aws.rates.route53'],
    [{ clusterId: 'Prod EU' }, 'clusterId'],
    [{ allowedDomains: 'example.com' }, 'allowedDomains'],
    [{ allowedDomains: [{ domain: 'not a domain' }] }, 'allowedDomains[0].domain'],
    [{ allowedDomains: [{ namespaces: ['a'] }] }, 'allowedDomains[0].domain'],
    [{ allowedDomains: ['example.com', { domain: 'example.org', namespaces: 'a' }] }, 'allowedDomains[1].namespaces'],
    [{ defaults: { visibility: 'public' } }, 'defaults.visibility'],
    [{ orchestrator: { breakGlassGroups: [''] } }, 'orchestrator.breakGlassGroups'],
    [{ reconcile: { concurrency: 0 } }, 'reconcile.concurrency'],
    [{ reconcile: 5 }, 'reconcile'],
  ];
  for (const [input, field] of cases) {
    try {
      parsePlatformConfig(input);
      t.fail(`${JSON.stringify(input)} was accepted`);
    } catch (err) {
      t.ok(err instanceof ConfigError, `${field}: a ConfigError`);
      t.equal((err as ConfigError).field, field, `${JSON.stringify(input)} names ${field}`);
      t.match((err as Error).message, new RegExp(`^invalid platform config: ${field.replace(/[[\].]/g, '\\$&')}: `));
      t.notMatch((err as Error).message, /\n/, 'one line');
    }
  }
});

t.test('the shipped config and an empty one are valid', async (t) => {
  t.same(parsePlatformConfig({}), DEFAULT_CONFIG);
  t.same(parsePlatformConfig(null), DEFAULT_CONFIG);
});
