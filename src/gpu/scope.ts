// Lifetimes in scopes: `rt.scope(() => ...)` frees every tensor the block created, unless the block returns it
// (alone, or inside arrays and plain objects) or keeps it (`keep(t)`: it then belongs to the enclosing scope, or
// to the caller where there is none). The block may be async: the scope follows its async context
// (AsyncLocalStorage), so work running concurrently outside it never lands in it.
import { AsyncLocalStorage } from 'node:async_hooks';

export interface Disposable {
  dispose(): void;
}

const current = new AsyncLocalStorage<Set<Disposable>>();

/** Registers a new resource with the innermost scope, if any (tensors do this when they are created). */
export function track<T extends Disposable>(resource: T): T {
  current.getStore()?.add(resource);
  return resource;
}

/** Takes a resource out of the innermost scope: it outlives it (into the enclosing scope, if any). */
export function keep<T extends Disposable>(resource: T): T {
  const scope = current.getStore();
  if (scope?.delete(resource)) parents.get(scope)?.add(resource);
  return resource;
}

const parents = new WeakMap<Set<Disposable>, Set<Disposable>>();

export function scope<T>(body: () => T): T {
  const created = new Set<Disposable>();
  const parent = current.getStore();
  if (parent) parents.set(created, parent);
  const close = (result: unknown) => {
    const returned = new Set<Disposable>();
    collect(result, returned, 0);
    for (const resource of created) {
      if (returned.has(resource)) parent?.add(resource);
      else resource.dispose();
    }
  };
  let result: T;
  try {
    result = current.run(created, body);
  } catch (e) {
    close(undefined);
    throw e;
  }
  if (result instanceof Promise) {
    return result.then((value) => { close(value); return value; }, (e) => { close(undefined); throw e; }) as T;
  }
  close(result);
  return result;
}

/** The disposables in a returned value: itself, or within arrays and plain objects (a few levels deep). */
function collect(value: unknown, into: Set<Disposable>, depth: number): void {
  if (value === null || typeof value !== 'object' || depth > 4) return;
  if (typeof (value as Disposable).dispose === 'function' && Object.getPrototypeOf(value) !== Object.prototype) {
    into.add(value as Disposable);
    // A returned view keeps the tensor that owns its buffer.
    const base = (value as { base?: unknown }).base;
    if (base && base !== value) into.add(base as Disposable);
    return;
  }
  if (Array.isArray(value)) { for (const item of value) collect(item, into, depth + 1); return; }
  if (Object.getPrototypeOf(value) === Object.prototype) for (const item of Object.values(value)) collect(item, into, depth + 1);
}
