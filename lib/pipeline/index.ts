export * from './build-project';
export * from './delivery-pipeline';
export * from './migration';
export * from './steps';
export * from './verify-stage';
