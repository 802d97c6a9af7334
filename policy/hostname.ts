// Hostnames: the one normalisation every part of the orchestrator uses, and the small label
// arithmetic (wildcards, ancestors, "below") that the allowlist and ownership rules build on.
// Pure: no I/O, no clock, no randomness. Names handed to the helpers below normaliseHostname are
// assumed to be normalised already (lower-case A-labels, no trailing dot); they do not re-check.

import { createHash } from 'node:crypto';
import { domainToASCII, domainToUnicode } from 'node:url';

export type HostnameResult = { ok: true; hostname: string } | { ok: false; reason: string };

/** DNS limit on a name in presentation form without the trailing dot (RFC 1035: 255 octets on the wire). */
export const MAX_HOSTNAME_LENGTH = 253;
export const MAX_LABEL_LENGTH = 63;

/** Route53 ownership record prefix for a literal hostname: `_gwo.<hostname>`. */
export const OWNER_RECORD_PREFIX = '_gwo.';
/** Route53 ownership record prefix for a wildcard `*.<parent>`: `_gwo-wildcard.<parent>`. */
export const OWNER_RECORD_WILDCARD_PREFIX = '_gwo-wildcard.';

/**
 * A requested hostname must leave room for its ownership record `_gwo.<hostname>` within 253
 * characters: 253 - 5.
 */
export const MAX_REQUEST_HOSTNAME_LENGTH = MAX_HOSTNAME_LENGTH - OWNER_RECORD_PREFIX.length;
/**
 * The same for a wildcard: `*.<parent>` becomes `_gwo-wildcard.<parent>`, 12 characters longer,
 * so a requested wildcard may be at most 241 characters.
 */
export const MAX_REQUEST_WILDCARD_HOSTNAME_LENGTH = MAX_HOSTNAME_LENGTH - (OWNER_RECORD_WILDCARD_PREFIX.length - 2);

/**
 * Inputs longer than this are refused before any other work, so hostile input costs O(1).
 * Generous on purpose: a Unicode name may be longer in UTF-16 units (decomposed accents) than
 * its A-label form, which is what the 253 limit applies to.
 */
const MAX_INPUT_LENGTH = 1024;

const fail = (reason: string): { ok: false; reason: string } => ({ ok: false, reason });

const CHAR_DOT = 0x2e;
const CHAR_HYPHEN = 0x2d;
const CHAR_STAR = 0x2a;

function isAsciiLetterOrDigit(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a);
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** Names an offending ASCII character for a reason without echoing raw input into logs. */
function describeAscii(c: number): string {
  if (c < 0x20 || c === 0x7f) return `a control character (U+${c.toString(16).toUpperCase().padStart(4, '0')})`;
  if (c === 0x20) return 'whitespace';
  if (c === 0x5f) return 'an underscore';
  if (c === 0x22) return 'a double quote';
  return `"${String.fromCharCode(c)}"`;
}

// Only reached for non-ASCII input.
const UNICODE_JUNK = /[\p{White_Space}\p{Cc}\p{Cf}\p{Co}\p{Cs}\p{Cn}]/u;
const UNICODE_NOT_LDH = /[^\p{L}\p{M}\p{Nd}-]/u;

/**
 * Normalises a hostname or refuses it with a short reason naming the rule it breaks.
 * Never throws, whatever `input` is.
 *
 * Accepted: lower-cased, exactly one trailing dot removed, Unicode converted to punycode A-labels,
 * at least two labels of 1-63 letters, digits and hyphens, at most 253 characters, and optionally
 * a wildcard as the whole leftmost label with at least two labels after it (`*.example.com`).
 * Refused: anything else, including whitespace (no trimming), IP addresses, an all-numeric
 * top-level label, underscores, Unicode that IDNA would silently change (compatibility forms,
 * invisible characters), symbols, labels that mix confusable scripts, and `--` in positions 3-4
 * of a label that is not a valid `xn--` A-label.
 */
export function normaliseHostname(input: unknown): HostnameResult {
  // Nearly every name a route or request carries is written in normal form already: one pass
  // proves it, and the name is its own normal form. Anything else takes the full way below.
  if (typeof input === 'string' && isPlainNormal(input)) return { ok: true, hostname: input };
  return normaliseHostnameFully(input);
}

/**
 * `name` is already what normaliseHostname makes of it, by a cautious test that allocates
 * nothing: at most 253 characters of lower-case ASCII letters, digits, hyphens and dots, an
 * optional `*.` in front, at least two labels of 1-63 characters that neither start nor end with
 * a hyphen, no `--` in a label's third and fourth positions (so no A-labels: those take the full
 * way) and a top-level label that does not start with a digit (nor could it then look numeric).
 * False only means "not proven": normaliseHostnameFully decides.
 */
function isPlainNormal(name: string): boolean {
  const length = name.length;
  if (length > MAX_HOSTNAME_LENGTH) return false;
  let i = 0;
  if (name.charCodeAt(0) === CHAR_STAR) {
    if (name.charCodeAt(1) !== CHAR_DOT) return false;
    i = 2;
  }
  let labels = 0;
  let start = i;
  for (; i <= length; i++) {
    const c = i === length ? CHAR_DOT : name.charCodeAt(i);
    if (c === CHAR_DOT) {
      const label = i - start;
      if (label === 0 || label > MAX_LABEL_LENGTH) return false;
      if (name.charCodeAt(start) === CHAR_HYPHEN || name.charCodeAt(i - 1) === CHAR_HYPHEN) return false;
      if (label >= 4 && name.charCodeAt(start + 2) === CHAR_HYPHEN && name.charCodeAt(start + 3) === CHAR_HYPHEN) return false;
      if (i === length) return labels >= 1 && !isDigit(name.charCodeAt(start));
      labels++;
      start = i + 1;
    } else if (!((c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === CHAR_HYPHEN)) {
      return false;
    }
  }
  return false;
}

/** normaliseHostname without its fast path for names already in normal form (exported for tests). */
export function normaliseHostnameFully(input: unknown): HostnameResult {
  if (typeof input !== 'string') return fail('hostname must be a string');
  if (input.length === 0) return fail('hostname is empty');
  if (input.length > MAX_INPUT_LENGTH) return fail(`hostname is longer than ${MAX_HOSTNAME_LENGTH} characters`);

  // One pass over the raw input: which characters occur, before anything interprets them.
  let nonAscii = false;
  for (let i = 0; i < input.length; i++) {
    const c = input.charCodeAt(i);
    if (c >= 0x80) {
      nonAscii = true;
      continue;
    }
    if (isAsciiLetterOrDigit(c) || c === CHAR_HYPHEN || c === CHAR_DOT || c === CHAR_STAR) continue;
    if (c === 0x3a || c === 0x5b || c === 0x5d) return fail('IP addresses are not allowed, only DNS names (this looks like an IPv6 address)');
    return fail(`hostname contains ${describeAscii(c)}; only letters, digits, hyphens and dots are allowed`);
  }
  if (nonAscii && UNICODE_JUNK.test(input)) {
    return fail('hostname contains whitespace, an invisible or control character, or an unassigned code point');
  }

  let name = input;
  if (name.charCodeAt(name.length - 1) === CHAR_DOT) name = name.slice(0, -1);
  if (name.length === 0) return fail('hostname is empty');

  let wildcard = false;
  if (name.charCodeAt(0) === CHAR_STAR) {
    if (name.length === 1) return fail('a bare "*" is not a hostname; a wildcard needs at least two labels after it (*.example.com)');
    if (name.charCodeAt(1) !== CHAR_DOT) return fail('a wildcard is only allowed as the whole leftmost label (*.example.com)');
    wildcard = true;
    name = name.slice(2);
  }
  if (name.indexOf('*') !== -1) return fail('a wildcard is only allowed as the whole leftmost label (*.example.com)');

  // A name whose last label is a number is read as an IPv4 address by resolvers and URL parsers
  // (1.2.3.4, 0x7f.1, 10.1): refuse it before IDNA processing gets a chance to rewrite it.
  const lastDot = name.lastIndexOf('.');
  if (looksNumeric(name, lastDot + 1)) {
    return fail(
      isDottedIPv4(name)
        ? 'IP addresses are not allowed, only DNS names'
        : 'the top-level label is numeric, so the name would be read as an IP address',
    );
  }

  let ascii: string;
  let unicode: string | undefined;
  if (nonAscii) {
    // NFC first so a decomposed accent (u + U+0308) is the same name as the composed one;
    // beyond that, the input must already be what IDNA maps it to, apart from case.
    const folded = name.normalize('NFC').toLowerCase();
    ascii = domainToASCII(folded);
    if (ascii === '') return fail('hostname is not a valid internationalised domain name');
    unicode = domainToUnicode(ascii);
    if (!sameAfterIdna(folded, ascii, unicode)) {
      return fail('hostname contains characters that IDNA would silently change or drop (full-width forms, ligatures, odd dots); write it in its plain form');
    }
  } else {
    ascii = name.toLowerCase();
  }

  const labelReason = checkLabels(ascii);
  if (labelReason !== undefined) return fail(labelReason);
  if (ascii.indexOf('.') === -1) {
    return fail(
      wildcard
        ? 'a wildcard needs at least two labels after it (*.example.com, not *.com)'
        : 'hostname needs at least two labels (a bare top-level name is not allowed)',
    );
  }

  const hostname = wildcard ? `*.${ascii}` : ascii;
  if (hostname.length > MAX_HOSTNAME_LENGTH) {
    return fail(`hostname is ${hostname.length} characters long; at most ${MAX_HOSTNAME_LENGTH} are allowed`);
  }

  if (hasALabel(ascii)) {
    // Also reached for A-labels typed in ASCII, so punycode cannot smuggle past the Unicode rules.
    unicode ??= domainToUnicode(ascii);
    if (unicode === '' || domainToASCII(unicode) !== ascii) return fail('hostname has an "xn--" label that is not a valid punycode A-label');
    const unicodeReason = checkUnicodeLabels(unicode);
    if (unicodeReason !== undefined) return fail(unicodeReason);
  }
  return { ok: true, hostname };
}

/**
 * The Unicode input `folded` is what IDNA made of it: each label is unchanged by the round trip
 * to A-labels and back, or was typed as an A-label already (`bücher.xn--p1ai`).
 */
function sameAfterIdna(folded: string, ascii: string, unicode: string): boolean {
  if (unicode === folded) return true;
  const typed = folded.split('.');
  const decoded = unicode.split('.');
  const encoded = ascii.split('.');
  if (typed.length !== decoded.length || typed.length !== encoded.length) return false;
  for (let i = 0; i < typed.length; i++) {
    const label = typed[i] as string;
    if (label !== decoded[i] && !(label.startsWith('xn--') && label === encoded[i])) return false;
  }
  return true;
}

/** `name` from `start` to its end is all digits, or 0x followed by hex digits only. */
function looksNumeric(name: string, start: number): boolean {
  if (start >= name.length) return false;
  let i = start;
  if (name.length - start >= 2 && name.charCodeAt(i) === 0x30 && (name.charCodeAt(i + 1) | 0x20) === 0x78) {
    i += 2;
    for (; i < name.length; i++) {
      const c = name.charCodeAt(i) | 0x20;
      if (!isDigit(c) && !(c >= 0x61 && c <= 0x66)) return false;
    }
    return true;
  }
  for (; i < name.length; i++) if (!isDigit(name.charCodeAt(i))) return false;
  return true;
}

function isDottedIPv4(name: string): boolean {
  let start = 0;
  for (;;) {
    const dot = name.indexOf('.', start);
    const end = dot === -1 ? name.length : dot;
    if (end === start) return false;
    for (let i = start; i < end; i++) if (!isDigit(name.charCodeAt(i))) return false;
    if (dot === -1) return true;
    start = dot + 1;
  }
}

/** LDH rules on every label of a lower-case ASCII name (no wildcard). One pass, no allocation. */
function checkLabels(name: string): string | undefined {
  let start = 0;
  for (let i = 0; i <= name.length; i++) {
    const c = i === name.length ? CHAR_DOT : name.charCodeAt(i);
    if (c !== CHAR_DOT) {
      if (!isAsciiLetterOrDigit(c) && c !== CHAR_HYPHEN) {
        return `hostname contains ${describeAscii(c)}; only letters, digits, hyphens and dots are allowed`;
      }
      continue;
    }
    const length = i - start;
    if (length === 0) return 'hostname has an empty label (leading, doubled or extra trailing dot)';
    if (length > MAX_LABEL_LENGTH) return `a label is ${length} characters long; at most ${MAX_LABEL_LENGTH} are allowed`;
    if (name.charCodeAt(start) === CHAR_HYPHEN || name.charCodeAt(i - 1) === CHAR_HYPHEN) {
      return 'a label may not start or end with a hyphen';
    }
    if (length >= 4 && name.charCodeAt(start + 2) === CHAR_HYPHEN && name.charCodeAt(start + 3) === CHAR_HYPHEN) {
      if (!name.startsWith('xn', start)) return 'a label may not have "--" in its third and fourth positions unless it is an "xn--" A-label';
    }
    start = i + 1;
  }
  return undefined;
}

function hasALabel(name: string): boolean {
  return name.startsWith('xn--') || name.indexOf('.xn--') !== -1;
}

// ---- Unicode labels: what IDNA accepts but a shared hosting platform should not ----------------

// Scripts as bits. Scripts not listed share OTHER: mixing two of them goes unnoticed, which is
// accepted; what matters here is mixing with the scripts that imitate Latin.
const SCRIPTS: ReadonlyArray<readonly [RegExp, number]> = [
  [/\p{Script=Latin}/u, 1],
  [/\p{Script=Greek}/u, 2],
  [/\p{Script=Cyrillic}/u, 4],
  [/\p{Script=Han}/u, 8],
  [/\p{Script=Hiragana}/u, 16],
  [/\p{Script=Katakana}/u, 32],
  [/\p{Script=Hangul}/u, 64],
  [/\p{Script=Bopomofo}/u, 128],
];
const GREEK = 2;
const CYRILLIC = 4;
const OTHER = 256;
const LETTER = /\p{L}/u;
const SCRIPT_NEUTRAL = /[\p{Script=Common}\p{Script=Inherited}]/u;
// Script mixes a label may use (UTS #39 "highly restrictive"): one script, or Latin with the
// scripts written together in Japanese, Chinese or Korean.
const ALLOWED_MIXES = [1 | 8 | 16 | 32, 1 | 8 | 128, 1 | 8 | 64];
// Cyrillic and Greek letters that pass for lower-case Latin ones. A label spelled only with these
// ("аре", "ορο") reads as a Latin name it is not.
const LATIN_LOOKALIKES = new Set([...'аԁеһіјӏорԛѕсԝху', ...'αικνορυχ']);

function scriptOf(ch: string): number {
  if (SCRIPT_NEUTRAL.test(ch)) return 0;
  for (const [pattern, bit] of SCRIPTS) if (pattern.test(ch)) return bit;
  return OTHER;
}

/** Rules on the Unicode form of a name that has A-labels. Rare path: allocation is fine here. */
function checkUnicodeLabels(unicode: string): string | undefined {
  for (const label of unicode.split('.')) {
    if (UNICODE_NOT_LDH.test(label)) return 'hostname contains a symbol or punctuation character (only letters, digits and hyphens may form a label)';
    // The hyphen rules hold for the Unicode form too (IDNA2008); the A-label alone would hide them.
    if (label.startsWith('-') || label.endsWith('-')) return 'a label may not start or end with a hyphen';
    if (label.slice(2, 4) === '--' && !label.startsWith('xn--')) {
      return 'a label may not have "--" in its third and fourth positions unless it is an "xn--" A-label';
    }
    let scripts = 0;
    let letters = 0;
    let lookalikes = 0;
    for (const ch of label) {
      scripts |= scriptOf(ch);
      if (LETTER.test(ch)) {
        letters++;
        if (LATIN_LOOKALIKES.has(ch)) lookalikes++;
      }
    }
    if (scripts !== 0 && (scripts & (scripts - 1)) !== 0 && !ALLOWED_MIXES.some((mix) => (scripts & ~mix) === 0)) {
      return 'a label mixes letters of different scripts (for example Latin and Cyrillic), which is a spoofing risk';
    }
    if ((scripts === CYRILLIC || scripts === GREEK) && letters > 0 && lookalikes === letters) {
      return 'a label is spelled only with Cyrillic or Greek letters that look like Latin ones, which is a spoofing risk';
    }
  }
  return undefined;
}

// ---- Label arithmetic on normalised names ---------------------------------------------------------

/** `*.example.com` is a wildcard; `example.com` is not. */
export function isWildcard(hostname: string): boolean {
  return hostname.charCodeAt(0) === CHAR_STAR && hostname.charCodeAt(1) === CHAR_DOT;
}

/**
 * The domain a wildcard stands under: `*.a.b` -> `a.b`. A name that is not a wildcard is
 * returned as it is, so `wildcardParent(h)` is also "h without its wildcard label".
 */
export function wildcardParent(hostname: string): string {
  return isWildcard(hostname) ? hostname.slice(2) : hostname;
}

/**
 * `name` is `domain` or lies below it, label-aware: `a.example.com` and `*.example.com` are below
 * `example.com`; `badexample.com` is not.
 */
export function isSameOrBelow(name: string, domain: string): boolean {
  if (name.length === domain.length) return name === domain;
  return (
    name.length > domain.length &&
    domain.length > 0 &&
    name.charCodeAt(name.length - domain.length - 1) === CHAR_DOT &&
    name.endsWith(domain)
  );
}

/** `name` lies strictly below `domain` (not equal to it). */
export function isStrictlyBelow(name: string, domain: string): boolean {
  return name.length !== domain.length && isSameOrBelow(name, domain);
}

/**
 * The proper ancestors of a name that have at least two labels, nearest first; the wildcard label
 * counts as a label: `a.b.example.com` -> [`b.example.com`, `example.com`];
 * `*.a.example.com` -> [`a.example.com`, `example.com`]; `example.com` -> [].
 */
export function parentDomains(hostname: string): string[] {
  const parents: string[] = [];
  let dot = hostname.indexOf('.');
  while (dot !== -1) {
    const parent = hostname.slice(dot + 1);
    const next = parent.indexOf('.');
    if (next === -1) break;
    parents.push(parent);
    dot += 1 + next;
  }
  return parents;
}

// ---- Deterministic object names -------------------------------------------------------------------

/** First 32 hex characters (128 bits) of sha256 of the normalised hostname; also a valid label value. */
export function hostnameHash(hostname: string): string {
  return createHash('sha256').update(hostname).digest('hex').slice(0, 32);
}

/**
 * The DomainClaim name for a normalised hostname: `hn-<hash>` for a literal name, `hw-<hash>` for
 * a wildcard. The prefix keeps a wildcard and a literal name apart by construction, not merely by
 * the odds of a hash collision; the hash covers the whole name, `*.` included.
 */
export function claimNameFor(hostname: string): string {
  return (isWildcard(hostname) ? 'hw-' : 'hn-') + hostnameHash(hostname);
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/**
 * The HostnameGrant name for (hostname, namespace): `<namespace>.<claimNameFor(hostname)>`, a
 * DNS-1123 subdomain of at most 99 characters that says whose it is in `kubectl get`. Namespace
 * names cannot contain dots, so distinct pairs never share a name. Throws TypeError when
 * `namespace` is not a DNS label (a namespace name never is otherwise).
 */
export function grantNameFor(hostname: string, namespace: string): string {
  if (!DNS_LABEL.test(namespace)) throw new TypeError(`grantNameFor: "${namespace}" is not a namespace name`);
  return `${namespace}.${claimNameFor(hostname)}`;
}

// ---- Route53 ownership records --------------------------------------------------------------------

/**
 * The TXT record that marks a hostname's DNS records as ours: `_gwo.<hostname>`, and for a
 * wildcard `*.x.y` the name `_gwo-wildcard.x.y`.
 *
 * Why not a TXT beside the alias itself: Route53 keeps one TXT record set per name, so at
 * `example.com` it would fight the tenant's own SPF and verification records, and a TXT at
 * `*.x.y` would be synthesised as the TXT answer for every name below x.y that has none of its own.
 * Why not `_gwo.*.x.y` for a wildcard: an asterisk that is not the leftmost label is a literal
 * character in DNS (Route53 shows it as \052), and `_gwo.x.y` already belongs to the literal name
 * `x.y`. Hostnames cannot contain underscores, so no hostname's record can be another's.
 */
export function ownerRecordName(hostname: string): string {
  return isWildcard(hostname) ? OWNER_RECORD_WILDCARD_PREFIX + hostname.slice(2) : OWNER_RECORD_PREFIX + hostname;
}

/**
 * normaliseHostname plus the rule for hostnames that become requests: the ownership record must
 * fit in 253 characters too (at most 248 characters, 241 for a wildcard).
 */
export function validateRequestHostname(input: unknown): HostnameResult {
  const result = normaliseHostname(input);
  if (!result.ok) return result;
  const max = isWildcard(result.hostname) ? MAX_REQUEST_WILDCARD_HOSTNAME_LENGTH : MAX_REQUEST_HOSTNAME_LENGTH;
  if (result.hostname.length > max) {
    return fail(
      `hostname is ${result.hostname.length} characters long; a requested ${isWildcard(result.hostname) ? 'wildcard ' : ''}hostname may have at most ${max}, ` +
        `so that its ownership record ${isWildcard(result.hostname) ? '_gwo-wildcard.<parent>' : '_gwo.<hostname>'} fits in ${MAX_HOSTNAME_LENGTH}`,
    );
  }
  return result;
}
