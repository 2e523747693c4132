import type { StageName } from '../env';
import type { Stage } from '../runtime/stage';
import { projectorStage } from './projector/index';
import { validatorStage } from './validator/index';

export const STAGES: Record<StageName, Stage> = {
  validator: validatorStage,
  projector: projectorStage,
};
