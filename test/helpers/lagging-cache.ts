// A cache as a slow watch would show it: what a reconciler behind a loaded API server sees.
import type { KubernetesObject } from '@kubernetes/client-node';
import type { CacheListener, ObjectCache } from '../../server/kube/cache.js';

/**
 * A view of `real` that sees every change `lagMs` late, in order: its events and what `get` and
 * `list` give lag alike, so the view stays consistent with itself. Everything else is the real
 * cache's. Give it only to the half under test (the reconciler); the rest reads the real one.
 */
export function laggingCache<T extends KubernetesObject>(real: ObjectCache<T>, lagMs: number): ObjectCache<T> {
  const keyOf = (o: T) => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
  const mirror = new Map<string, T>(real.list().map((o) => [keyOf(o), o]));
  const listeners: Array<CacheListener<T>> = [];
  real.on((event, o) => {
    setTimeout(() => {
      if (event === 'delete') mirror.delete(keyOf(o));
      else mirror.set(keyOf(o), o);
      for (const listener of listeners) listener(event, o);
    }, lagMs).unref();
  });
  return new Proxy(real, {
    get(target, prop, receiver) {
      if (prop === 'get') return (name: string, namespace?: string) => mirror.get(`${namespace ?? ''}/${name}`);
      if (prop === 'list') return (namespace?: string) => [...mirror.values()].filter((o) => !namespace || o.metadata?.namespace === namespace);
      if (prop === 'on') return (listener: CacheListener<T>) => void listeners.push(listener);
      const value: unknown = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}
