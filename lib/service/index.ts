export * from './deployment-alarms';
export * from './load-balancer';
export * from './payment-service';
export * from './secrets';
export * from './smoke-test-hook';
export * from './waf';
