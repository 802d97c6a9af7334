import t from 'tap';
import {
  MAX_REQUEST_HOSTNAME_LENGTH,
  MAX_REQUEST_WILDCARD_HOSTNAME_LENGTH,
  claimNameFor,
  grantNameFor,
  hostnameHash,
  isSameOrBelow,
  isStrictlyBelow,
  isWildcard,
  normaliseHostname,
  ownerRecordName,
  parentDomains,
  validateRequestHostname,
  wildcardParent,
} from '../../policy/hostname.js';

const label = (n: number, c = 'a'): string => c.repeat(n);
/** A name of exactly `length` characters: 63-character labels, then a shorter one, then ".com". */
function nameOfLength(length: number, prefix = ''): string {
  let rest = length - prefix.length - '.com'.length;
  const labels: string[] = [];
  while (rest > 0) {
    const size = Math.min(63, rest === 64 ? 62 : rest); // never leave a lone dot's worth
    labels.push(label(size, 'b'));
    rest -= size + 1;
  }
  const name = `${prefix}${labels.join('.')}.com`;
  if (name.length !== length) throw new Error(`nameOfLength(${length}) built ${name.length}`);
  return name;
}

t.test('normaliseHostname accepts and normalises', async (t) => {
  const accepted: Array<[input: string, expected: string, why: string]> = [
    ['example.com', 'example.com', 'plain name'],
    ['Example.COM', 'example.com', 'lower-cased'],
    ['example.com.', 'example.com', 'one trailing dot removed'],
    ['TEST.opendi.com.', 'test.opendi.com', 'upper case and trailing dot together'],
    ['a.b.c.d.example.com', 'a.b.c.d.example.com', 'many labels'],
    ['*.example.com', '*.example.com', 'wildcard leftmost with two labels after it'],
    ['*.A.Example.com.', '*.a.example.com', 'wildcard normalised like any name'],
    ['123.example.com', '123.example.com', 'numeric label that is not the last'],
    ['a--b.example.com', 'a--b.example.com', '-- outside positions 3-4'],
    ['x-1.example.com', 'x-1.example.com', 'inner hyphen'],
    ['a.0xg', 'a.0xg', 'a top-level label that only starts like hex'],
    ['bücher.de', 'xn--bcher-kva.de', 'IDN to A-label'],
    ['BÜCHER.DE', 'xn--bcher-kva.de', 'upper-case IDN'],
    ['bu\u0308cher.de', 'xn--bcher-kva.de', 'decomposed accent is the same name'],
    ['*.bücher.de', '*.xn--bcher-kva.de', 'wildcard over an IDN'],
    ['xn--bcher-kva.de', 'xn--bcher-kva.de', 'A-label passes through'],
    ['XN--BCHER-KVA.DE', 'xn--bcher-kva.de', 'upper-case A-label'],
    ['ß.de', 'xn--zca.de', 'sharp s kept (non-transitional IDNA)'],
    ['bücher.xn--p1ai', 'xn--bcher-kva.xn--p1ai', 'U-label beside a typed A-label'],
    ['BÜCHER.XN--P1AI', 'xn--bcher-kva.xn--p1ai', 'the same in upper case'],
    ['москва.рф', 'xn--80adxhks.xn--p1ai', 'single-script Cyrillic'],
    ['порох.example.com', 'xn--n1aabf0a.example.com', 'Cyrillic word with some Latin-looking letters'],
    ['日本語.jp', 'xn--wgv71a119e.jp', 'Han'],
    ['ひらがなabc.jp', 'xn--abc-o73b4fvb9j.jp', 'Japanese scripts may mix with Latin'],
    [`${label(63)}.com`, `${label(63)}.com`, '63-character label'],
    [nameOfLength(253), nameOfLength(253), '253 characters'],
  ];
  for (const [input, expected, why] of accepted) {
    t.same(normaliseHostname(input), { ok: true, hostname: expected }, `${JSON.stringify(input)}: ${why}`);
  }
});

t.test('normaliseHostname refuses, naming the rule', async (t) => {
  const refused: Array<[input: unknown, reason: RegExp, why: string]> = [
    [42, /must be a string/, 'number'],
    [null, /must be a string/, 'null'],
    [undefined, /must be a string/, 'undefined'],
    [{ hostname: 'a.com' }, /must be a string/, 'object'],
    [['a.com'], /must be a string/, 'array'],
    ['', /empty/, 'empty string'],
    ['.', /empty/, 'only a dot'],
    ['a.com..', /empty label/, 'two trailing dots'],
    ['a..b.com', /empty label/, 'doubled dot'],
    ['.a.com', /empty label/, 'leading dot'],
    [' a.com', /whitespace/, 'leading space (no trimming)'],
    ['a.com ', /whitespace/, 'trailing space'],
    ['ex ample.com', /whitespace/, 'inner space'],
    ['a.com\n', /control character/, 'trailing newline'],
    ['a\nb.com', /control character/, 'embedded newline'],
    ['a\u0000b.com', /control character \(U\+0000\)/, 'embedded NUL'],
    ['a\tb.com', /control character/, 'tab'],
    ['a\u00a0b.com', /whitespace, an invisible/, 'no-break space'],
    ['a\u200bb.com', /invisible/, 'zero-width space'],
    ['a\u00adb.com', /invisible/, 'soft hyphen'],
    ['a\u202eb.com', /invisible/, 'right-to-left override'],
    ['\ufeffa.com', /invisible/, 'byte order mark'],
    ['\ud800.com', /invisible|unassigned/, 'lone surrogate'],
    ['ex_ample.com', /underscore/, 'underscore'],
    ['_dmarc.example.com', /underscore/, 'underscore label'],
    ['a/b.com', /"\/"/, 'slash (a URL parser would cut here)'],
    ['a?b.com', /"\?"/, 'question mark'],
    ['a@b.com', /"@"/, 'at sign'],
    ['a%41.com', /"%"/, 'percent escape'],
    ['*', /bare "\*"/, 'bare wildcard'],
    ['*.', /bare "\*"/, 'bare wildcard with trailing dot'],
    ['*.com', /wildcard needs at least two labels/, 'wildcard over a TLD'],
    ['*.*.a.com', /whole leftmost label/, 'two wildcards'],
    ['a.*.com', /whole leftmost label/, 'wildcard in the middle'],
    ['x.*.com', /whole leftmost label/, 'wildcard as an inner label'],
    ['a*.x.com', /whole leftmost label/, 'partial wildcard label'],
    ['*a.x.com', /whole leftmost label/, 'partial wildcard label, star first'],
    ['a.com.*', /whole leftmost label/, 'wildcard last'],
    ['1.2.3.4', /IP addresses are not allowed/, 'IPv4'],
    ['1.2.3.4.', /IP addresses are not allowed/, 'IPv4 with trailing dot'],
    ['[::1]', /IPv6/, 'bracketed IPv6'],
    ['::1', /IPv6/, 'IPv6'],
    ['2001:db8::1', /IPv6/, 'IPv6 documentation address'],
    ['0x7f.1', /top-level label is numeric/, 'hex IPv4 shorthand'],
    ['example.123', /top-level label is numeric/, 'all-numeric TLD'],
    ['a.0x1f', /top-level label is numeric/, 'hex TLD'],
    ['bücher.123', /top-level label is numeric/, 'IDN with numeric TLD'],
    ['localhost', /at least two labels/, 'single label'],
    ['com.', /at least two labels/, 'single label with dot'],
    ['-a.com', /start or end with a hyphen/, 'leading hyphen'],
    ['a-.com', /start or end with a hyphen/, 'trailing hyphen'],
    ['a.-com', /start or end with a hyphen/, 'TLD leading hyphen'],
    ['ab--cd.com', /third and fourth positions/, '-- at 3-4'],
    ['zz--a.example.com', /third and fourth positions/, 'other reserved prefix'],
    ['ab--ü.com', /third and fourth positions/, '-- at 3-4 of a U-label (its A-label would hide it)'],
    ['-ü.com', /start or end with a hyphen/, 'U-label with a leading hyphen'],
    ['ü-.com', /start or end with a hyphen/, 'U-label with a trailing hyphen'],
    ['a"b.com', /double quote/, 'double quote'],
    ['xn--zz.com', /not a valid punycode A-label/, 'broken punycode'],
    ['xn--zz.bücher.de', /not a valid internationalised/, 'broken punycode beside a U-label'],
    ['xn--a.com', /not a valid punycode A-label/, 'broken punycode, short'],
    ['xn--abc-.com', /hyphen|A-label/, 'punycode of an ASCII name'],
    [`${label(64)}.com`, /64 characters long; at most 63/, '64-character label'],
    [`a.${label(64)}`, /64 characters long/, '64-character TLD'],
    [nameOfLength(254), /254 characters long; at most 253/, '254 characters'],
    [`*.${nameOfLength(252)}`, /254 characters long/, 'wildcard pushes past 253'],
    ['a.'.repeat(2000) + 'com', /longer than 253/, 'very long input'],
    ['x'.repeat(100_000), /longer than 253/, 'huge input'],
    ['аpple.com', /mixes letters of different scripts/, 'Cyrillic а among Latin'],
    ['xn--pple-43d.com', /mixes letters of different scripts/, 'the same as a typed A-label'],
    ['pаypal.example.com', /mixes/, 'mixed script deeper down'],
    ['αpple.com', /mixes/, 'Greek α among Latin'],
    ['асе.com', /look like Latin/, 'Cyrillic only, every letter a Latin look-alike'],
    ['ѕсоре.com', /look like Latin/, 'whole-script confusable'],
    ['а1.com', /look like Latin/, 'look-alike plus digit'],
    ['ﬁ.com', /IDNA would silently change/, 'ligature'],
    ['ａ.com', /IDNA would silently change/, 'full-width letter'],
    ['ＥＸＡＭＰＬＥ.com', /IDNA would silently change/, 'full-width upper case'],
    ['a。b.com', /IDNA would silently change/, 'ideographic full stop'],
    ['a.com\u3002', /IDNA would silently change/, 'ideographic full stop as trailing dot'],
    ['①.com', /IDNA would silently change/, 'circled digit'],
    ['💩.la', /symbol or punctuation/, 'emoji'],
    ['xn--ls8h.la', /symbol or punctuation/, 'emoji as a typed A-label'],
    ['a\u200db.com', /invisible/, 'zero-width joiner'],
  ];
  for (const [input, reason, why] of refused) {
    const result = normaliseHostname(input);
    t.equal(result.ok, false, `${why}: refused`);
    if (!result.ok) {
      t.match(result.reason, reason, `${why}: reason "${result.reason}"`);
      // eslint-disable-next-line no-control-regex
      t.notMatch(result.reason, /[\u0000-\u001f\u007f]/, `${why}: reason has no control characters`);
    }
  }
});

t.test('reasons never echo long or raw input', async (t) => {
  const result = normaliseHostname('evil\u001b[31m.com');
  t.equal(result.ok, false);
  if (!result.ok) t.notOk(result.reason.includes('\u001b'), 'escape sequence not echoed');
  const long = normaliseHostname(`${'a'.repeat(300)}.com`);
  if (!long.ok) t.ok(long.reason.length < 120, 'reason stays short');
});

t.test('wildcard helpers', async (t) => {
  t.equal(isWildcard('*.example.com'), true);
  t.equal(isWildcard('example.com'), false);
  t.equal(isWildcard('*example.com'), false);
  t.equal(wildcardParent('*.a.b'), 'a.b');
  t.equal(wildcardParent('*.example.com'), 'example.com');
  t.equal(wildcardParent('a.example.com'), 'a.example.com', 'a literal name comes back unchanged');
});

t.test('isSameOrBelow is label-aware', async (t) => {
  const table: Array<[name: string, domain: string, same: boolean, strict: boolean]> = [
    ['example.com', 'example.com', true, false],
    ['a.example.com', 'example.com', true, true],
    ['a.b.example.com', 'example.com', true, true],
    ['*.example.com', 'example.com', true, true],
    ['badexample.com', 'example.com', false, false],
    ['example.com', 'a.example.com', false, false],
    ['example.com.evil.com', 'example.com', false, false],
    ['xexample.com', 'example.com', false, false],
    ['com', 'example.com', false, false],
    ['a.example.com', '', false, false],
  ];
  for (const [name, domain, same, strict] of table) {
    t.equal(isSameOrBelow(name, domain), same, `${name} same-or-below ${domain}`);
    t.equal(isStrictlyBelow(name, domain), strict, `${name} strictly below ${domain}`);
  }
});

t.test('parentDomains: proper ancestors with two labels or more, nearest first', async (t) => {
  t.same(parentDomains('a.b.example.com'), ['b.example.com', 'example.com']);
  t.same(parentDomains('*.a.example.com'), ['a.example.com', 'example.com']);
  t.same(parentDomains('a.example.com'), ['example.com']);
  t.same(parentDomains('example.com'), []);
  t.same(parentDomains('*.example.com'), ['example.com']);
});

t.test('claimNameFor and grantNameFor', async (t) => {
  const dns1123Subdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
  const literal = claimNameFor('example.com');
  const wildcard = claimNameFor('*.example.com');
  t.match(literal, /^hn-[0-9a-f]{32}$/);
  t.match(wildcard, /^hw-[0-9a-f]{32}$/);
  t.not(literal, wildcard, 'a wildcard and its parent never share a claim');
  t.equal(claimNameFor('example.com'), literal, 'deterministic');
  t.equal(literal, `hn-${hostnameHash('example.com')}`);
  t.not(claimNameFor('a.example.com'), literal);
  t.not(claimNameFor('*.a.example.com'), claimNameFor('a.example.com'));

  const grant = grantNameFor('example.com', 'team-a');
  t.equal(grant, `team-a.${literal}`);
  t.match(grant, dns1123Subdomain);
  t.equal(grantNameFor('example.com', 'team-a'), grant, 'deterministic');
  t.not(grantNameFor('example.com', 'team-b'), grant, 'per namespace');
  t.not(grantNameFor('*.example.com', 'team-a'), grant, 'per hostname');
  const longest = grantNameFor(nameOfLength(253), 'n'.repeat(63));
  t.ok(longest.length <= 253, `longest grant name is ${longest.length} characters`);
  t.match(longest, dns1123Subdomain);
  t.throws(() => grantNameFor('example.com', 'Team_A'), TypeError);
  t.throws(() => grantNameFor('example.com', 'a.b'), TypeError);
});

t.test('ownerRecordName', async (t) => {
  t.equal(ownerRecordName('app.example.com'), '_gwo.app.example.com');
  t.equal(ownerRecordName('example.com'), '_gwo.example.com');
  t.equal(ownerRecordName('*.example.com'), '_gwo-wildcard.example.com');
  t.equal(ownerRecordName('*.a.example.com'), '_gwo-wildcard.a.example.com');
  t.not(ownerRecordName('*.example.com'), ownerRecordName('example.com'), 'a wildcard and its parent have different records');
});

t.test('validateRequestHostname leaves room for the ownership record', async (t) => {
  t.equal(MAX_REQUEST_HOSTNAME_LENGTH, 248);
  t.equal(MAX_REQUEST_WILDCARD_HOSTNAME_LENGTH, 241);

  const fits = nameOfLength(248);
  t.same(validateRequestHostname(fits), { ok: true, hostname: fits });
  t.equal(ownerRecordName(fits).length, 253);
  const tooLong = validateRequestHostname(nameOfLength(249));
  t.equal(tooLong.ok, false);
  if (!tooLong.ok) t.match(tooLong.reason, /249 characters long.*at most 248.*_gwo\.<hostname>/);
  t.equal(normaliseHostname(nameOfLength(249)).ok, true, 'plain normalisation still takes it');

  const wildcardFits = nameOfLength(241, '*.');
  t.same(validateRequestHostname(wildcardFits), { ok: true, hostname: wildcardFits });
  t.equal(ownerRecordName(wildcardFits).length, 253);
  const wildcardTooLong = validateRequestHostname(nameOfLength(242, '*.'));
  t.equal(wildcardTooLong.ok, false);
  if (!wildcardTooLong.ok) t.match(wildcardTooLong.reason, /wildcard hostname may have at most 241/);

  t.same(validateRequestHostname('App.Example.com.'), { ok: true, hostname: 'app.example.com' }, 'normalises like normaliseHostname');
  t.same(validateRequestHostname(7), { ok: false, reason: 'hostname must be a string' });
});
