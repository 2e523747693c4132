/**
 * Which methods a path has, for the 405 answer (RFC 9110: a known resource asked with a method it does
 * not support answers 405 with `Allow`, not 404). Compiled from the app's routes on first use.
 */
import type { AnyElysia } from 'elysia';

export function allowedMethods(app: () => AnyElysia): (path: string) => string[] {
  let table: { pattern: RegExp; method: string }[] | undefined;
  return (path) => {
    table ??= app()
      .routes.filter((r) => r.method !== 'ALL')
      .map((r) => ({
        pattern: new RegExp(
          `^${r.path
            .replace(/\/$/, '')
            .split('/')
            .map((part) => (part.startsWith(':') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
            .join('/')}/?$`,
        ),
        method: r.method.toUpperCase(),
      }));
    const methods = new Set(table.filter((t) => t.pattern.test(path)).map((t) => t.method));
    // Bun answers HEAD for every GET route.
    if (methods.has('GET')) methods.add('HEAD');
    return [...methods].sort();
  };
}
