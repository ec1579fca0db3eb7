export * from './database';
export * from './migration-target';
export * from './migration-task';
export * from './parameters';
export * from './rotation';
