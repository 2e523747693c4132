/**
 * What the operator console reads from the API, as the API's own schemas define it (the pipeline
 * module's and the DLQ module's `.static` types): the overview, a page of stuck orders, one order's
 * diagnosis, the answers to a re-drive and a replay. Type imports only: nothing of them (or of Elysia)
 * reaches the browser bundle, and a change to a schema fails the page's typecheck instead of the page.
 */
import type { DeadLetterView, ReplayResultView } from '../../dlq/model';
import type { PipelineOrderView, PipelineOverview, RedriveResultView, StuckOrderView, StuckPage } from '../../pipeline/model';

export type { DeadLetterView, PipelineOverview, ReplayResultView, StuckPage };
export type StageView = PipelineOverview['stages'][number];
export type StuckOrder = StuckOrderView;
export type OrderDiagnosis = PipelineOrderView;
export type RedriveResult = RedriveResultView;
