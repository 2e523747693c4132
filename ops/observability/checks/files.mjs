// @ts-check
/**
 * What the observability check reads: the Prometheus and Grafana files under ops/observability, the
 * repository root where the services' sources live, and the datasource uid they must all agree on.
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** ops/observability (promtool runs in it). */
export const here = join(dirname(fileURLToPath(import.meta.url)), '..');
export const repoRoot = resolve(process.env.ORDERS_REPO_ROOT || join(here, '..', '..'));
export const files = {
  config: join(here, 'prometheus', 'prometheus.yml'),
  alerts: join(here, 'prometheus', 'alerts.yml'),
  tests: join(here, 'rules.test.yml'),
  dashboards: join(here, 'grafana', 'dashboards'),
  datasource: join(here, 'grafana', 'provisioning', 'datasources', 'prometheus.yml'),
  provider: join(here, 'grafana', 'provisioning', 'dashboards', 'dashboards.yml'),
};
export const DATASOURCE_UID = 'prometheus';
