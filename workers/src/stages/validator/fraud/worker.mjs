// @ts-check
/**
 * The Tinypool worker: scores a batch of feature vectors (transferred, not copied). Plain JS because
 * worker threads do not inherit the main thread's TypeScript loader: it registers tsx for itself, then
 * loads the model.
 */
import { register } from 'tsx/esm/api';

register();
const { scoreBatch } = await import('./model.ts');

/** @param {{ features: Float64Array, count: number }} task */
export default function score(task) {
  return scoreBatch(task.features, task.count);
}
