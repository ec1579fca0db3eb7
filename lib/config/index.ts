export * from './schema';
export * from './validate';
export * from './load';
export * from './preflight';
export * from './names';
export * from './database';
export * from './egress';
