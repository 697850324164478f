import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { parseConfig } from '../../src/config/load.js';

// docs/kubernetes.yaml is what administrators copy: its canopy.yaml must pass Canopy's own
// validation, and its objects must refer to each other by the names and ports they define.

type Manifest = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const manifestFile = resolve(import.meta.dirname, '../../docs/kubernetes.yaml');
const documents = parseAllDocuments(readFileSync(manifestFile, 'utf8'));
const objects = documents.map((d) => d.toJS() as Manifest);
const byKind = (kind: string): Manifest => objects.find((o) => o.kind === kind)!;
const secretsDir = '/run/secrets/canopy/';
const scratch = mkdtempSync(join(tmpdir(), 'canopy-k8s-'));

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('docs/kubernetes.yaml', () => {
  it('is valid YAML with a ConfigMap, Secret, Deployment, Service and PodDisruptionBudget', () => {
    expect(documents.flatMap((d) => d.errors)).toEqual([]);
    expect(objects.map((o) => o.kind)).toEqual(['ConfigMap', 'Secret', 'Deployment', 'Service', 'PodDisruptionBudget']);
  });

  it('embeds a canopy.yaml that Canopy accepts, with the Secret as files and the environment', () => {
    const secret = byKind('Secret').stringData as Record<string, string>;
    const pod = byKind('Deployment').spec.template.spec;
    const mounted = pod.volumes.find((v: Manifest) => v.name === 'secrets').secret.items as { key: string; path: string }[];
    for (const item of mounted) writeFileSync(join(scratch, item.path), secret[item.key]);
    const env = Object.fromEntries(
      pod.containers[0].env.map((e: Manifest) => [e.name, secret[e.valueFrom.secretKeyRef.key as string]]),
    ) as NodeJS.ProcessEnv;
    const text = (byKind('ConfigMap').data['canopy.yaml'] as string).replaceAll(secretsDir, `${scratch}/`);

    const config = parseConfig(text, { source: 'canopy.yaml', baseDir: '/etc/canopy', env });

    expect(config.http).toMatchObject({ host: '0.0.0.0', port: 9389 });
    expect([config.listen.ldap, config.listen.ldaps]).toEqual(['ldap://0.0.0.0:3389', 'ldaps://0.0.0.0:3636']);
    expect(config.forests.map((f) => (f.backend === 'ldap' ? f.bind?.password : undefined))).toEqual([
      secret['avvid-bind-password'],
      secret['vse-bind-password'],
    ]);
    expect(config.namespace?.onForestError).toBe('fail');
  });

  it('runs non-root on a read-only root, probes /healthz and /readyz, and maps 389/636 to the container ports', () => {
    const deployment = byKind('Deployment');
    const pod = deployment.spec.template.spec;
    const container = pod.containers[0];
    const port = (name: string): number => container.ports.find((p: Manifest) => p.name === name).containerPort;
    expect(deployment.spec.replicas).toBe(2);
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(container.securityContext.readOnlyRootFilesystem).toBe(true);
    expect(container.resources.requests).toBeDefined();
    expect(container.resources.limits).toBeDefined();
    expect([container.livenessProbe.httpGet.path, port(container.livenessProbe.httpGet.port)]).toEqual(['/healthz', 9389]);
    expect([container.readinessProbe.httpGet.path, port(container.readinessProbe.httpGet.port)]).toEqual(['/readyz', 9389]);
    expect(byKind('Service').spec.ports.map((p: Manifest) => [p.port, port(p.targetPort)])).toEqual([
      [389, 3389],
      [636, 3636],
    ]);
    const volumes = new Set(pod.volumes.map((v: Manifest) => v.name));
    expect(container.volumeMounts.filter((m: Manifest) => !volumes.has(m.name))).toEqual([]);
    for (const o of [byKind('Service'), byKind('PodDisruptionBudget')]) {
      const selector = o.spec.selector.matchLabels ?? o.spec.selector;
      expect(deployment.spec.template.metadata.labels).toMatchObject(selector);
    }
  });
});
