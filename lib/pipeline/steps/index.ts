export * from './deploy';
export * from './image';
export * from './trivy';
export * from './types';
export * from './verify';
