export * from './config';
export * from './connections';
export * from './decision';
export * from './headers';
export * from './limiter';
export * from './memory';
