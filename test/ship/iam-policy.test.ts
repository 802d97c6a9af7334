// docs/iam-policy.json against the code: every AWS command that server/ or reconcile/ can send is
// allowed, and the policy allows nothing the code does not send (least privilege). Static: the
// SDK commands are collected from the source, so a new command fails here before it fails in AWS.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import t from 'tap';
import { certificateTags } from '../../reconcile/plan.js';
import type { GatewayHostnameRequest } from '../../policy/api.js';
import { readRepoFile, repoRoot } from './lib.js';

/** SDK package -> IAM service prefix. A package missing here fails the test: map it, then grant it. */
const IAM_PREFIX: Record<string, string> = {
  '@aws-sdk/client-acm': 'acm',
  '@aws-sdk/client-route-53': 'route53',
  '@aws-sdk/client-elastic-load-balancing-v2': 'elasticloadbalancing',
};

/** Permissions an action needs besides its own (AWS documents these per API). */
const IMPLIED: Record<string, string[]> = {
  // RequestCertificate with Tags also needs permission to tag.
  'acm:RequestCertificate': ['acm:AddTagsToCertificate'],
};

interface Statement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action?: string | string[];
  NotAction?: unknown;
  Resource?: string | string[];
  NotResource?: unknown;
  Condition?: Record<string, Record<string, string | string[]>>;
}

const policy = JSON.parse(readRepoFile('docs/iam-policy.json')) as { Version: string; Statement: Statement[] };
const list = (v: string | string[] | undefined) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(repoRoot, dir))) {
    const path = join(dir, entry);
    if (statSync(join(repoRoot, path)).isDirectory()) out.push(...sourceFiles(path));
    else if (path.endsWith('.ts') && !path.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

interface Sent {
  action: string;
  file: string;
}

/** Every `*Command` (and paginator) imported from an AWS SDK client package in server/ and reconcile/. */
function commandsInCode(): { sent: Sent[]; problems: string[] } {
  const sent: Sent[] = [];
  const problems: string[] = [];
  for (const file of [...sourceFiles('server'), ...sourceFiles('reconcile')]) {
    const text = readFileSync(join(repoRoot, file), 'utf8');
    if (/import\s*\(\s*['"]@aws-sdk\//.test(text) || /import\s+\*\s+as\s+\w+\s+from\s+['"]@aws-sdk\//.test(text) || /require\(\s*['"]@aws-sdk\//.test(text)) {
      problems.push(`${file}: imports an AWS SDK package in a form this test cannot read; import commands by name`);
    }
    for (const m of text.matchAll(/import\s+(type\s+)?\{([^}]*)\}\s+from\s+['"](@aws-sdk\/[^'"]+)['"]/g)) {
      if (m[1]) continue; // import type { ... }
      const pkg = m[3]!;
      const names = m[2]!
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s && !s.startsWith('type '))
        .map((s) => s.split(/\s+as\s+/)[0]!.trim());
      const commands = names.filter((n) => /Command$/.test(n) || /^paginate[A-Z]/.test(n));
      if (commands.length === 0) continue;
      const prefix = IAM_PREFIX[pkg];
      if (!prefix) {
        problems.push(`${file}: sends commands of ${pkg}, which has no IAM mapping here (and no grant in docs/iam-policy.json)`);
        continue;
      }
      for (const name of commands) {
        const operation = name.startsWith('paginate') ? name.slice('paginate'.length) : name.slice(0, -'Command'.length);
        sent.push({ action: `${prefix}:${operation}`, file });
      }
    }
  }
  return { sent, problems };
}

function allowedActions(): Set<string> {
  return new Set(policy.Statement.filter((s) => s.Effect === 'Allow').flatMap((s) => list(s.Action as string | string[])));
}

function statementsFor(action: string): Statement[] {
  return policy.Statement.filter((s) => s.Effect === 'Allow' && list(s.Action as string | string[]).includes(action));
}

const { sent, problems } = commandsInCode();
const sentActions = new Set(sent.map((s) => s.action));
const needed = new Set([...sentActions, ...[...sentActions].flatMap((a) => IMPLIED[a] ?? [])]);

t.test('the source is readable for this check', async (t) => {
  t.same(problems, []);
  // A floor, so a broken scan cannot pass by finding nothing.
  for (const action of ['acm:RequestCertificate', 'route53:ChangeResourceRecordSets', 'elasticloadbalancing:DescribeLoadBalancers']) {
    t.ok(sentActions.has(action), `found ${action} in the code`);
  }
});

t.test('every AWS command the code sends is allowed by docs/iam-policy.json', async (t) => {
  const allowed = allowedActions();
  for (const action of [...needed].sort()) {
    const where = sent.filter((s) => s.action === action).map((s) => relative('.', s.file));
    t.ok(allowed.has(action), `${action} allowed${where.length ? ` (sent from ${[...new Set(where)].join(', ')})` : ' (implied)'}`);
  }
});

t.test('docs/iam-policy.json allows nothing the code does not need', async (t) => {
  t.equal(policy.Version, '2012-10-17');
  for (const s of policy.Statement) {
    t.equal(s.Effect, 'Allow', `${s.Sid}: only Allow statements`);
    t.equal(s.NotAction, undefined, `${s.Sid}: no NotAction`);
    t.equal(s.NotResource, undefined, `${s.Sid}: no NotResource`);
    for (const action of list(s.Action as string | string[])) {
      t.notMatch(action, /\*/, `${s.Sid}: ${action} is not a wildcard`);
      t.ok(needed.has(action), `${s.Sid}: ${action} is sent by the code (or implied by what it sends)`);
    }
  }
  // ELBv2 is read-only for us (certificates reach listeners only through the LoadBalancerConfiguration).
  for (const action of allowedActions()) if (action.startsWith('elasticloadbalancing:')) t.match(action, /^elasticloadbalancing:Describe/, action);
});

t.test('mutating grants are scoped: given hosted zones, record types, own certificates', async (t) => {
  const [change] = statementsFor('route53:ChangeResourceRecordSets');
  t.ok(change, 'ChangeResourceRecordSets is granted');
  const zones = list(change!.Resource);
  t.ok(zones.length > 0 && zones.every((r) => /^arn:aws:route53:::hostedzone\/[A-Z0-9]+$/.test(r)), `only named hosted zones: ${zones.join(', ')}`);
  t.same(list(change!.Condition?.['ForAllValues:StringEquals']?.['route53:ChangeResourceRecordSetsRecordTypes']).sort(), ['A', 'AAAA', 'CNAME', 'TXT']);
  for (const action of ['route53:GetHostedZone', 'route53:ListResourceRecordSets']) {
    t.same(list(statementsFor(action)[0]?.Resource).sort(), [...zones].sort(), `${action} on the same zones`);
  }

  // The certificate tags the reconciler sets are the ones the conditions require.
  const tags = certificateTags({ metadata: { namespace: 'team-a', name: 'shop', uid: 'u-1' }, spec: { hostname: 'shop.example.com', zoneId: 'Z1' } } as GatewayHostnameRequest, 'prod');
  const [request] = statementsFor('acm:RequestCertificate');
  const requestTags = Object.entries(request?.Condition?.['StringEquals'] ?? {}).filter(([k]) => k.startsWith('aws:RequestTag/'));
  t.ok(requestTags.length > 0, 'RequestCertificate requires our tag');
  for (const [key, value] of requestTags) t.equal(tags[key.slice('aws:RequestTag/'.length)], value, `${key} is set by certificateTags()`);
  const [remove] = statementsFor('acm:DeleteCertificate');
  const resourceTags = Object.entries(remove?.Condition?.['StringEquals'] ?? {}).filter(([k]) => k.startsWith('aws:ResourceTag/'));
  t.ok(resourceTags.length > 0, 'DeleteCertificate only on certificates carrying our tag');
  for (const [key, value] of resourceTags) t.equal(tags[key.slice('aws:ResourceTag/'.length)], value, `${key} is set by certificateTags()`);
});
