export * from './codec';
export * from './errors';
export * from './events';
export * from './order-state';
export * from './registry';
export * from './schemas';
export * from './status-feed';
export * from './topics';
