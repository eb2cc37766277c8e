/**
 * Names from a document are data: a state id, a `<data>` id, a `<param>` name may be
 * `__proto__` or `constructor`. Writing one with `obj[name] = value` would set an object's
 * prototype (`__proto__`); reading one with `obj[name]` finds `Object.prototype`'s members.
 * These helpers write and read own properties only.
 *
 * @module
 */

/** Sets `obj[key]` as an own, enumerable, writable property (also for `__proto__`). */
export function setOwn(obj: object, key: string, value: unknown): void {
  if (key === "__proto__") {
    Object.defineProperty(obj, key, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  } else (obj as Record<string, unknown>)[key] = value;
}

/** `obj[key]` when it is an own property, else undefined (never an inherited member). */
export function getOwn<T>(obj: Record<string, T>, key: string): T | undefined {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}
