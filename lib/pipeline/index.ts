export * from './build-project';
export * from './delivery-pipeline';
export * from './steps';
export * from './verify-stage';
