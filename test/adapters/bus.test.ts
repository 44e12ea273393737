import { EventEmitter } from 'node:events';
import { after, before, describe } from 'node:test';
import { IpcBus, IpcBusRouter, type IpcEndpoint } from '../../src/adapters/ipc/bus.js';
import { MemoryBus } from '../../src/adapters/memory/bus.js';
import { NatsBus } from '../../src/adapters/nats/bus.js';
import { RedisBus } from '../../src/adapters/redis/bus.js';
import { RedisClusterBus } from '../../src/adapters/redis/cluster-bus.js';
import { Redis } from 'ioredis';
import { busContract } from '../contracts/bus.contract.js';
import { NATS_SERVER, REDIS_SERVER, requireBinary, startNats, startRedis } from '../support/services.js';
import { type RedisClusterHandle, startRedisCluster } from '../support/redis-cluster.js';

const onError = (error: unknown, context: string) => {
  // Connection errors are expected while a test breaks the connection; anything else is a bug.
  const code = (error as { code?: string }).code;
  if (!['ECONNREFUSED', 'ECONNRESET', 'EPIPE'].includes(code ?? '') && !/Connection is closed|disconnect|lost; reconnecting/i.test(String(error))) {
    console.error(context, error);
  }
};

busContract('in-process', async () => {
  const bus = new MemoryBus();
  return { a: bus, b: bus, cleanup: () => bus.close() };
}, { breakable: false });

/** Two ends of an IPC pipe in one process: messages are cloned and arrive in a later turn, in order. */
function pipe(): [IpcEndpoint, IpcEndpoint] {
  const left = new EventEmitter();
  const right = new EventEmitter();
  const end = (self: EventEmitter, other: EventEmitter): IpcEndpoint => ({
    send: (message) => {
      const copy = structuredClone(message);
      setImmediate(() => other.emit('message', copy));
      return true;
    },
    on: (event, listener) => self.on(event, listener),
  });
  return [end(left, right), end(right, left)];
}

busContract('cluster IPC', async () => {
  const router = new IpcBusRouter();
  const [workerA, primaryA] = pipe();
  const [workerB, primaryB] = pipe();
  router.attach(primaryA);
  router.attach(primaryB);
  const a = new IpcBus(workerA, onError);
  const b = new IpcBus(workerB, onError);
  return {
    a,
    b,
    cleanup: async () => {
      await a.close();
      await b.close();
    },
  };
}, { breakable: false });

if (requireBinary(REDIS_SERVER, 'redis-server', 'Redis bus')) {
  for (const sharded of [false, true]) {
    busContract(sharded ? 'Redis sharded pub/sub' : 'Redis pub/sub', async () => {
      const server = await startRedis();
      const a = await RedisBus.connect({ url: server.url, sharded, onError });
      const b = await RedisBus.connect({ url: server.url, sharded, onError });
      return {
        a,
        b,
        breakConnection: async () => {
          const admin = new Redis(server.url);
          await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
          admin.disconnect();
        },
        cleanup: async () => {
          await a.close();
          await b.close();
          await server.stop();
        },
      };
    }, { breakable: true });
  }
}

if (requireBinary(NATS_SERVER, 'nats-server', 'NATS bus')) {
  busContract('NATS', async () => {
    const server = await startNats();
    const a = await NatsBus.connect({ url: server.url, onError });
    const b = await NatsBus.connect({ url: server.url, onError });
    return {
      a,
      b,
      breakConnection: () => server.restart({ hard: true }),
      cleanup: async () => {
        await a.close();
        await b.close();
        await server.stop();
      },
    };
  }, { breakable: true });
}

if (requireBinary(REDIS_SERVER, 'redis-server', 'Redis Cluster bus')) {
  describe('on a Redis Cluster (three masters with replicas)', () => {
    let cluster: RedisClusterHandle;
    before(async () => {
      cluster = await startRedisCluster();
    });
    after(async () => {
      await cluster?.stop();
    });
    busContract(
      'Redis Cluster sharded pub/sub',
      async () => {
        const prefix = `t${Date.now().toString(36)}:`;
        const a = await RedisClusterBus.connect({ url: cluster.url, prefix, onError });
        const b = await RedisClusterBus.connect({ url: cluster.url, prefix, onError });
        return {
          a,
          b,
          breakConnection: async () => {
            for (const node of cluster.nodes) {
              const admin = new Redis(Number(node.split(':')[1]), '127.0.0.1');
              await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub').catch(() => undefined);
              admin.disconnect();
            }
          },
          cleanup: async () => {
            await a.close();
            await b.close();
          },
        };
      },
      { breakable: true },
    );
  });
}
