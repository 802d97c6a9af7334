// Property tests (fast-check) for hostname policy: hostile input never throws and never yields a
// malformed name; the ownership rules agree with naive restatements of themselves.
import t from 'tap';
import fc from 'fast-check';
import {
  claimNameFor,
  grantNameFor,
  isSameOrBelow,
  normaliseHostname,
  ownerRecordName,
  validateRequestHostname,
} from '../../policy/hostname.js';
import { HostnameOwnershipIndex, claimsConflict, wildcardClaimsCovering } from '../../policy/ownership.js';

const RUNS = { numRuns: 500 };

// ---- What a normalised hostname looks like, stated independently of the implementation ----------
const LDH_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function wellFormedness(hostname: string): string | undefined {
  if (hostname.length > 253) return 'longer than 253';
  const labels = hostname.split('.');
  if (labels[0] === '*') labels.shift();
  if (labels.length < 2) return 'fewer than two labels (after any wildcard)';
  for (const label of labels) {
    if (!LDH_LABEL.test(label)) return `label ${JSON.stringify(label)} is not LDH of 1-63`;
    if (label.slice(2, 4) === '--' && !label.startsWith('xn--')) return `label ${label} has -- at 3-4`;
  }
  if (/^\d+$/.test(labels[labels.length - 1] ?? '')) return 'numeric top-level label';
  return undefined;
}

// ---- Generators --------------------------------------------------------------------------------
const hostilePieces = [
  'a', 'B', 'z9', '-', '--', '.', '..', '*', '*.', '_', ' ', '\t', '\n', '\r', '\u0000', '\u007f', 'ü', 'Ü', 'ß',
  'а', 'е', 'σ', 'Σ', '日', 'ひ', '。', '．', 'ﬁ', 'ａ', '\u200b', '\u200d', '\u00ad', '\u202e', '\ufeff', '\ud800',
  'xn--', 'xn--bcher-kva', 'XN--', '1', '255', '0x', ':', '[', ']', '/', '?', '@', '%', '💩', 'u\u0308', 'com', 'example',
];
const hostileString = fc.array(fc.constantFrom(...hostilePieces), { maxLength: 40 }).map((parts) => parts.join(''));
// Mostly valid names, some with Unicode labels, some with one hostile piece spliced in: enough of
// them pass normalisation for the properties about accepted names to be exercised.
const unicodeLabel = fc.constantFrom('bücher', 'Bücher', 'bu\u0308cher', '日本語', 'москва', 'ひらがなabc', 'σας', 'straße', 'café', 'xn--bcher-kva', 'xn--zz', 'аpple', 'асе', 'порох');
const nearValid = fc
  .tuple(
    fc.constantFrom('', '', '*.'),
    fc.array(fc.oneof(fc.stringMatching(/^[a-zA-Z0-9]([a-zA-Z0-9-]{0,10}[a-zA-Z0-9])?$/), unicodeLabel), { minLength: 1, maxLength: 4 }),
    fc.constantFrom('com', 'DE', 'jp', 'рф', 'xn--p1ai', 'org'),
    fc.constantFrom('', '', '.'),
    fc.option(fc.tuple(fc.nat(), fc.constantFrom(...hostilePieces)), { freq: 3 }),
  )
  .map(([star, labels, top, dot, splice]) => {
    const name = `${star}${[...labels, top].join('.')}${dot}`;
    if (splice === null) return name;
    const at = splice[0] % (name.length + 1);
    return name.slice(0, at) + splice[1] + name.slice(at);
  });
const anyString = fc.oneof(
  nearValid,
  fc.string({ unit: 'binary', maxLength: 300 }),
  fc.string({ unit: 'grapheme', maxLength: 100 }),
  fc.string({ unit: 'grapheme-ascii', maxLength: 300 }),
  hostileString,
);

const validLabel = fc
  .stringMatching(/^[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?$/)
  .filter((label) => label.slice(2, 4) !== '--');
const tld = fc.stringMatching(/^[a-z][a-z0-9]{1,8}$/);
const validHostname = fc
  .tuple(fc.boolean(), fc.array(validLabel, { minLength: 1, maxLength: 5 }), tld)
  .map(([wildcard, labels, top]) => `${wildcard ? '*.' : ''}${[...labels, top].join('.')}`);

// A small universe so overlaps are frequent.
const smallLabel = fc.constantFrom('a', 'b', 'c');
const smallName = fc
  .tuple(fc.boolean(), fc.array(smallLabel, { maxLength: 3 }))
  .map(([wildcard, labels]) => `${wildcard ? '*.' : ''}${[...labels, 'example', 'com'].join('.')}`);
const namespace = fc.constantFrom('n1', 'n2', 'n3');

// ---- Normalisation --------------------------------------------------------------------------------
t.test('normaliseHostname never throws, whatever it is given', async (t) => {
  fc.assert(
    fc.property(fc.oneof(fc.anything(), anyString), (input) => {
      const result = normaliseHostname(input);
      if (result.ok) return typeof result.hostname === 'string';
      return typeof result.reason === 'string' && result.reason.length > 0;
    }),
    { numRuns: 2000 },
  );
  t.pass('no input made it throw');
});

t.test('every accepted hostname is well formed and normalises to itself', async (t) => {
  fc.assert(
    fc.property(anyString, (input) => {
      const first = normaliseHostname(input);
      if (!first.ok) return true;
      const problem = wellFormedness(first.hostname);
      if (problem !== undefined) throw new Error(`${JSON.stringify(input)} -> ${first.hostname}: ${problem}`);
      const again = normaliseHostname(first.hostname);
      return again.ok && again.hostname === first.hostname;
    }),
    { numRuns: 3000 },
  );
  t.pass('well formed and idempotent');
});

t.test('valid names in any case, with or without one trailing dot, normalise to their lower case', async (t) => {
  fc.assert(
    fc.property(validHostname, fc.boolean(), fc.array(fc.boolean(), { maxLength: 300 }), (hostname, dot, upper) => {
      const mixed = [...hostname].map((c, i) => (upper[i] ? c.toUpperCase() : c)).join('');
      const result = normaliseHostname(dot ? `${mixed}.` : mixed);
      return result.ok && result.hostname === hostname;
    }),
    RUNS,
  );
  t.pass('case and trailing dot are normalised away');
});

t.test('names derived from an accepted hostname are valid', async (t) => {
  fc.assert(
    fc.property(validHostname, namespace, (hostname, ns) => {
      const claim = claimNameFor(hostname);
      const grant = grantNameFor(hostname, ns);
      const owner = validateRequestHostname(hostname);
      return (
        /^h[nw]-[0-9a-f]{32}$/.test(claim) &&
        DNS1123_SUBDOMAIN.test(grant) &&
        grant.length <= 253 &&
        (!owner.ok || ownerRecordName(owner.hostname).length <= 253)
      );
    }),
    RUNS,
  );
  t.pass('claim, grant and ownership record names fit');
});

// ---- Label arithmetic and conflicts ------------------------------------------------------------
function naiveStrictlyBelow(name: string, domain: string): boolean {
  const n = name.split('.');
  const d = domain.split('.');
  return n.length > d.length && n.slice(n.length - d.length).join('.') === domain;
}

t.test('isSameOrBelow agrees with comparing label lists', async (t) => {
  const name = fc.oneof(smallName, validHostname, fc.constantFrom('badexample.com', 'aexample.com', 'com', ''));
  fc.assert(
    fc.property(name, name, (a, b) => isSameOrBelow(a, b) === (a === b || naiveStrictlyBelow(a, b))),
    { numRuns: 2000 },
  );
  t.pass('label-aware');
});

t.test('claimsConflict is symmetric and agrees with wildcardClaimsCovering', async (t) => {
  fc.assert(
    fc.property(smallName, namespace, smallName, namespace, (ha, na, hb, nb) => {
      const a = { hostname: ha, namespace: na };
      const b = { hostname: hb, namespace: nb };
      const conflict = claimsConflict(a, b);
      if (conflict !== claimsConflict(b, a)) throw new Error('not symmetric');
      if (na === nb) return !conflict;
      const viaCovering = ha === hb || wildcardClaimsCovering(ha).includes(hb) || wildcardClaimsCovering(hb).includes(ha);
      return conflict === viaCovering;
    }),
    { numRuns: 3000 },
  );
  t.pass('symmetric, and exactly the exact name plus the covering wildcards');
});

// ---- The ownership index against a naive model ---------------------------------------------------
type Op =
  | { kind: 'setClaim' | 'setGrant'; name: string; hostname: string; namespace: string }
  | { kind: 'deleteClaim' | 'deleteGrant'; name: string };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constantFrom('setClaim' as const, 'setGrant' as const),
    name: fc.constantFrom('o1', 'o2', 'o3', 'o4', 'o5', 'o6'),
    hostname: smallName,
    namespace,
  }),
  fc.record({ kind: fc.constantFrom('deleteClaim' as const, 'deleteGrant' as const), name: fc.constantFrom('o1', 'o2', 'o3', 'o4', 'o5', 'o6') }),
);

interface Entry {
  name: string;
  hostname: string;
  namespace: string;
}

/** The specification, read literally, over plain lists. */
class NaiveModel {
  claims: Entry[] = [];
  grants: Entry[] = [];

  apply(o: Op): void {
    const list = o.kind === 'setClaim' || o.kind === 'deleteClaim' ? 'claims' : 'grants';
    this[list] = this[list].filter((e) => e.name !== o.name);
    if (o.kind === 'setClaim' || o.kind === 'setGrant') this[list].push({ name: o.name, hostname: o.hostname, namespace: o.namespace });
  }

  holderOf(hostname: string): string | undefined {
    return this.claims.find((c) => c.hostname === hostname)?.name;
  }

  isGrantedTo(route: string, ns: string): boolean {
    const all = [...this.claims, ...this.grants];
    if (all.some((e) => e.hostname === route)) return all.some((e) => e.hostname === route && e.namespace === ns);
    const routeBase = route.startsWith('*.') ? route.slice(2) : route;
    // Covering wildcards *.P: the route's base strictly below P, P with two labels or more.
    const covering = all.filter((e) => {
      if (!e.hostname.startsWith('*.')) return false;
      const parent = e.hostname.slice(2);
      return parent.split('.').length >= 2 && naiveStrictlyBelow(routeBase, parent);
    });
    if (covering.length === 0) return false;
    const nearest = Math.max(...covering.map((e) => e.hostname.length));
    return covering.some((e) => e.hostname.length === nearest && e.namespace === ns);
  }

  wildcardConflictsBelow(domain: string, ns: string): boolean {
    return this.claims.some((c) => c.namespace !== ns && naiveStrictlyBelow(c.hostname, domain));
  }
}

t.test('HostnameOwnershipIndex answers like the naive model after any sequence of events', async (t) => {
  const routes = ['example.com', 'a.example.com', 'b.a.example.com', 'c.b.a.example.com', 'x.c.b.a.example.com', '*.example.com', '*.a.example.com', '*.b.a.example.com', '*.c.b.a.example.com', 'b.example.com', 'c.b.example.com', 'other.org'];
  const domains = ['com', 'example.com', 'a.example.com', 'b.a.example.com', 'b.example.com', 'c.example.com'];
  fc.assert(
    fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
      const index = new HostnameOwnershipIndex();
      const model = new NaiveModel();
      for (const o of ops) {
        model.apply(o);
        if (o.kind === 'setClaim') index.setClaim(o.name, { hostname: o.hostname, namespace: o.namespace, request: o.name });
        else if (o.kind === 'setGrant') index.setGrant(o.name, { hostname: o.hostname, namespace: o.namespace });
        else if (o.kind === 'deleteClaim') index.deleteClaim(o.name);
        else index.deleteGrant(o.name);
        for (const route of routes) {
          if (index.holderOf(route)?.name !== model.holderOf(route)) throw new Error(`holderOf(${route})`);
          for (const ns of ['n1', 'n2', 'n3']) {
            if (index.isGrantedTo(route, ns) !== model.isGrantedTo(route, ns)) throw new Error(`isGrantedTo(${route}, ${ns})`);
          }
        }
        for (const domain of domains) {
          for (const ns of ['n1', 'n2', 'n3']) {
            if (index.wildcardConflictsBelow(domain, ns) !== model.wildcardConflictsBelow(domain, ns)) {
              throw new Error(`wildcardConflictsBelow(${domain}, ${ns})`);
            }
          }
        }
      }
      return index.claimCount === model.claims.length && index.grantCount === model.grants.length;
    }),
    { numRuns: 300 },
  );
  t.pass('index and model agree');
});
