// @ts-check
/**
 * Renders nginx.conf.template: for docker compose (service names, TLS in staging/prod) and for the local
 * nginx test (loopback addresses, a private prefix). One template, so what is tested is what is deployed.
 *
 *   node ops/nginx/render.mjs compose [--tls] > nginx.conf
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const TEMPLATE = join(dirname(fileURLToPath(import.meta.url)), 'nginx.conf.template');

/**
 * @param {{ listen: string, gateways: string[], edges: string[], tls?: { cert: string, key: string },
 *   prefix?: string, user?: string, healthBody?: string }} o
 */
export function renderNginx(o) {
  const servers = (/** @type {string[]} */ list) => list.map((s) => `    server ${s} max_fails=1 fail_timeout=10s;`).join('\n');
  const local = o.prefix;
  const tls = o.tls
    ? [
        // `listen … http2` rather than `http2 on;`: Debian's nginx 1.22 (the local test) predates the latter.
        `    listen ${o.listen} ssl http2;`,
        `    ssl_certificate ${o.tls.cert};`,
        `    ssl_certificate_key ${o.tls.key};`,
        '    ssl_protocols TLSv1.3;',
        '    ssl_session_cache shared:tls:10m;',
        '    ssl_session_timeout 1h;',
        '    ssl_session_tickets off;',
        '    add_header Strict-Transport-Security "max-age=63072000" always;',
      ].join('\n')
    : `    listen ${o.listen};`;
  const values = {
    MAIN: [
      o.user ? `user ${o.user};` : '',
      'worker_processes auto;',
      `pid ${local ? join(local, 'nginx.pid') : '/tmp/nginx.pid'};`,
      local ? 'daemon off;' : '',
    ]
      .filter(Boolean)
      .join('\n'),
    ACCESS_LOG: local ? join(local, 'access.log') : '/dev/stdout',
    ERROR_LOG: local ? join(local, 'error.log') : '/dev/stderr',
    TEMP_PATHS: ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
      .map((k) => `${k}_temp_path ${join(local ?? '/tmp', `${k}_temp`)};`)
      .join('\n  '),
    GATEWAY_SERVERS: servers(o.gateways),
    EDGE_SERVERS: servers(o.edges),
    LISTEN: tls,
    // Plain HTTP only redirects, except the health check (the container's probe speaks plain HTTP on 80).
    HEALTH_BODY: o.healthBody ?? 'ok',
    HTTP_REDIRECT: o.tls
      ? [
          '  server {',
          '    listen 80;',
          '    server_name _;',
          '    location = /nginx-health {',
          '      access_log off;',
          `      return 200 "${o.healthBody ?? 'ok'}\\n";`,
          '    }',
          '    location / {',
          '      return 301 https://$host$request_uri;',
          '    }',
          '  }',
          '',
        ].join('\n')
      : '',
  };
  return readFileSync(TEMPLATE, 'utf8').replace(/\{\{(\w+)\}\}/g, (_, k) => {
    const v = /** @type {Record<string, string>} */ (values)[k];
    if (v === undefined) throw new Error(`nginx template: no value for {{${k}}}`);
    return v;
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [target, ...flags] = process.argv.slice(2);
  if (target !== 'compose') {
    process.stderr.write('usage: node ops/nginx/render.mjs compose [--tls]\n');
    process.exit(2);
  }
  const tlsOn = flags.includes('--tls');
  process.stdout.write(
    renderNginx({
      listen: tlsOn ? '443' : '80',
      gateways: ['gateway:8080'],
      edges: ['ws-edge:8090'],
      tls: tlsOn ? { cert: '/etc/nginx/certs/tls.crt', key: '/etc/nginx/certs/tls.key' } : undefined,
    }),
  );
}
