export * from './config';
export * from './connections';
export * from './headers';
export * from './limiter';
export * from './memory';
