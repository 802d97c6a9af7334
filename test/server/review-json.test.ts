// The answer written out by hand (toReviewJson) is the same JSON as the answer object
// (toReview), for every kind of decision: allowed with or without warnings and a patch, denied,
// and uids or warnings that need escaping.
import t from 'tap';
import { allow, deny, type Decision } from '../../policy/admission.js';
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
