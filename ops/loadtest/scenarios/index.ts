/** Every scenario by its command-line name. */
import type { ScenarioName } from '../args';
import { abuse } from './abuse';
import type { Scenario } from './context';
import { flashSale } from './flash-sale';
import { steady } from './steady';
import { webhookStorm } from './webhook-storm';
import { wsStorm } from './ws-storm';

export const SCENARIO_RUNNERS: Record<ScenarioName, Scenario> = {
  steady,
  'flash-sale': flashSale,
  abuse,
  'webhook-storm': webhookStorm,
  'ws-storm': wsStorm,
};
