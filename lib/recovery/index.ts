export * from './disaster-recovery';
export * from './recovery-stack';
