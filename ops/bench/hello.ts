/** The baseline for gateway benchmarks: a bare Elysia hello-world on the same Bun, same machine. */
import { Elysia } from 'elysia';
import { benchEnv, port as portField } from './env';

const { PORT: port } = benchEnv({ PORT: portField({ default: 28081 }) });
new Elysia()
  .get('/', () => 'hello')
  .get('/healthz', () => 'ok')
  .listen({ hostname: '127.0.0.1', port });
