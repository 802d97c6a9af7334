// The apex-domain allowlist: which hostnames the platform manages, and which namespaces may
// request which of them. Pure; hostnames are normalised (see hostname.ts) before they come here.

import type { AllowedDomain } from './config.js';
import { isSameOrBelow, isStrictlyBelow, isWildcard, wildcardParent } from './hostname.js';

export type AllowlistMatch = { ok: true; domain: string } | { ok: false; reason: string; allowedDomains: string[] };

/**
 * `namespace` is one of `patterns`: an exact name, or a prefix ending in `*` (`team-*`; a lone
 * `*` is every namespace). No patterns at all (undefined) means every namespace.
 */
export function namespaceMatches(namespace: string, patterns: readonly string[] | undefined): boolean {
  if (patterns === undefined) return true;
  for (const pattern of patterns) {
    if (pattern.endsWith('*')) {
      if (namespace.startsWith(pattern.slice(0, -1))) return true;
    } else if (pattern === namespace) {
      return true;
    }
  }
  return false;
}

/**
 * The allowlisted apex domain a request for `hostname` from `namespace` falls under.
 *
 * The longest allowlisted domain that the hostname equals or lies below decides, and its namespace
 * restriction applies: with `example.com` open to all and `team.example.com` listed for `team-a*`
 * only, `x.team.example.com` is team-a's alone. The more specific entry reserves the subtree;
 * it does not merely add to the general one. Entries listing the same domain are combined.
 * `*.example.com` lies below `example.com`, so a wildcard under an allowlisted apex is allowed.
 *
 * A denial's `allowedDomains` lists the domains `namespace` may use, in config order, once each.
 */
export function matchAllowedDomain(hostname: string, namespace: string, allowed: readonly AllowedDomain[]): AllowlistMatch {
  let longest: string | undefined;
  let permitted = false;
  for (const entry of allowed) {
    if (!isSameOrBelow(hostname, entry.domain)) continue;
    if (longest === undefined || entry.domain.length > longest.length) {
      longest = entry.domain;
      permitted = namespaceMatches(namespace, entry.namespaces);
    } else if (entry.domain === longest && !permitted) {
      permitted = namespaceMatches(namespace, entry.namespaces);
    }
  }
  if (longest !== undefined && permitted) return { ok: true, domain: longest };

  const allowedDomains = domainsFor(namespace, allowed);
  const reason =
    longest === undefined
      ? 'it is not under any allowlisted domain'
      : `${longest} is allowlisted only for other namespaces`;
  return { ok: false, reason, allowedDomains };
}

/** The domains `namespace` may use, in config order, without repeats. */
export function domainsFor(namespace: string, allowed: readonly AllowedDomain[]): string[] {
  const domains: string[] = [];
  for (const entry of allowed) {
    if (namespaceMatches(namespace, entry.namespaces) && !domains.includes(entry.domain)) domains.push(entry.domain);
  }
  return domains;
}

/**
 * `hostname` lies in the hosted zone `zoneName` (the zone's apex or below it). Route53 reports
 * zone names with a trailing dot; it is ignored, as is case. A wildcard lies in the zone that
 * holds its parent: `*.example.com` is in `example.com`.
 */
export function hostnameInZone(hostname: string, zoneName: string): boolean {
  let zone = zoneName.endsWith('.') ? zoneName.slice(0, -1) : zoneName;
  zone = zone.toLowerCase();
  return zone.length > 0 && isSameOrBelow(hostname, zone);
}

/**
 * Whether the platform manages `hostname`, whatever the namespace: it is an allowlisted domain or
 * lies below one. A route hostname must then be granted to the route's namespace.
 *
 * A wildcard also counts when it reaches over a managed domain: a route for `*.com` would match
 * `app.example.com` on a shared listener, so with `example.com` allowlisted it is managed too
 * (and no namespace can hold a grant for it, so it is denied). A lone `*` reaches over everything.
 */
export function isManagedHostname(hostname: string, allowed: readonly AllowedDomain[]): boolean {
  const wildcard = isWildcard(hostname);
  const parent = wildcard ? wildcardParent(hostname) : hostname;
  for (const entry of allowed) {
    if (isSameOrBelow(hostname, entry.domain)) return true;
    if (wildcard && isStrictlyBelow(entry.domain, parent)) return true;
    if (hostname === '*') return true;
  }
  return false;
}
