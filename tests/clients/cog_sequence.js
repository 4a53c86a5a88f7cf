// The requests ALICE's Control GUI (AliceO2Group/WebUi, Control/, v1.73) sends to AliECS, in its
// order, with its client library and options, and what the GUI reads from each reply — against
// `ecsim serve` alone. Read from the GUI's sources: `lib/control-core/GrpcProxy.js` (the client:
// @grpc/grpc-js 1.12.0 and @grpc/proto-loader 0.7.0, `longs: String, keepCase: false, arrays:
// true`, a 20 s deadline), `ApricotService.js` (detectors and hosts at start, the runtime store),
// `RequestHandler.js` + `CoreUtils.js` (a creation sends only `hosts`), `Environment.service.js`
// and `EnvironmentInfoAdapter.js` (an environment's page), `ControlService.js` (clean resources:
// Subscribe first, then NewAutoEnvironment), `public/task/Task.js` (clean tasks).
//
// Usage: node cog_sequence.js HOST:PORT PROTO_ROOT
// Prints one JSON line per step; exits 1 with the step and the reason when something the GUI
// needs is missing.

const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const [address, protoRoot] = process.argv.slice(2);
const DEADLINE_MS = 20000; // config-default.js: the GUI's gRPC deadline
const USER = {name: 'jshifter', externalId: 812}; // User.toEcsFormat(): username, personid

function client(file, pkg, service) {
  const definition = protoLoader.loadSync(file, {
    longs: String, keepCase: false, arrays: true, includeDirs: [protoRoot],
  });
  const Service = grpc.loadPackageDefinition(definition)[pkg][service];
  return new Service(address, grpc.credentials.createInsecure(),
    {'grpc.max_receive_message_length': 50 * 1024 * 1024});
}

const control = client('protos/o2control.proto', 'o2control', 'Control');
const apricot = client('protos/apricot.proto', 'apricot', 'Apricot');

function call(stub, method, args = {}) {
  return new Promise((resolve, reject) => {
    stub[method](args, {deadline: Date.now() + DEADLINE_MS}, (error, reply) =>
      error ? reject(Object.assign(error, {method})) : resolve(reply));
  });
}

function step(name, facts) {
  process.stdout.write(JSON.stringify({step: name, ...facts}) + '\n');
}

function check(condition, what) {
  if (!condition) {
    throw new Error(what);
  }
}

// EnvironmentInfoAdapter.toEntity for the FLP tab: an environment's tasks on the FLPs of its
// detectors, found through the hosts Apricot gave per detector.
function flpTasks(environment, hostsByDetector) {
  const {integratedServicesData: {odc = '{}'}} = environment; // throws without the map: HTTP 500
  JSON.parse(odc);
  const {tasks = [], includedDetectors} = environment;
  return tasks.filter(({deploymentInfo: {hostname = ''} = {}}) => {
    const detector = [...hostsByDetector.keys()].find((d) => hostsByDetector.get(d).includes(hostname));
    return includedDetectors.includes(detector);
  });
}

async function events(channelId, expectTeardown) {
  // ControlService.createAutoEnvironment: the stream is opened before the environment is asked for.
  const stream = control.Subscribe({id: channelId});
  const seen = [];
  const ended = new Promise((resolve, reject) => {
    stream.on('data', (event) => {
      if (event.environmentEvent) {
        seen.push(event.environmentEvent);
        if (event.environmentEvent.state === 'DONE') {
          resolve(seen);
        }
      }
    });
    stream.on('error', (error) => reject(Object.assign(error, {method: 'Subscribe'})));
    stream.on('end', () => resolve(seen));
  });
  const {repos} = await call(control, 'ListRepos');
  const {name, defaultRevision} = repos.find((repository) => repository.default);
  await call(control, 'NewAutoEnvironment', {
    id: channelId, vars: {},
    workflowTemplate: path.join(name, `workflows/resources-cleanup@${defaultRevision}`),
    requestUser: USER,
  });
  const timeout = new Promise((_, reject) =>
    setTimeout(() => reject(new Error('the resources-cleanup stream did not end within 60 s')), 60000));
  const result = await Promise.race([ended, timeout]);
  stream.cancel();
  check(!expectTeardown || result.some((e) => e.message === 'environment teardown complete'),
    `resources-cleanup ends with its teardown: ${JSON.stringify(result.map((e) => e.message))}`);
  return result;
}

async function main() {
  // At start (api.js initializeData, ApricotService.init): detectors, then each one's FLPs.
  const {detectors} = await call(apricot, 'ListDetectors');
  check(detectors.length > 0 && !detectors.includes('TRG'), `ListDetectors: ${detectors}`);
  const hostsByDetector = new Map();
  for (const detector of detectors) {
    const {hosts} = await call(apricot, 'GetHostInventory', {detector});
    hostsByDetector.set(detector, hosts);
  }
  step('inventory', {detectors: detectors.length, tpcFlps: hostsByDetector.get('TPC').length});

  // The status page's periodic reads.
  const info = await call(control, 'GetFrameworkInfo');
  check(info.version && info.version.productName, 'GetFrameworkInfo: a version');
  const {services} = await call(control, 'GetIntegratedServices');
  check(services.bookkeeping && services.odc, `GetIntegratedServices: ${Object.keys(services)}`);
  try {
    await call(apricot, 'GetRuntimeEntry', {component: '', key: 'flp_suite_version'});
    throw new Error('a key nobody set was found');
  } catch (error) {
    // ApricotService.getRuntimeEntryByComponent: Apricot's "nil" UNKNOWN, read as not found.
    check(error.code === 2 && (error.details || '').includes('nil'), `missing key: ${error.code} ${error.details}`);
  }
  step('status', {version: info.version.versionStr, services: Object.keys(services).length});

  // The creation page: repositories, templates with their form, a saved configuration.
  const {repos} = await call(control, 'ListRepos');
  const repository = repos.find((r) => r.default);
  const {workflowTemplates} = await call(control, 'GetWorkflowTemplates', {
    repoPattern: repository.name, revisionPattern: repository.defaultRevision, allBranches: false, allTags: false,
  });
  const readout = workflowTemplates.find((t) => t.template === 'readout-dataflow');
  check(readout && Object.keys(readout.varSpecMap).length > 100, 'readout-dataflow and its form');
  const {payload: saved} = await call(apricot, 'ListRuntimeEntries', {component: 'COG-v1'});
  check(Array.isArray(saved), 'ListRuntimeEntries: a list');
  await call(apricot, 'SetRuntimeEntry', {component: 'COG-v1', key: 'physics-its', value: '{"variables":{}}'});
  const {payload: again} = await call(apricot, 'ListRuntimeEntries', {component: 'COG-v1'});
  check(again.includes('physics-its'), `the saved configuration is listed: ${again}`);
  const {payload: loaded} = await call(apricot, 'GetRuntimeEntry', {component: 'COG-v1', key: 'physics-its'});
  check(loaded === '{"variables":{}}', `the saved configuration reads back: ${loaded}`);
  step('creation page', {templates: workflowTemplates.length, saved: again.length});

  // Create from hosts only (RequestHandler.add): two ITS FLPs and one TPC FLP.
  const hosts = [...hostsByDetector.get('ITS').slice(0, 2), hostsByDetector.get('TPC')[0]];
  const workflowTemplate = `${repository.name.replace(/\/$/, '')}/workflows/readout-dataflow@${repository.defaultRevision}`;
  try {
    await call(apricot, 'GetRuntimeEntry', {component: 'COG', key: 'runType-to-host-mapping'});
  } catch (error) {
    check(error.code === 2, 'no host mapping');
  }
  const created = await call(control, 'NewEnvironment', {
    workflowTemplate, vars: {hosts: JSON.stringify(hosts), kafka_enabled: 'true', run_type: 'PHYSICS'},
    requestUser: USER,
  });
  const environment = created.environment;
  check(environment.state === 'CONFIGURED', `created CONFIGURED: ${environment.state}`);
  check(JSON.stringify(environment.includedDetectors) === '["ITS","TPC"]',
    `detectors from the hosts: ${environment.includedDetectors}`);
  check(environment.numberOfFlps === 3, `FLPs: ${environment.numberOfFlps}`);
  check(environment.integratedServicesData.bookkeeping === '{}', 'bookkeeping data per environment');
  const id = environment.id;
  step('created', {id, detectors: environment.includedDetectors, flps: environment.numberOfFlps});

  // The environments page, the detectors in use, an environment's page.
  const list = await call(control, 'GetEnvironments', {});
  check(list.environments.some((e) => e.id === id), 'GetEnvironments lists it');
  const {detectors: active} = await call(control, 'GetActiveDetectors');
  check(JSON.stringify(active) === '["ITS","TPC"]', `active detectors: ${active}`);
  const page = (await call(control, 'GetEnvironment', {id})).environment;
  const tasks = flpTasks(page, hostsByDetector);
  check(tasks.length === page.tasks.length && tasks.length > 0, `FLP tasks: ${tasks.length} of ${page.tasks.length}`);
  check(tasks.every((t) => t.sandboxStdout.startsWith(`http://${t.deploymentInfo.hostname}:5051/`)
    && t.pid && t.deploymentInfo.agentId && t.deploymentInfo.executorId), 'task details');
  step('environment page', {tasks: tasks.length});

  // A detector held by another environment is refused.
  try {
    await call(control, 'NewEnvironment', {
      workflowTemplate, vars: {hosts: JSON.stringify([hostsByDetector.get('ITS')[3]])}, requestUser: USER,
    });
    throw new Error('ITS was taken twice');
  } catch (error) {
    check(error.code === 13 && error.details.endsWith('detector ITS is already in use'), `in use: ${error.details}`);
  }

  // START, STOP, SHUTDOWN.
  const started = await call(control, 'ControlEnvironment', {id, type: 'START_ACTIVITY', requestUser: USER});
  check(started.state === 'RUNNING' && started.currentRunNumber > 0, `started: ${started.state}`);
  const stopped = await call(control, 'ControlEnvironment', {id, type: 'STOP_ACTIVITY', requestUser: USER});
  check(stopped.state === 'CONFIGURED', `stopped: ${stopped.state}`);
  await call(control, 'DestroyEnvironment',
    {id, keepTasks: false, allowInRunningState: false, force: false, requestUser: USER});
  step('run', {run: started.currentRunNumber});

  // A second environment, started, then killed while RUNNING, its tasks kept.
  const second = (await call(control, 'NewEnvironment', {
    workflowTemplate, vars: {hosts: JSON.stringify(hostsByDetector.get('TOF').slice(0, 2))}, requestUser: USER,
  })).environment;
  await call(control, 'ControlEnvironment', {id: second.id, type: 'START_ACTIVITY', requestUser: USER});
  await call(control, 'DestroyEnvironment',
    {id: second.id, keepTasks: true, allowInRunningState: true, force: true, requestUser: USER});
  const {tasks: left} = await call(control, 'GetTasks');
  // The hooks that ran at its DESTROY (the shared-memory monitor) have ended; the others run on,
  // unlocked, with no role to report a state.
  check(left.length > 0 && left.length < second.tasks.length
    && left.every((t) => !t.locked && t.status === 'UNKNOWN' && t.state === 'UNKNOWN'),
  `kept tasks: ${JSON.stringify(left.map((t) => [t.name, t.locked, t.status]))}`);

  // Clean tasks (Task.js cleanUpTasks).
  const cleaned = await call(control, 'CleanupTasks', {});
  check(cleaned.killedTasks.length === left.length, `killed: ${cleaned.killedTasks.length}`);
  const {tasks: none} = await call(control, 'GetTasks');
  check(none.length === 0, `no task left: ${none.length}`);
  step('kill and clean tasks', {kept: left.length, killed: cleaned.killedTasks.length});

  // Clean resources (ControlService.createAutoEnvironment): a channel id of six digits, zeros
  // included, subscribed before the environment exists.
  const seen = await events('105300', true);
  step('clean resources', {events: seen.length, last: seen[seen.length - 1].message});
}

main().then(() => process.exit(0), (error) => {
  process.stderr.write(`${error.method || 'check'}: ${error.code !== undefined ? `code ${error.code}: ` : ''}${error.details || error.message}\n`);
  process.exit(1);
});
