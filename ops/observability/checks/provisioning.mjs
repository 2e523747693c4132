// @ts-check
/**
 * Check: Grafana's provisioning points where the stack expects: the Prometheus datasource (its uid, the
 * dashboards' "prometheus", and its URL inside the compose network) and the file provider's path.
 */
import { existsSync, readFileSync } from 'node:fs';
import { DATASOURCE_UID, files } from './files.mjs';
import { fail, ok, rel } from './report.mjs';

export function checkProvisioning() {
  /** @type {[string, RegExp, string][]} */
  const expectations = [
    [files.datasource, new RegExp(String.raw`^\s*uid:\s*['"]?${DATASOURCE_UID}['"]?\s*$`, 'm'), `datasource uid "${DATASOURCE_UID}"`],
    [files.datasource, /^\s*url:\s*['"]?http:\/\/prometheus:9090['"]?\s*$/m, 'url http://prometheus:9090'],
    [files.provider, /^\s*type:\s*file\s*$/m, 'file provider'],
    [files.provider, /^\s*path:\s*['"]?\/var\/lib\/grafana\/dashboards['"]?\s*$/m, 'path /var/lib/grafana/dashboards'],
  ];
  for (const [file, re, what] of expectations) {
    if (!existsSync(file)) fail(`${rel(file)} is missing`);
    else if (!re.test(readFileSync(file, 'utf8'))) fail(`${rel(file)}: expected ${what}`);
    else ok(`${rel(file)}: ${what}`);
  }
}
