/** The baseline for gateway benchmarks: a bare Elysia hello-world on the same Bun, same machine. */
import { Elysia } from 'elysia';

const port = Number(process.env.PORT ?? 28081);
new Elysia()
  .get('/', () => 'hello')
  .get('/healthz', () => 'ok')
  .listen({ hostname: '127.0.0.1', port });
