import {
  CreateDeployment,
  accountIdSchema,
  DeleteDeployment,
  GetDeployment,
  ListDeployments,
  deploymentModelSchema,
  deploymentSpecFieldsSchema,
  engineNameSchema,
  gpuRequirementsSchema,
  gpuTypeSchema,
  schedulerDeploymentIdSchema,
  visibilitySchema,
  type DeploymentView,
  type RpcRequestOf,
} from '@tessera/contracts';
import { defineCommand } from '../command/define-command.js';
import {
  commaList,
  flag,
  matching,
  oneOf,
  optional,
  required,
  wholeNumber,
  withDefault,
} from '../command/options.js';
import { record, table } from '../command/output.js';
import { accountOption } from '../billing/accounts.commands.js';

const spec = deploymentSpecFieldsSchema.shape;
const gpu = gpuRequirementsSchema.shape;

const deploymentOption = required(
  '--deployment <id>',
  'the deployment id (`tessera deployments list`)',
  matching(schedulerDeploymentIdSchema),
);

function gpuText(deployment: DeploymentView): string {
  const types = deployment.gpu.allowedTypes.length === 0 ? 'any' : deployment.gpu.allowedTypes.join('|');
  return `${deployment.gpu.count}× ${types}`;
}

function replicasText(deployment: DeploymentView): string {
  return `${deployment.targetReplicas} (${deployment.minReplicas}–${deployment.maxReplicas})`;
}

function deploymentRecord(deployment: DeploymentView): string {
  return record([
    ['deployment', deployment.deploymentId],
    ['name', deployment.name],
    ['owner', deployment.ownerAccountId],
    ['status', deployment.status],
    ['generation', deployment.generation],
    ['model', `${deployment.model.uri} (${deployment.model.revision})`],
    ['model sha256', deployment.model.sha256],
    ['engine', deployment.engine.name],
    ['GPUs per replica', gpuText(deployment)],
    ['excluded GPUs', deployment.gpu.excludedTypes.join(', ')],
    ['concurrency', deployment.concurrency],
    ['replicas', replicasText(deployment)],
    ['scale to zero after', `${deployment.scaleToZeroAfterSeconds} s`],
    ['visibility', deployment.visibility],
    ['created', deployment.createdAt],
    ['updated', deployment.updatedAt],
  ]);
}

const create = defineCommand({
  path: ['deployments', 'create'],
  summary: 'create a deployment: a model the scheduler keeps running on miners’ GPUs',
  details: `The whole spec is checked before it is sent (min replicas at most max, a GPU type not
both allowed and excluded); a refusal names the field. Creating again with the same --id and
spec answers the same deployment. Command engines (vllm, sglang, llama-server) run with their
template's arguments (extra engine arguments are not settable from the CLI yet).`,
  examples: [
    'tessera deployments create --account acme --name acme-llama --model-uri https://example.com/m.gguf \\\n    --model-revision v1 --model-sha256 <64 hex> --engine llama --gpu-types h100 --concurrency 8 --max-replicas 2',
  ],
  options: {
    account: accountOption,
    name: required(
      '--name <name>',
      'what clients put in `model` (unique among live deployments)',
      matching(spec.name),
    ),
    id: optional(
      '--id <id>',
      'the deployment id (default: the scheduler mints one)',
      matching(schedulerDeploymentIdSchema),
    ),
    modelUri: required(
      '--model-uri <uri>',
      'the model file: a path or file: URL on the miner, or an http(s) URL it downloads',
      matching(deploymentModelSchema.shape.uri),
    ),
    modelRevision: required(
      '--model-revision <rev>',
      'the model’s revision as you name it (recorded)',
      matching(deploymentModelSchema.shape.revision),
    ),
    modelSha256: required(
      '--model-sha256 <hex>',
      'sha256 of the model file (miners refuse another file)',
      matching(deploymentModelSchema.shape.sha256),
    ),
    engine: oneOf('--engine <engine>', 'the engine that serves it', engineNameSchema.options),
    gpus: withDefault(
      '--gpus <count>',
      'GPUs per replica, on one miner (default 1)',
      wholeNumber(gpu.count),
      1,
    ),
    minVramMiB: optional(
      '--min-vram-mib <MiB>',
      'least memory per GPU',
      wholeNumber(gpu.minVramMiB.unwrap()),
    ),
    gpuTypes: optional(
      '--gpu-types <list>',
      'GPU types a replica may use, comma-separated (default: any)',
      commaList(matching(gpuTypeSchema)),
    ),
    excludeGpuTypes: optional(
      '--exclude-gpu-types <list>',
      'GPU types a replica must not use, comma-separated',
      commaList(matching(gpuTypeSchema)),
    ),
    concurrency: required(
      '--concurrency <n>',
      'requests one replica serves at once',
      wholeNumber(spec.concurrency),
    ),
    minReplicas: optional(
      '--min-replicas <n>',
      'replicas kept however idle (default 0: scales to zero)',
      wholeNumber(spec.minReplicas.unwrap()),
    ),
    maxReplicas: required(
      '--max-replicas <n>',
      'most replicas the autoscaler runs',
      wholeNumber(spec.maxReplicas),
    ),
    scaleToZeroAfter: optional(
      '--scale-to-zero-after <seconds>',
      'idle time before going to zero replicas (default 300)',
      wholeNumber(spec.scaleToZeroAfterSeconds.unwrap()),
    ),
    visibility: oneOf(
      '--visibility <visibility>',
      'public: any key, charged per token; private: the owner’s keys, charged per GPU-second',
      visibilitySchema.options,
      'private',
    ),
  },
  async run(values, { call }) {
    const request: RpcRequestOf<typeof CreateDeployment> = {
      ...(values.id === undefined ? {} : { deploymentId: values.id }),
      name: values.name,
      ownerAccountId: values.account,
      model: { uri: values.modelUri, revision: values.modelRevision, sha256: values.modelSha256 },
      engine: values.engine === 'llama' ? { name: 'llama' } : { name: values.engine },
      gpu: {
        count: values.gpus,
        ...(values.minVramMiB === undefined ? {} : { minVramMiB: values.minVramMiB }),
        ...(values.gpuTypes === undefined ? {} : { allowedTypes: values.gpuTypes }),
        ...(values.excludeGpuTypes === undefined ? {} : { excludedTypes: values.excludeGpuTypes }),
      },
      concurrency: values.concurrency,
      ...(values.minReplicas === undefined ? {} : { minReplicas: values.minReplicas }),
      maxReplicas: values.maxReplicas,
      ...(values.scaleToZeroAfter === undefined ? {} : { scaleToZeroAfterSeconds: values.scaleToZeroAfter }),
      visibility: values.visibility,
    };
    const deployment = await call(CreateDeployment, request);
    return { json: deployment, text: deploymentRecord(deployment) };
  },
});

const list = defineCommand({
  path: ['deployments', 'list'],
  summary: 'list deployments, oldest first',
  examples: ['tessera deployments list', 'tessera deployments list --account acme --include-deleted'],
  options: {
    account: optional('--account <id>', 'only this account’s', matching(accountIdSchema)),
    visibility: optional(
      '--visibility <visibility>',
      'only public or private ones',
      matching(visibilitySchema),
    ),
    includeDeleted: flag('--include-deleted', 'deleted ones too'),
  },
  async run(values, { call }) {
    const { deployments } = await call(ListDeployments, {
      ...(values.account === undefined ? {} : { ownerAccountId: values.account }),
      ...(values.visibility === undefined ? {} : { visibility: values.visibility }),
      includeDeleted: values.includeDeleted,
    });
    return {
      json: { deployments },
      text: table(
        deployments,
        [
          ['DEPLOYMENT', (deployment) => deployment.deploymentId],
          ['NAME', (deployment) => deployment.name],
          ['OWNER', (deployment) => deployment.ownerAccountId],
          ['STATUS', (deployment) => deployment.status],
          ['VISIBILITY', (deployment) => deployment.visibility],
          ['ENGINE', (deployment) => deployment.engine.name],
          ['GPUS', gpuText],
          ['REPLICAS', replicasText],
        ],
        'no deployments',
      ),
    };
  },
});

const get = defineCommand({
  path: ['deployments', 'get'],
  summary: 'show a deployment and its live instances',
  examples: ['tessera deployments get --deployment acme-llama'],
  options: { deployment: deploymentOption },
  async run(values, { call }) {
    const deployment = await call(GetDeployment, { deploymentId: values.deployment });
    const instances = table(
      deployment.instances,
      [
        ['INSTANCE', (instance) => instance.instanceId],
        ['STATE', (instance) => instance.state],
        ['GENERATION', (instance) => instance.generation],
        ['MINER', (instance) => instance.minerHotkey],
        ['GPUS', (instance) => `${instance.gpuCount}× ${instance.gpuType}`],
        ['ENDPOINT', (instance) => instance.endpoint],
        ['REASON', (instance) => instance.reason],
      ],
      'no live instances',
    );
    return { json: deployment, text: `${deploymentRecord(deployment)}\n\n${instances}` };
  },
});

const remove = defineCommand({
  path: ['deployments', 'delete'],
  summary: 'delete a deployment: its replicas drain and stop (deleting again answers the same)',
  examples: ['tessera deployments delete --deployment acme-llama'],
  options: { deployment: deploymentOption },
  async run(values, { call }) {
    const deleted = await call(DeleteDeployment, { deploymentId: values.deployment });
    return {
      json: deleted,
      text: record([
        ['deployment', deleted.deploymentId],
        ['status', deleted.status],
      ]),
    };
  },
});

export const deploymentCommands = [create, list, get, remove];
