import t from 'tap';
import type { AllowedDomain } from '../../policy/config.js';
import { domainsFor, hostnameInZone, isManagedHostname, matchAllowedDomain, namespaceMatches } from '../../policy/allowlist.js';

const allowed: AllowedDomain[] = [
  { domain: 'opendi.com' },
  { domain: 'team.opendi.com', namespaces: ['team-a', 'team-a-*'] },
  { domain: 'shop.example.org', namespaces: ['shop-*'] },
  { domain: 'example.org', namespaces: ['platform'] },
  { domain: 'example.org', namespaces: ['ops'] },
  { domain: 'xn--bcher-kva.de', namespaces: ['*'] },
];

t.test('namespaceMatches: exact names and prefix*', async (t) => {
  const table: Array<[namespace: string, patterns: string[] | undefined, expected: boolean]> = [
    ['anything', undefined, true],
    ['team-a', [], false],
    ['team-a', ['team-a'], true],
    ['team-ab', ['team-a'], false],
    ['team-a', ['team-*'], true],
    ['team-', ['team-*'], true],
    ['team', ['team-*'], false],
    ['other', ['*'], true],
    ['team-b', ['team-a', 'team-b'], true],
    ['x', ['te*m'], false],
  ];
  for (const [namespace, patterns, expected] of table) {
    t.equal(namespaceMatches(namespace, patterns), expected, `${namespace} in ${JSON.stringify(patterns)}`);
  }
});

t.test('matchAllowedDomain: the longest allowlisted apex decides', async (t) => {
  const admitted: Array<[hostname: string, namespace: string, domain: string]> = [
    ['opendi.com', 'anyone', 'opendi.com'],
    ['test.opendi.com', 'team-b', 'opendi.com'],
    ['*.opendi.com', 'team-b', 'opendi.com'],
    ['a.b.c.opendi.com', 'team-b', 'opendi.com'],
    ['team.opendi.com', 'team-a', 'team.opendi.com'],
    ['x.team.opendi.com', 'team-a', 'team.opendi.com'],
    ['*.team.opendi.com', 'team-a-dev', 'team.opendi.com'],
    ['teamx.opendi.com', 'team-b', 'opendi.com'],
    ['shop.example.org', 'shop-eu', 'shop.example.org'],
    ['cart.shop.example.org', 'shop-us', 'shop.example.org'],
    ['example.org', 'platform', 'example.org'],
    ['api.example.org', 'ops', 'example.org'],
    ['xn--bcher-kva.de', 'anyone', 'xn--bcher-kva.de'],
  ];
  for (const [hostname, namespace, domain] of admitted) {
    t.same(matchAllowedDomain(hostname, namespace, allowed), { ok: true, domain }, `${namespace} may use ${hostname}`);
  }
});

t.test('matchAllowedDomain: denials say why and list what the namespace may use', async (t) => {
  const denied: Array<[hostname: string, namespace: string, reason: RegExp, allowedDomains: string[]]> = [
    ['x.team.opendi.com', 'team-b', /team\.opendi\.com is allowlisted only for other namespaces/, ['opendi.com', 'xn--bcher-kva.de']],
    ['team.opendi.com', 'team-b', /only for other namespaces/, ['opendi.com', 'xn--bcher-kva.de']],
    ['shop.example.org', 'platform', /shop\.example\.org .*other namespaces/, ['opendi.com', 'example.org', 'xn--bcher-kva.de']],
    ['api.example.org', 'team-a', /example\.org .*other namespaces/, ['opendi.com', 'team.opendi.com', 'xn--bcher-kva.de']],
    ['badopendi.com', 'team-a', /not under any allowlisted domain/, ['opendi.com', 'team.opendi.com', 'xn--bcher-kva.de']],
    ['opendi.com.evil.net', 'team-a', /not under any allowlisted domain/, ['opendi.com', 'team.opendi.com', 'xn--bcher-kva.de']],
    ['com', 'team-a', /not under any/, ['opendi.com', 'team.opendi.com', 'xn--bcher-kva.de']],
    ['*.com', 'team-a', /not under any/, ['opendi.com', 'team.opendi.com', 'xn--bcher-kva.de']],
    ['example.net', 'ops', /not under any/, ['opendi.com', 'example.org', 'xn--bcher-kva.de']],
  ];
  for (const [hostname, namespace, reason, allowedDomains] of denied) {
    const result = matchAllowedDomain(hostname, namespace, allowed);
    t.equal(result.ok, false, `${namespace} may not use ${hostname}`);
    if (!result.ok) {
      t.match(result.reason, reason, `reason: ${result.reason}`);
      t.same(result.allowedDomains, allowedDomains, 'allowed domains for the namespace, once each');
    }
  }
  t.same(matchAllowedDomain('a.com', 'x', []), { ok: false, reason: 'it is not under any allowlisted domain', allowedDomains: [] });
  const onlyRestricted: AllowedDomain[] = [{ domain: 'a.com', namespaces: ['team-a'] }];
  const none = matchAllowedDomain('x.a.com', 'team-b', onlyRestricted);
  t.same(none, { ok: false, reason: 'a.com is allowlisted only for other namespaces', allowedDomains: [] });
});

t.test('domainsFor', async (t) => {
  t.same(domainsFor('platform', allowed), ['opendi.com', 'example.org', 'xn--bcher-kva.de']);
  t.same(domainsFor('shop-eu', allowed), ['opendi.com', 'shop.example.org', 'xn--bcher-kva.de']);
});

t.test('hostnameInZone', async (t) => {
  const table: Array<[hostname: string, zone: string, expected: boolean]> = [
    ['test.opendi.com', 'opendi.com', true],
    ['test.opendi.com', 'opendi.com.', true],
    ['test.opendi.com', 'OPENDI.com.', true],
    ['opendi.com', 'opendi.com.', true],
    ['*.opendi.com', 'opendi.com.', true],
    ['a.team.opendi.com', 'team.opendi.com.', true],
    ['opendi.com', 'team.opendi.com.', false],
    ['test.opendi.com', 'di.com.', false],
    ['test.badopendi.com', 'opendi.com', false],
    ['test.opendi.com', '', false],
    ['test.opendi.com', '.', false],
  ];
  for (const [hostname, zone, expected] of table) {
    t.equal(hostnameInZone(hostname, zone), expected, `${hostname} in zone ${JSON.stringify(zone)}`);
  }
});

t.test('isManagedHostname ignores namespaces', async (t) => {
  const table: Array<[hostname: string, expected: boolean]> = [
    ['opendi.com', true],
    ['x.team.opendi.com', true],
    ['*.opendi.com', true],
    ['api.example.org', true],
    ['badopendi.com', false],
    ['example.net', false],
    ['*.example.net', false],
    ['*.com', true], // a route for *.com would match app.opendi.com on a shared listener
    ['*.org', true],
    ['*.de', true],
    ['*.net', false],
    ['*', true],
  ];
  for (const [hostname, expected] of table) {
    t.equal(isManagedHostname(hostname, allowed), expected, hostname);
  }
  t.equal(isManagedHostname('*', []), false, 'nothing is managed without an allowlist');
  t.equal(isManagedHostname('opendi.com', []), false);
});
