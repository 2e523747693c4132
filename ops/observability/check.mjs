#!/usr/bin/env node
// @ts-check
/**
 * Checks the observability configuration in ops/observability with Prometheus's own tools:
 *
 *   1. promtool check config  prometheus/prometheus.yml   (also loads the rule files it names)
 *   2. promtool check rules   prometheus/alerts.yml
 *      + every alert has `for:`, a severity label, and summary/description annotations
 *   3. promtool test rules    rules.test.yml
 *   4. every dashboard JSON under grafana/dashboards parses and has uid, title and panels (uids unique,
 *      panel ids unique, Prometheus datasource uid "prometheus"); every panel target's `expr` (and every
 *      `label_values(...)` variable query) is written as a recording rule `dashboard:check:<n>` into a
 *      temporary rules file that promtool parses. Grafana variables are replaced first: $__rate_interval,
 *      $__interval, $__range -> 5m; dashboard variables -> .* (so use them only in regex matchers).
 *   5. every `orders_*` metric name used by the alerts, the unit tests and the dashboards is created in
 *      the services' code (gateway, ws-edge, workers, platform), with its histogram suffixes and the
 *      prom-client default metrics, and every label matcher on such a selector names a label the metric
 *      really has (its labelNames, or service/job/instance, or le on _bucket).
 *
 * Each check lives in checks/<name>.mjs (and a sixth: Grafana's provisioning points at the datasource and
 * the dashboards folder); this file only runs them in order and sums up.
 *
 * No dependencies. Usage (from anywhere):
 *   node ops/observability/check.mjs
 * Environment: PROMTOOL=/path/to/promtool (else promtool from PATH);
 *   ORDERS_REPO_ROOT=<dir> where gateway/, ws-edge/, workers/, platform/ live (default: two levels up).
 * Exits 1, listing every failure, when anything is wrong; 0 otherwise.
 */
import { checkAlertShape } from './checks/alert-shape.mjs';
import { checkDashboards } from './checks/dashboards.mjs';
import { files } from './checks/files.mjs';
import { checkMetricNames } from './checks/metric-names.mjs';
import { parseQueries } from './checks/promql.mjs';
import { findPromtool, promtoolRun, promtoolVersion } from './checks/promtool.mjs';
import { checkProvisioning } from './checks/provisioning.mjs';
import { failures, rel } from './checks/report.mjs';

const promtool = findPromtool();
if (promtool) {
  console.log(`using ${promtool}: ${promtoolVersion(promtool)}`);
  promtoolRun(promtool, ['check', 'config', files.config], `promtool check config ${rel(files.config)}`);
  promtoolRun(promtool, ['check', 'rules', files.alerts], `promtool check rules ${rel(files.alerts)}`);
}
checkAlertShape();
if (promtool) promtoolRun(promtool, ['test', 'rules', files.tests], `promtool test rules ${rel(files.tests)}`);
const queries = checkDashboards();
if (promtool) parseQueries(promtool, queries);
checkMetricNames(queries);
checkProvisioning();

if (failures.length) {
  console.log(`\n${failures.length} check(s) failed:`);
  for (const f of failures) console.log(`  - ${f}`);
  process.exit(1);
}
console.log('\nall observability checks passed');
