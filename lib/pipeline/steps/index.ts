export * from './deploy';
export * from './image';
export * from './infra';
export * from './trivy';
export * from './types';
export * from './verify';
