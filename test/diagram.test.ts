import * as fs from 'fs';
import * as path from 'path';
import { PROMOTION_ORDER } from '../lib/config';
import { DiagramInput, diagramDot, diagramFiles, diagramInputOf, relativePath, renderSvg, staleFiles } from '../scripts/lib/diagram';
import { CfnTemplate, synthesize } from '../scripts/lib/synthesized';

const ROOT = path.join(__dirname, '..');

/** Every environment synthesized once for the whole file (about 8 s each). */
const inputs = new Map<string, DiagramInput>();
const dots = new Map<string, string>();
beforeAll(() => {
  for (const env of PROMOTION_ORDER) {
    const input = diagramInputOf(synthesize(env));
    inputs.set(env, input);
    dots.set(env, diagramDot(input));
  }
}, 240_000);

const inputOf = (env: string) => inputs.get(env) as DiagramInput;
const dotOf = (env: string) => dots.get(env) as string;

/** The edges of a DOT text as `from`, `to`, `label`. */
function edgesOf(dot: string): { from: string; to: string; label: string }[] {
  return [...dot.matchAll(/^\s*"([^"]+)" -> "([^"]+)" \[(?:label="([^"]*)", )?/gm)].map((m) => ({ from: m[1]!, to: m[2]!, label: m[3] ?? '' }));
}

/** The node id of a resource: its stack and construct path. */
function nodeIdOf(input: DiagramInput, stackName: string, logicalId: string): string {
  const stack = input.stacks.find((s) => s.name === stackName)!;
  return `${stackName}/${relativePath(stackName, stack.paths[logicalId] ?? logicalId)}`;
}

const mainStack = (input: DiagramInput) => input.stacks[0]!;
const idsOfType = (template: CfnTemplate, type: string) =>
  Object.keys(template.Resources)
    .filter((id) => template.Resources[id]!.Type === type)
    .sort();
const refTarget = (value: unknown): string | undefined => {
  const v = value as { Ref?: string; 'Fn::GetAtt'?: [string, string] };
  return v?.Ref ?? v?.['Fn::GetAtt']?.[0];
};

describe('the architecture diagram (docs/architecture/<env>.dot and .svg, `npm run diagram`)', () => {
  test('GIVEN the committed files WHEN regenerated in memory THEN every .dot and .svg is byte for byte what the stacks give', () => {
    const rendered = renderSvg(PROMOTION_ORDER.map(dotOf));
    const expected = Object.fromEntries(
      PROMOTION_ORDER.flatMap((env, i) => [
        [diagramFiles(env).dot, dotOf(env)],
        [diagramFiles(env).svg, rendered[i]!],
      ]),
    );
    const read = (file: string) => (fs.existsSync(path.join(ROOT, file)) ? fs.readFileSync(path.join(ROOT, file), 'utf8') : undefined);
    expect({ stale: staleFiles(expected, read), fix: 'npm run diagram, then commit docs/architecture/' }).toEqual({
      stale: [],
      fix: 'npm run diagram, then commit docs/architecture/',
    });
    for (const svg of rendered) expect(Buffer.byteLength(svg)).toBeLessThan(600 * 1024);
  }, 120_000);

  test('the check reports a file whose content differs by one byte, and a missing one, and nothing else', () => {
    const files: Record<string, string> = { 'a.dot': 'digraph {}\n', 'a.svg': '<svg/>', 'b.dot': 'digraph { x }\n' };
    const onDisk: Record<string, string> = { 'a.dot': 'digraph {}\n', 'a.svg': '<svg/> ' };
    expect(staleFiles(files, (f) => onDisk[f])).toEqual(['a.svg', 'b.dot']);
    expect(staleFiles(files, (f) => files[f])).toEqual([]);
  });

  test('GIVEN one more security group rule, or one more resource, THEN the DOT differs (the check bites)', () => {
    const input = inputOf('dev');
    const main = mainStack(input);
    const [database] = idsOfType(main.template, 'AWS::RDS::DBCluster');
    const databaseGroup = refTarget((main.template.Resources[database!]!.Properties!.VpcSecurityGroupIds as unknown[])[0]);
    const [loadBalancer] = idsOfType(main.template, 'AWS::ElasticLoadBalancingV2::LoadBalancer');
    const albGroup = refTarget((main.template.Resources[loadBalancer!]!.Properties!.SecurityGroups as unknown[])[0]);
    const withRule: DiagramInput = {
      ...input,
      stacks: input.stacks.map((s) =>
        s !== main
          ? s
          : {
              ...s,
              template: {
                ...s.template,
                Resources: {
                  ...s.template.Resources,
                  ExtraIngress: {
                    Type: 'AWS::EC2::SecurityGroupIngress',
                    Properties: {
                      GroupId: { 'Fn::GetAtt': [databaseGroup, 'GroupId'] },
                      SourceSecurityGroupId: { 'Fn::GetAtt': [albGroup, 'GroupId'] },
                      IpProtocol: 'tcp',
                      FromPort: 5432,
                      ToPort: 5432,
                    },
                  },
                },
              },
            },
      ),
    };
    const changed = diagramDot(withRule);
    expect(changed).not.toBe(dotOf('dev'));
    expect(edgesOf(changed)).toContainEqual({
      from: nodeIdOf(input, main.name, loadBalancer!),
      to: nodeIdOf(input, main.name, database!),
      label: 'tcp 5432',
    });
    expect(edgesOf(dotOf('dev'))).not.toContainEqual({
      from: nodeIdOf(input, main.name, loadBalancer!),
      to: nodeIdOf(input, main.name, database!),
      label: 'tcp 5432',
    });

    const withTopic: DiagramInput = {
      ...input,
      stacks: input.stacks.map((s) =>
        s !== main
          ? s
          : { ...s, template: { ...s.template, Resources: { ...s.template.Resources, ExtraTopic: { Type: 'AWS::SNS::Topic', Properties: {} } } } },
      ),
    };
    expect(diagramDot(withTopic)).toContain(`"${main.name}/ExtraTopic" [label="SNS topic\\lExtraTopic\\l`);
  });

  test('GIVEN an asset hash that changes (new Lambda code) THEN the DOT is the same; no asset hash appears in any DOT', () => {
    const input = inputOf('dev');
    const main = mainStack(input);
    const functions = idsOfType(main.template, 'AWS::Lambda::Function');
    expect(functions.length).toBeGreaterThan(0);
    const rehashed: DiagramInput = {
      ...input,
      stacks: input.stacks.map((s) => {
        if (s !== main) return s;
        const resources = { ...s.template.Resources };
        for (const id of functions) {
          const r = resources[id]!;
          resources[id] = { ...r, Properties: { ...r.Properties, Code: { S3Bucket: 'cdk-assets', S3Key: `${'f'.repeat(64)}.zip` } } };
        }
        return { ...s, template: { ...s.template, Resources: resources } };
      }),
    };
    expect(diagramDot(rehashed)).toBe(dotOf('dev'));
    for (const env of PROMOTION_ORDER) {
      expect(dotOf(env)).not.toMatch(/[0-9a-f]{32,}/);
      expect(dotOf(env)).not.toMatch(/cdk-hnb659fds|\.zip|asset/i);
      expect(diagramDot(inputOf(env))).toBe(dotOf(env));
    }
  });

  test.each(PROMOTION_ORDER)('%s: the load balancer reaches the service tasks on the container port, and only there', (env) => {
    const input = inputOf(env);
    const main = mainStack(input);
    const [service] = idsOfType(main.template, 'AWS::ECS::Service');
    const [loadBalancer] = idsOfType(main.template, 'AWS::ElasticLoadBalancingV2::LoadBalancer');
    const binding = (
      main.template.Resources[service!]!.Properties!.LoadBalancers as { ContainerName: string; ContainerPort: number; TargetGroupArn: unknown }[]
    )[0]!;
    const alb = nodeIdOf(input, main.name, loadBalancer!);
    const tasks = nodeIdOf(input, main.name, service!);
    const edges = edgesOf(dotOf(env));
    expect(edges.filter((e) => e.from === alb && e.label.startsWith('tcp')).map((e) => [e.to, e.label])).toEqual([
      [tasks, `tcp ${binding.ContainerPort}`],
    ]);
    expect(edges).toContainEqual({
      from: nodeIdOf(input, main.name, refTarget(binding.TargetGroupArn)!),
      to: tasks,
      label: `container ${binding.ContainerName}:${binding.ContainerPort}`,
    });
  });

  test.each(PROMOTION_ORDER)('%s: the database admits exactly the peers its security group rules name, on its port', (env) => {
    const input = inputOf(env);
    const main = mainStack(input);
    const resources = main.template.Resources;
    const [database] = idsOfType(main.template, 'AWS::RDS::DBCluster');
    const databaseGroup = refTarget((resources[database!]!.Properties!.VpcSecurityGroupIds as unknown[])[0]);
    // From the template: the groups its ingress rules name, and what carries each of them (else the group itself).
    const sourceGroups = idsOfType(main.template, 'AWS::EC2::SecurityGroupIngress')
      .map((id) => resources[id]!.Properties!)
      .filter((p) => refTarget(p.GroupId) === databaseGroup)
      .map((p) => refTarget(p.SourceSecurityGroupId)!);
    expect(sourceGroups.length).toBe(3);
    // A resource carries a group when it lists it as its own (SecurityGroups, SecurityGroupIds, VpcSecurityGroupIds);
    // a group only named elsewhere (the deploy step's environment passes the migration group to RunTask) is not carried.
    const carries = (value: unknown, group: string, own = false): boolean => {
      if (Array.isArray(value)) return value.some((v) => carries(v, group, own));
      if (typeof value !== 'object' || value === null) return false;
      if (own && refTarget(value) === group) return true;
      return Object.entries(value).some(([k, v]) => carries(v, group, own || /SecurityGroup(s|Ids?)$/.test(k)));
    };
    const carriers = (group: string) => {
      const holders = Object.keys(resources).filter(
        (id) => !resources[id]!.Type.startsWith('AWS::EC2::SecurityGroup') && carries(resources[id]!.Properties, group),
      );
      return holders.length > 0 ? holders : [group];
    };
    const expected = [...new Set(sourceGroups.flatMap(carriers).map((id) => nodeIdOf(input, main.name, id)))].sort();
    const port = String(resources[database!]!.Properties!.Port);
    const into = edgesOf(dotOf(env)).filter((e) => e.to === nodeIdOf(input, main.name, database!) && e.label.startsWith('tcp'));
    expect(into.map((e) => e.from).sort()).toEqual(expected);
    expect(new Set(into.map((e) => e.label))).toEqual(new Set([`tcp ${port}`]));
    expect(expected).toEqual([
      `${main.name}/Database/AppUserRotation/Schedule`,
      `${main.name}/Database/MasterRotation/Schedule`,
      `${main.name}/Migration/SecurityGroup`,
      `${main.name}/PaymentService/Service/Service`,
    ]);
  });

  test.each(PROMOTION_ORDER)('%s: every stack is drawn inside its region, and every cross-region replication and copy is an edge', (env) => {
    const input = inputOf(env);
    const dot = dotOf(env);
    for (const stack of input.stacks) {
      expect(dot).toContain(`label="Region ${stack.region}"`);
      expect(dot).toContain(`label="Stack ${stack.name}"`);
    }
    const edges = edgesOf(dot);
    for (const stack of input.stacks) {
      for (const id of idsOfType(stack.template, 'AWS::S3::Bucket').filter(
        (b) => stack.template.Resources[b]!.Properties!.ReplicationConfiguration,
      )) {
        const from = nodeIdOf(input, stack.name, id);
        expect({ from, replicates: edges.some((e) => e.from === from && e.label.startsWith('replicates to')) }).toEqual({ from, replicates: true });
      }
      for (const id of idsOfType(stack.template, 'AWS::Backup::BackupPlan')) {
        const copies = JSON.stringify(stack.template.Resources[id]!.Properties).includes('CopyActions');
        const from = nodeIdOf(input, stack.name, id);
        expect({ from, copies: edges.some((e) => e.from === from && e.label.startsWith('copies to')) }).toEqual({ from, copies });
      }
    }
  });
});
