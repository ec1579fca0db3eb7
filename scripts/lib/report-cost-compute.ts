// Cost lines of what runs: Fargate tasks, the Aurora database, Lambda and X-Ray (scripts/lib/report-cost.ts composes them).
import { arr, count, num, obj, refOf, Resource, round, StackContext } from './report-cost-context';

/** Fargate: the services' tasks all month, the new revision's during each deployment, one-off tasks per release. */
export function fargateLines(ctx: StackContext): void {
  const { input, stack, region, hours, pushes, a, add, ofType, byId, price, services } = ctx;
  const serviceTaskDefs = new Set<string>();
  for (const svc of services) {
    if (svc.props.LaunchType !== 'FARGATE')
      throw new Error(`${stack}/${svc.id}: only Fargate services have a cost rule, got: ${String(svc.props.LaunchType)}`);
    const td = byId(stack, refOf(svc.props.TaskDefinition), `${svc.id}.TaskDefinition`);
    serviceTaskDefs.add(td.id);
    const desired = num(svc.props.DesiredCount, `${stack}/${svc.id}.DesiredCount`);
    const t = fargateTask(td, region, price);
    const covers = ['AWS::ECS::Service', 'AWS::ECS::TaskDefinition'];
    add({
      stack,
      service: 'Fargate',
      item: `Service tasks (${t.size})`,
      quantity: desired * hours,
      unit: 'task-hours',
      priceKeys: t.priceKeys,
      unitPrice: t.hourly,
      basis: `desired count ${desired} x ${hours} h; containers: ${t.containers}`,
      covers,
    });
    const deployHours = input.deployment.success / 3600;
    add({
      stack,
      service: 'Fargate',
      item: `New revision's tasks during deployments (${t.size})`,
      quantity: desired * deployHours * pushes,
      unit: 'task-hours',
      priceKeys: t.priceKeys,
      unitPrice: t.hourly,
      basis: `${count(desired, 'task')} x ${round(deployHours * 60, 1)} min (a good release, deployment-timings) x ${pushes} releases`,
      covers,
    });
  }
  for (const td of ofType('AWS::ECS::TaskDefinition', stack).filter((r) => !serviceTaskDefs.has(r.id))) {
    const t = fargateTask(td, region, price);
    add({
      stack,
      service: 'Fargate',
      item: `One-off task ${String(td.props.Family)} (${t.size})`,
      quantity: (a('migrationTaskMinutes') / 60) * pushes,
      unit: 'task-hours',
      priceKeys: t.priceKeys,
      unitPrice: t.hourly,
      basis: `${a('migrationTaskMinutes')} min per release x ${pushes} releases`,
      covers: ['AWS::ECS::TaskDefinition'],
    });
  }
}

/** Aurora PostgreSQL Serverless v2: capacity, storage, I/O, backup storage beyond the free allowance. */
export function auroraLines(ctx: StackContext): void {
  const { stack, hours, a, add, ofType } = ctx;
  for (const cluster of ofType('AWS::RDS::DBCluster', stack)) {
    const scaling = obj(cluster.props.ServerlessV2ScalingConfiguration);
    if (scaling.MinCapacity === undefined) throw new Error(`${stack}/${cluster.id}: only Aurora Serverless v2 has a cost rule`);
    const min = num(scaling.MinCapacity, `${cluster.id}.MinCapacity`);
    const max = num(scaling.MaxCapacity, `${cluster.id}.MaxCapacity`);
    const instances = ofType('AWS::RDS::DBInstance', stack).filter((i) => refOf(i.props.DBClusterIdentifier) === cluster.id);
    const serverless = instances.filter((i) => i.props.DBInstanceClass === 'db.serverless');
    if (serverless.length !== instances.length) throw new Error(`${stack}/${cluster.id}: only db.serverless instances have a cost rule`);
    const covers = ['AWS::RDS::DBCluster', 'AWS::RDS::DBInstance'];
    const avg = Math.min(max, Math.max(min, a('dbAverageAcu')));
    add({
      stack,
      service: 'Aurora',
      item: 'Capacity at the configured minimum',
      quantity: instances.length * min * hours,
      unit: 'ACU-hours',
      priceKeys: ['auroraServerlessV2AcuHour'],
      basis: `${count(instances.length, 'instance')} x ${min} ACU (configured minimum; maximum ${max}) x ${hours} h`,
      covers,
    });
    add({
      stack,
      service: 'Aurora',
      item: 'Capacity above the minimum',
      quantity: instances.length * (avg - min) * hours,
      unit: 'ACU-hours',
      priceKeys: ['auroraServerlessV2AcuHour'],
      basis: `${count(instances.length, 'instance')} x (${avg} ACU assumed average - ${min}) x ${hours} h`,
      covers,
    });
    const storage = a('dbStorageGb');
    add({
      stack,
      service: 'Aurora',
      item: 'Storage',
      quantity: storage,
      unit: 'GB-months',
      priceKeys: ['auroraStorageGbMonth'],
      basis: 'assumed dbStorageGb',
      covers,
    });
    add({
      stack,
      service: 'Aurora',
      item: 'I/O requests',
      quantity: a('dbIoMillions'),
      unit: 'million I/O',
      priceKeys: ['auroraIoMillion'],
      basis: 'assumed dbIoMillions',
      covers,
    });
    const retention = num(cluster.props.BackupRetentionPeriod ?? 1, `${cluster.id}.BackupRetentionPeriod`);
    add({
      stack,
      service: 'Aurora',
      item: 'Backup storage beyond the free 100 % of storage',
      quantity: storage * a('dbDailyChange') * retention,
      unit: 'GB-months',
      priceKeys: ['auroraBackupGbMonth'],
      basis: `${storage} GB x ${a('dbDailyChange')} daily change x ${retention} days retention`,
      covers,
    });
  }
}

/** Lambda (the lifecycle hook per release) and X-Ray (the traced hook, and the service when tracing is on). */
export function lambdaLines(ctx: StackContext): void {
  const { config, stack, pushes, requests, a, add, ofType, services } = ctx;
  const functions = ofType('AWS::Lambda::Function', stack);
  if (functions.length > 0) {
    const covers = ['AWS::Lambda::Function'];
    const hooks = functions.filter((f) =>
      services.some((s) =>
        arr(obj(s.props.DeploymentConfiguration).LifecycleHooks).some((h) => JSON.stringify(obj(h).HookTargetArn).includes(`"${f.id}"`)),
      ),
    );
    const invocations = hooks.length * pushes;
    add({
      stack,
      service: 'Lambda',
      item: 'Requests',
      quantity: invocations / 1e6,
      unit: 'million requests',
      priceKeys: ['lambdaMillionRequests'],
      basis: `${count(hooks.length, 'lifecycle hook')} x ${pushes} releases; ${count(functions.length - hooks.length, 'other function')} run only on stack updates`,
      covers,
    });
    for (const hook of hooks) {
      const arm = arr(hook.props.Architectures).includes('arm64');
      const gbSeconds = (num(hook.props.MemorySize ?? 128, `${hook.id}.MemorySize`) / 1024) * a('smokeHookSeconds') * pushes;
      add({
        stack,
        service: 'Lambda',
        item: `Duration: ${hook.id}`,
        quantity: gbSeconds,
        unit: 'GB-seconds',
        priceKeys: [arm ? 'lambdaGbSecondArm' : 'lambdaGbSecondX86'],
        basis: `${String(hook.props.MemorySize)} MB x ${a('smokeHookSeconds')} s x ${pushes} releases`,
        covers,
      });
    }
    const tracedFunctions = hooks.filter((f) => obj(f.props.TracingConfig).Mode === 'Active').length;
    const sampled = config.monitoring.tracing.enabled ? requests * config.monitoring.tracing.sampleRatio : 0;
    const traces = tracedFunctions * pushes + sampled;
    if (traces > 0) {
      add({
        stack,
        service: 'X-Ray',
        item: 'Traces recorded',
        quantity: traces / 1e6,
        unit: 'million traces',
        priceKeys: ['xrayMillionTraces'],
        basis: `${count(tracedFunctions, 'traced hook')} x ${pushes} releases + ${config.monitoring.tracing.enabled ? `requests x sample ratio ${config.monitoring.tracing.sampleRatio}` : 'service tracing off (config monitoring.tracing.enabled)'}`,
        covers: [],
      });
    }
  }
}

/** The hourly price of one Fargate task of a task definition (task-level CPU and memory, which all containers share). */
function fargateTask(td: Resource, region: string, price: (region: string, key: string) => number) {
  const cpu = num(td.props.Cpu, `${td.id}.Cpu`);
  const memory = num(td.props.Memory, `${td.id}.Memory`);
  const arch = String(obj(td.props.RuntimePlatform).CpuArchitecture ?? 'X86_64');
  const suffix = arch === 'ARM64' ? 'Arm' : 'X86';
  const priceKeys = [`fargateVcpuHour${suffix}`, `fargateGbHour${suffix}`];
  const [vcpuKey, gbKey] = priceKeys as [string, string];
  const containers = arr(td.props.ContainerDefinitions)
    .map(obj)
    .map((c) => (c.Essential === false ? `${String(c.Name)} (sidecar)` : String(c.Name)))
    .join(', ');
  return {
    size: `${cpu / 1024} vCPU, ${memory / 1024} GB, ${arch}`,
    hourly: (cpu / 1024) * price(region, vcpuKey) + (memory / 1024) * price(region, gbKey),
    priceKeys,
    containers,
  };
}
