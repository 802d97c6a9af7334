// normaliseHostname answers names already in normal form without the full procedure: whatever the
// input, it must answer exactly as the full procedure does.
import t from 'tap';
import fc from 'fast-check';
import { normaliseHostname, normaliseHostnameFully } from '../../policy/hostname.js';

function agree(input: string): boolean {
  const fast = normaliseHostname(input);
  const full = normaliseHostnameFully(input);
  if (fast.ok !== full.ok) throw new Error(`${JSON.stringify(input)}: fast ${JSON.stringify(fast)}, full ${JSON.stringify(full)}`);
  if (fast.ok && full.ok && fast.hostname !== full.hostname) throw new Error(`${JSON.stringify(input)}: ${fast.hostname} vs ${full.hostname}`);
  if (!fast.ok && !full.ok && fast.reason !== full.reason) throw new Error(`${JSON.stringify(input)}: ${fast.reason} vs ${full.reason}`);
  return true;
}

t.test('table: the edges of the fast path', async (t) => {
  const cases = [
    'example.com', 'a.b', 'app.example.com', '*.example.com', '*.a.b', '*.com', '*', '*.', '', '.', 'a.', 'a..b', '.a.b',
    'example.com.', '*.example.com.', 'Example.com', 'a_b.com', 'a.b.c.1', 'a.1b', 'a.0x1f', '1.2.3.4', '0x7f.1', 'a.b1',
    '-a.com', 'a-.com', 'a--b.com', 'ab--c.com', 'xn--bcher-kva.example', 'xn--.com', 'xn--a.com', 'a.xn--p1ai', 'ex*ample.com',
    'a.*.com', '**.com', `${'a'.repeat(63)}.com`, `${'a'.repeat(64)}.com`, `${'a.'.repeat(126)}ab`, `${'a.'.repeat(126)}abc`,
    `*.${'a.'.repeat(125)}ab`, `*.${'a.'.repeat(125)}abc`, 'bücher.de', 'a b.com', 'a.com ', '\u0000.com', 'a.c-m', 'a.-cm',
  ];
  for (const c of cases) agree(c);
  t.equal(normaliseHostname('app.example.com').ok, true);
  t.equal(normaliseHostname('App.Example.com.').ok && (normaliseHostname('App.Example.com.') as { hostname: string }).hostname, 'app.example.com');
  t.equal(normaliseHostname('a.1').ok, false, 'numeric top-level label');
  t.equal(normaliseHostname('xn--.com').ok, false, 'bad A-label goes the full way');
});

const piece = fc.constantFrom('a', 'b', 'z', '0', '9', '-', '--', '.', '*', '*.', 'xn--', 'x', 'n', 'A', 'Z', '_', ' ', 'ü', '0x', '1', 'com');
t.test('property: the fast path and the full procedure agree on any input', async (t) => {
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 30 }).map((p) => p.join('')), agree),
    { numRuns: 20000 },
  );
  // Mostly well-formed names, long labels and long names included, so the fast path is taken often.
  const label = fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,70}$/);
  fc.assert(
    fc.property(fc.boolean(), fc.array(label, { minLength: 1, maxLength: 8 }), fc.boolean(), (wildcard, labels, trailingDot) => {
      const name = `${wildcard ? '*.' : ''}${labels.join('.')}${trailingDot ? '.' : ''}`;
      return agree(name) && agree(name.padStart(name.length + 200, 'a'));
    }),
    { numRuns: 20000 },
  );
  t.pass('agree');
});
