/**
 * What the stack's bucket deployments put into the artifacts bucket, read from the synthesized
 * template (each Custom::CDKBucketDeployment's key prefix and source assets, each default
 * pointer's conditional PutObject) and the staged assets of the cloud assembly, then read back
 * through the very readers the functions use, and compared with what local/provision.ts writes
 * on the local servers from the same directory.
 */
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import type { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { artifactPrefix } from '../../lambdas/domain/recommenders/artifact.ts';
import { latestKey, readLatest } from '../../lambdas/services/retraining.ts';
import { S3ModelArtifactStore } from '../../lambdas/storage/artifact-store.ts';
import { S3ObjectStore } from '../../lambdas/storage/object-store.ts';
import { DEFAULT_RETRAINING_INPUT } from '../../lib/constructs/retraining-workflow.ts';
import { ARTIFACTS_BUCKET } from '../../lib/resources.ts';
import { ensureDatasetAndPointers } from '../../local/provision.ts';
import { buildAbrecApp, childAt, DEFAULT_ARTIFACTS_DIR, logicalIdOf, removeAssembly, type CfnResource } from './support/synth.ts';

interface DefaultModelSet {
  models: { model_id: string; model_version: string }[];
}
interface AssetManifest {
  files: Record<string, { source: { path: string; packaging?: string }; destinations: Record<string, { objectKey: string }> }>;
}

const defaultSet = JSON.parse(readFileSync(join(DEFAULT_ARTIFACTS_DIR, 'default-set.json'), 'utf8')) as DefaultModelSet;

let app: App;
let deployments: CfnResource[];
/** Every object key the deployments write, with its bytes. */
let deployed: Map<string, Uint8Array>;
/** The PutObject call of each default pointer's custom resource, by key. */
let pointerCalls: Map<string, PutObjectCall>;

interface PutObjectCall {
  service: string;
  action: string;
  parameters: { Bucket: string; Key: string; Body: string; ContentType: string; IfNoneMatch?: string };
  ignoreErrorCodesMatching?: string;
}

/** A Custom::AWS call (Fn::Join of JSON text and the bucket's Ref) parsed, the bucket written as <bucket>. */
function parseSdkCall(value: unknown): PutObjectCall {
  const join = (value as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
  const text = join ? join[1].map((part) => (typeof part === 'string' ? part : '<bucket>')).join(join[0]) : (value as string);
  return JSON.parse(text) as PutObjectCall;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

beforeAll(() => {
  const built = buildAbrecApp();
  app = built.app;
  const stack = built.stack;
  const template = Template.fromStack(stack);
  const assembly = app.synth();
  const manifest = JSON.parse(readFileSync(join(assembly.directory, `${stack.artifactId}.assets.json`), 'utf8')) as AssetManifest;
  const bucketId = logicalIdOf(childAt(stack, `Artifacts/${ARTIFACTS_BUCKET.id}`));
  deployments = Object.values(template.findResources('Custom::CDKBucketDeployment') as Record<string, CfnResource>);
  deployed = new Map();
  for (const deployment of deployments) {
    const properties = deployment.Properties as { DestinationBucketName: { Ref: string }; DestinationBucketKeyPrefix?: string; SourceObjectKeys: string[] };
    expect(properties.DestinationBucketName).toEqual({ Ref: bucketId });
    for (const objectKey of properties.SourceObjectKeys) {
      const asset = Object.values(manifest.files).find((file) => Object.values(file.destinations).some((d) => d.objectKey === objectKey));
      if (!asset) throw new Error(`no staged asset for source ${objectKey}`);
      const root = join(assembly.directory, asset.source.path);
      for (const file of filesUnder(root)) {
        const key = `${properties.DestinationBucketKeyPrefix ?? ''}${relative(root, file).split(sep).join('/')}`;
        if (deployed.has(key)) throw new Error(`${key} is deployed twice`);
        deployed.set(key, readFileSync(file));
      }
    }
  }
  pointerCalls = new Map();
  for (const resource of Object.values(template.findResources('Custom::AWS') as Record<string, CfnResource>)) {
    const properties = resource.Properties as { Create: unknown; Update: unknown; Delete?: unknown };
    const create = parseSdkCall(properties.Create);
    expect(parseSdkCall(properties.Update)).toEqual(create);
    expect(properties.Delete).toBeUndefined();
    pointerCalls.set(create.parameters.Key, create);
    if (deployed.has(create.parameters.Key)) throw new Error(`${create.parameters.Key} is deployed twice`);
    deployed.set(create.parameters.Key, Buffer.from(create.parameters.Body, 'utf8'));
  }
});

afterAll(() => {
  if (app) removeAssembly(app);
});

/** An S3 client answering from the deployed objects, as the bucket would after the deployment. */
const deployedBucket = {
  send: async (command: unknown) => {
    if (command instanceof GetObjectCommand) {
      const bytes = deployed.get(command.input.Key!);
      if (!bytes) throw Object.assign(new Error(`NoSuchKey ${command.input.Key}`), { name: 'NoSuchKey', $metadata: { httpStatusCode: 404 } });
      return { Body: { transformToByteArray: async () => new Uint8Array(bytes), transformToString: async () => Buffer.from(bytes).toString('utf8') } };
    }
    if (command instanceof ListObjectsV2Command) {
      return {
        Contents: [...deployed.keys()]
          .filter((key) => key.startsWith(command.input.Prefix ?? ''))
          .sort()
          .map((Key) => ({ Key })),
        IsTruncated: false,
      };
    }
    throw new Error(`unexpected command ${(command as object).constructor.name}`);
  },
} as unknown as S3Client;

describe('the default artifacts the stack deploys', () => {
  it.each(defaultSet.models.map((m) => [m.model_id, m.model_version]))('puts %s@%s where serving reads it, and the model loads', async (modelId, version) => {
    const store = new S3ModelArtifactStore(deployedBucket, 'bucket');

    expect(deployed.has(`${artifactPrefix(modelId, version)}manifest.json`)).toBe(true);
    await expect(store.loadModel(modelId, version)).resolves.toBeDefined();
  });

  it.each(defaultSet.models.map((m) => [m.model_id, m.model_version]))(
    'points models/%s/latest.json at %s, as retraining reads it',
    async (modelId, version) => {
      expect(deployed.has(latestKey(modelId))).toBe(true);
      expect(await readLatest(new S3ObjectStore(deployedBucket, 'bucket'), modelId)).toMatchObject({ model_id: modelId, model_version: version });
    },
  );

  it('puts the bundled ratings under the retraining input prefix', () => {
    expect(DEFAULT_RETRAINING_INPUT.dataset_prefix).toBe('datasets/ratings/');
    expect(Buffer.from(deployed.get(`${DEFAULT_RETRAINING_INPUT.dataset_prefix}u.data`)!)).toEqual(readFileSync(join(DEFAULT_ARTIFACTS_DIR, 'data', 'u.data')));
  });

  it('deploys nothing outside models/<id>/... and datasets/ratings/ (no models/models/, no models/data/)', () => {
    const keys = [...deployed.keys()];

    expect(keys.filter((key) => !/^(models\/[^/]+\/(latest\.json|[^/]+\/[^/]+)|datasets\/ratings\/[^/]+)$/.test(key))).toEqual([]);
    expect(keys.filter((key) => key.startsWith('models/models/') || key.startsWith('models/data/'))).toEqual([]);
  });

  it('never prunes, so published versions and moved pointers survive a deployment', () => {
    expect(deployments.length).toBeGreaterThan(0);
    for (const deployment of deployments) expect(deployment.Properties?.Prune).toBe(false);
  });

  it('writes each pointer only if absent (If-None-Match: *, the 412 of an existing key ignored), so no deployment rolls back a retrained pointer', () => {
    expect([...pointerCalls.keys()].sort()).toEqual(defaultSet.models.map((m) => latestKey(m.model_id)).sort());
    for (const call of pointerCalls.values()) {
      expect(call).toMatchObject({
        service: 'S3',
        action: 'putObject',
        parameters: { Bucket: '<bucket>', IfNoneMatch: '*', ContentType: 'application/json' },
        ignoreErrorCodesMatching: 'PreconditionFailed',
      });
    }
  });

  it('deploys the pointers and the bundled ratings byte for byte as local/provision.ts writes them on the local servers', async () => {
    const written = new Map<string, Uint8Array>();
    const localS3 = {
      send: async (command: unknown) => {
        if (command instanceof HeadObjectCommand) {
          throw Object.assign(new Error('NotFound'), { name: 'NotFound', $metadata: { httpStatusCode: 404 } });
        }
        if (command instanceof PutObjectCommand) {
          const body = command.input.Body as Uint8Array | string;
          written.set(command.input.Key!, typeof body === 'string' ? Buffer.from(body, 'utf8') : body);
          return {};
        }
        throw new Error(`unexpected command ${(command as object).constructor.name}`);
      },
    } as unknown as S3Client;

    await ensureDatasetAndPointers(localS3, DEFAULT_ARTIFACTS_DIR);

    expect([...written.keys()].sort()).toEqual([...deployed.keys()].filter((key) => key.endsWith('/latest.json') || key.startsWith('datasets/')).sort());
    for (const [key, bytes] of written) expect(Buffer.from(deployed.get(key)!).toString('utf8'), key).toBe(Buffer.from(bytes).toString('utf8'));
  });
});
