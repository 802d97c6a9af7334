// The environment's settings from the process environment: port offset and etcd durability.
// Bad values are refused with a message naming the variable, before anything starts.
import t from 'tap';
import { etcdArgs } from '../env/etcd.js';
import { configuredEtcdFsync, configuredPorts } from '../env/local-env.js';

function withEnv<T>(name: string, value: string | undefined, fn: () => T): T {
  const before = process.env[name];
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
  try {
    return fn();
  } finally {
    if (before === undefined) delete process.env[name];
    else process.env[name] = before;
  }
}

t.test('GATEWAY_ORCHESTRATOR_PORT_OFFSET shifts every port, and a bad value is refused', async (t) => {
  const base = withEnv('GATEWAY_ORCHESTRATOR_PORT_OFFSET', undefined, configuredPorts);
  const shifted = withEnv('GATEWAY_ORCHESTRATOR_PORT_OFFSET', '300', configuredPorts);
  for (const key of Object.keys(base) as Array<keyof typeof base>) t.equal(shifted[key], base[key] + 300, key);
  t.throws(() => withEnv('GATEWAY_ORCHESTRATOR_PORT_OFFSET', 'abc', configuredPorts), /GATEWAY_ORCHESTRATOR_PORT_OFFSET must be an integer/);
});

t.test('GATEWAY_ORCHESTRATOR_ETCD_FSYNC: etcd skips fsync unless it is 1; other values are refused', async (t) => {
  const ports = { clientPort: 2379, peerPort: 2380, dataDir: '/tmp/etcd' };
  t.equal(withEnv('GATEWAY_ORCHESTRATOR_ETCD_FSYNC', undefined, configuredEtcdFsync), false, 'unset: off');
  t.equal(withEnv('GATEWAY_ORCHESTRATOR_ETCD_FSYNC', '1', configuredEtcdFsync), true, '1: on');
  t.throws(() => withEnv('GATEWAY_ORCHESTRATOR_ETCD_FSYNC', 'yes', configuredEtcdFsync), /GATEWAY_ORCHESTRATOR_ETCD_FSYNC must be 0 or 1, got "yes"/);
  t.ok(etcdArgs({ ...ports, fsync: false }).includes('--unsafe-no-fsync'), 'off: --unsafe-no-fsync');
  t.notOk(etcdArgs({ ...ports, fsync: true }).includes('--unsafe-no-fsync'), 'on: etcd syncs');
});
