// The answer written out by hand (toReviewJson) is the same JSON as the answer object
// (toReview), for every kind of decision: allowed with or without warnings and a patch, denied,
// and uids or warnings that need escaping; and the mutation's own patches.
import t from 'tap';
import type { Operation } from 'fast-json-patch';
import { allow, deny, mutateHostnameRequest, type AdmissionRequest, type Decision } from '../../policy/admission.js';
import { DEFAULT_CONFIG } from '../../policy/config.js';
import { toReview, toReviewJson } from '../../server/admission/review.js';

const cases: Array<[string, Decision]> = [
  ['allowed', allow()],
  ['allowed with warnings', allow(['hostname "a.opendi.com" is a wildcard\'s "child"', 'second \\ warning\n'])],
  ['allowed with a patch', allow(undefined, [{ op: 'add', path: '/metadata/finalizers', value: ['gateway-orchestrator.io/cleanup'] }, { op: 'replace', path: '/spec/hostname', value: 'shöp.opendi.com' }])],
  ['allowed with warnings and a patch', allow(['w'], [{ op: 'add', path: '/spec/visibility', value: 'internal' }])],
  ['denied', deny('HostnameClaimed', 'hostname "a.opendi.com" is claimed by team-a/shop', 'a.opendi.com')],
];
const uids: Array<[string, string]> = [
  ['a plain uid', '705ab4f5-6393-11e8-b7cc-42010a800002'],
  ['a uid with quotes, a backslash and line breaks', 'odd "uid" \\ with \u2028 and \n'],
];

for (const [name, decision] of cases) {
  for (const [label, uid] of uids) {
    t.test(`${name}, ${label}`, async (t) => {
      const text = toReviewJson(uid, decision);
      t.same(JSON.parse(text), toReview(uid, decision), 'the same answer');
      t.equal(text, JSON.stringify(toReview(uid, decision)), 'byte for byte');
    });
  }
}

// The patches the mutation really makes: normalised fields, defaults, the finalizer.
function mutationOf(spec: Record<string, unknown>, finalizers?: string[]): Decision {
  const request: AdmissionRequest = {
    uid: 'u',
    kind: { group: 'gateway-orchestrator.io', version: 'v1alpha1', kind: 'GatewayHostnameRequest' },
    resource: { group: 'gateway-orchestrator.io', version: 'v1alpha1', resource: 'gatewayhostnamerequests' },
    namespace: 'team-a',
    name: 'shop',
    operation: 'CREATE',
    userInfo: { username: 'alice' },
    object: { apiVersion: 'gateway-orchestrator.io/v1alpha1', kind: 'GatewayHostnameRequest', metadata: { name: 'shop', namespace: 'team-a', ...(finalizers ? { finalizers } : {}) }, spec },
  };
  return mutateHostnameRequest(request, DEFAULT_CONFIG);
}

t.test('mutation patches: the same text as JSON.stringify', async (t) => {
  const decisions: Array<[string, Decision]> = [
    ['everything to add', mutationOf({ hostname: 'Shop.Opendi.com.', zoneId: '/hostedzone/z1' })],
    ['finalizer appended', mutationOf({ hostname: 'shop.opendi.com', zoneId: 'Z1', environment: 'staging' }, ['other.io/keep'])],
    ['nothing to change', mutationOf({ hostname: 'shop.opendi.com', zoneId: 'Z1', environment: 'staging', visibility: 'internal', gatewayClass: 'c' }, ['gateway-orchestrator.io/cleanup'])],
  ];
  t.equal((decisions[0]![1] as { patch?: Operation[] }).patch?.length, 6, 'hostname, zone, three defaults and the finalizer');
  t.equal((decisions[2]![1] as { patch?: Operation[] }).patch?.length ?? 0, 0, 'nothing to patch');
  for (const [name, decision] of decisions) t.equal(toReviewJson('u', decision), JSON.stringify(toReview('u', decision)), name);
});
