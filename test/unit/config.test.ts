import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { isAbsolute } from 'node:path';
import {
  ConfigError, loadApiSettings, loadConfig, loadDevSettings, loadTemporalSettings, loadWorkerSettings, parseListenAddr,
  type Env,
} from '../../config/index.js';

const MB = 1024 * 1024;

/** Asserts `fn` throws a ConfigError whose message contains every one of `names`. */
function refuses(fn: () => unknown, ...names: Array<string | RegExp>): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${String(e)}`);
    for (const n of names) {
      if (typeof n === 'string') assert.ok(e.message.includes(n), `message ${JSON.stringify(e.message)} should name ${n}`);
      else assert.match(e.message, n);
    }
    return true;
  });
}

describe('config', () => {
  describe('loadConfig with an empty environment', () => {
    const config = loadConfig({});

    it('listens on port 8089 on every interface', () => {
      assert.equal(config.api.httpPort, 8089);
      assert.equal(config.api.httpHost, '0.0.0.0');
    });

    it('uses the default namespace, a 30-day retention, WARN SDK logs and no TLS', () => {
      assert.equal(config.temporal.namespace, 'default');
      assert.equal(config.temporal.retentionDays, 30);
      assert.equal(config.temporal.sdkLogLevel, 'WARN');
      assert.equal(config.temporal.tls, undefined);
      assert.equal(config.temporal.address, undefined);
      assert.equal(config.temporal.uiUrl, 'http://127.0.0.1:8233');
    });

    it('serves the python and terminal runtimes with their documented limits', () => {
      assert.deepEqual(config.worker.runtimes, ['python', 'terminal']);
      assert.equal(config.worker.maxInflight, 4);
      assert.equal(config.worker.outputLimitBytes, 1048576);
      assert.equal(config.worker.sandboxMaxUses, 50);
      assert.deepEqual(config.worker.python, {
        image: 'durabox/python:4', memoryBytes: 256 * MB, nanoCpus: 1e9, pidsLimit: 128, tmpfsBytes: 64 * MB, network: false,
      });
      assert.deepEqual(config.worker.terminal, {
        image: 'durabox/terminal:6', memoryBytes: 512 * MB, nanoCpus: 1e9, pidsLimit: 128, tmpfsBytes: 192 * MB, network: false,
      });
    });

    it('reports to the local API and derives the worker id from the host name', () => {
      assert.equal(config.worker.apiUrl, 'http://127.0.0.1:8089');
      assert.equal(config.worker.workerId, `host-${hostname()}`);
      assert.equal(config.worker.workerIdGiven, false);
      assert.equal(config.worker.workerSecret, undefined);
    });

    it('uses the documented session policy', () => {
      assert.deepEqual(config.api.session, {
        leaseDefaultSec: 60,
        leaseMinSec: 60,
        leaseMaxSec: 1800,
        maxLifetimeSec: 86400,
        hostTimeoutMs: 5000,
        fileMaxBytes: 1048576,
        commandsPerRun: 500,
        maxInflightCalls: 8,
        checkpointSec: 10,
        pauseAfterSec: 300,
        checkpointMaxBytes: 64 * 1048576,
        durability: 'zero',
        hostGoneSec: 30,
      });
    });

    it('takes zero loss or interval checkpoints, nothing else', () => {
      assert.equal(loadApiSettings({ DURABOX_SESSION_DURABILITY: 'interval' }).session.durability, 'interval');
      refuses(() => loadApiSettings({ DURABOX_SESSION_DURABILITY: 'sometimes' }), 'DURABOX_SESSION_DURABILITY', 'zero, interval');
      refuses(() => loadApiSettings({ DURABOX_SESSION_HOST_GONE_SEC: '0' }), 'DURABOX_SESSION_HOST_GONE_SEC');
    });

    it('keeps checkpoints in PostgreSQL unless DURABOX_SNAPSHOT_URL names a bucket', () => {
      assert.deepEqual(config.api.snapshotStore, { kind: 'postgres' });
    });

    it('reads an S3 snapshot store: bucket and prefix from the URL, path style with an endpoint, credentials in pairs', () => {
      assert.deepEqual(loadApiSettings({
        DURABOX_SNAPSHOT_URL: 's3://durabox-checkpoints/prod/eu/',
        DURABOX_SNAPSHOT_S3_ENDPOINT: 'http://127.0.0.1:8333',
        DURABOX_SNAPSHOT_S3_ACCESS_KEY_ID: 'AK',
        DURABOX_SNAPSHOT_S3_SECRET_ACCESS_KEY: 'SK',
      }).snapshotStore, {
        kind: 's3', bucket: 'durabox-checkpoints', prefix: 'prod/eu', endpoint: 'http://127.0.0.1:8333', region: 'us-east-1',
        credentials: { accessKeyId: 'AK', secretAccessKey: 'SK' }, forcePathStyle: true,
      });
      assert.deepEqual(loadApiSettings({ DURABOX_SNAPSHOT_URL: 's3://bucket.example', DURABOX_SNAPSHOT_S3_REGION: 'eu-west-3' }).snapshotStore, {
        kind: 's3', bucket: 'bucket.example', prefix: '', endpoint: undefined, region: 'eu-west-3', credentials: undefined, forcePathStyle: false,
      });
      assert.equal((loadApiSettings({ DURABOX_SNAPSHOT_URL: 's3://b0b', DURABOX_SNAPSHOT_S3_ENDPOINT: 'https://s3.internal', DURABOX_SNAPSHOT_S3_PATH_STYLE: 'false' }).snapshotStore as { forcePathStyle: boolean }).forcePathStyle, false);
    });

    it('refuses a snapshot store it cannot use, naming the variable', () => {
      refuses(() => loadApiSettings({ DURABOX_SNAPSHOT_URL: 'https://bucket/prefix' }), 'DURABOX_SNAPSHOT_URL', 's3://bucket');
      refuses(() => loadApiSettings({ DURABOX_SNAPSHOT_URL: 's3://Upper_Case' }), 'DURABOX_SNAPSHOT_URL', 'bucket name');
      refuses(() => loadApiSettings({ DURABOX_SNAPSHOT_URL: 's3://bucket/../up' }), 'DURABOX_SNAPSHOT_URL', '".."');
      refuses(() => loadApiSettings({ DURABOX_SNAPSHOT_URL: 's3://bucket', DURABOX_SNAPSHOT_S3_ENDPOINT: 'ftp://x' }), 'DURABOX_SNAPSHOT_S3_ENDPOINT');
      refuses(() => loadApiSettings({ DURABOX_SNAPSHOT_URL: 's3://bucket', DURABOX_SNAPSHOT_S3_ACCESS_KEY_ID: 'AK' }), 'DURABOX_SNAPSHOT_S3_SECRET_ACCESS_KEY');
      refuses(() => loadApiSettings({ DURABOX_SNAPSHOT_S3_ENDPOINT: 'http://127.0.0.1:8333' }), 'DURABOX_SNAPSHOT_URL');
    });

    it('holds checkpoints over 1 GiB only in an S3 store, and none over 4 GiB', () => {
      const big = String(2 * 1024 * MB);
      refuses(() => loadApiSettings({ DURABOX_SESSION_CHECKPOINT_MAX_BYTES: big }), 'DURABOX_SESSION_CHECKPOINT_MAX_BYTES', 'DURABOX_SNAPSHOT_URL');
      assert.equal(loadApiSettings({ DURABOX_SESSION_CHECKPOINT_MAX_BYTES: big, DURABOX_SNAPSHOT_URL: 's3://bucket' }).session.checkpointMaxBytes, 2 * 1024 * MB);
      assert.equal(loadWorkerSettings({ DURABOX_SESSION_CHECKPOINT_MAX_BYTES: big }).checkpointMaxBytes, 2 * 1024 * MB);
      refuses(() => loadApiSettings({ DURABOX_SESSION_CHECKPOINT_MAX_BYTES: String(5 * 1024 * MB), DURABOX_SNAPSHOT_URL: 's3://bucket' }), 'DURABOX_SESSION_CHECKPOINT_MAX_BYTES');
    });

    it('refuses pauses without checkpoints', () => {
      refuses(() => loadApiSettings({ DURABOX_SESSION_CHECKPOINT_SEC: '0' }), 'DURABOX_SESSION_PAUSE_AFTER_SEC', 'DURABOX_SESSION_CHECKPOINT_SEC');
      assert.equal(loadApiSettings({ DURABOX_SESSION_CHECKPOINT_SEC: '0', DURABOX_SESSION_PAUSE_AFTER_SEC: '0' }).session.checkpointSec, 0);
    });

    it('keeps registration off, eager start on, proxies untrusted and the embedded database', () => {
      assert.equal(config.api.enableRegistration, false);
      assert.equal(config.api.eagerStart, true);
      assert.equal(config.api.trustProxy, false);
      assert.equal(config.api.databaseUrl, undefined);
      assert.equal(config.api.hashKey, undefined);
      assert.equal(config.api.activityHeartbeatTimeoutMs, 10000);
      assert.equal(config.api.streamRetentionSec, 900);
      assert.equal(config.api.metricsToken, undefined);
    });

    it('resolves the data dir to an absolute ./.durabox and runs the temporal CLI from PATH', () => {
      assert.ok(isAbsolute(config.api.dataDir));
      assert.match(config.api.dataDir, /[/\\]\.durabox$/);
      assert.equal(config.dev.dataDir, config.api.dataDir);
      assert.equal(config.dev.temporalCli, 'temporal');
    });
  });

  describe('values given in the environment', () => {
    it('takes integers, trimming blanks around them', () => {
      const s = loadTemporalSettings({ DURABOX_TASK_RETENTION_DAYS: ' 7 ' });
      assert.equal(s.retentionDays, 7);
    });

    it('treats an empty or blank integer variable as unset', () => {
      assert.equal(loadTemporalSettings({ DURABOX_TASK_RETENTION_DAYS: '' }).retentionDays, 30);
      assert.equal(loadTemporalSettings({ DURABOX_TASK_RETENTION_DAYS: '   ' }).retentionDays, 30);
    });

    it('accepts the bounds of an integer range', () => {
      assert.equal(loadTemporalSettings({ DURABOX_TASK_RETENTION_DAYS: '1' }).retentionDays, 1);
      assert.equal(loadTemporalSettings({ DURABOX_TASK_RETENTION_DAYS: '3650' }).retentionDays, 3650);
    });

    it('refuses an integer below its range, naming the variable, the range and the value', () => {
      refuses(() => loadTemporalSettings({ DURABOX_TASK_RETENTION_DAYS: '0' }), 'DURABOX_TASK_RETENTION_DAYS', '1..3650', '"0"');
    });

    it('reads the egress proxy\'s settings: public addresses only by default, and refuses ranges and names it cannot use', () => {
      assert.deepEqual(loadWorkerSettings({}).egress, { subnet: '10.213.0.0/16', privateCidrs: [], hosts: [] });
      assert.deepEqual(
        loadWorkerSettings({ DURABOX_EGRESS_SUBNET: '10.99.0.0/20', DURABOX_EGRESS_PRIVATE_CIDRS: '172.17.0.1/32, 10.0.0.0/8,fd00::/8', DURABOX_EGRESS_HOSTS: 'mirror.internal=10.0.0.5' }).egress,
        { subnet: '10.99.0.0/20', privateCidrs: ['172.17.0.1/32', '10.0.0.0/8', 'fd00::/8'], hosts: ['mirror.internal=10.0.0.5'] },
      );
      refuses(() => loadWorkerSettings({ DURABOX_EGRESS_SUBNET: '10.0.0.0/30' }), 'DURABOX_EGRESS_SUBNET', '/26');
      refuses(() => loadWorkerSettings({ DURABOX_EGRESS_SUBNET: 'ten' }), 'DURABOX_EGRESS_SUBNET');
      refuses(() => loadWorkerSettings({ DURABOX_EGRESS_PRIVATE_CIDRS: 'everything' }), 'DURABOX_EGRESS_PRIVATE_CIDRS', 'everything');
      refuses(() => loadWorkerSettings({ DURABOX_EGRESS_HOSTS: 'mirror.internal' }), 'DURABOX_EGRESS_HOSTS', 'name=IPv4');
    });

    it('reads how templates are built and capped: the public package indexes (and the proxy\'s named mirrors) only, limits and a time bound', () => {
      const b = loadWorkerSettings({}).templateBuild;
      assert.deepEqual(b, {
        indexes: ['pypi.org:443', 'files.pythonhosted.org:443', 'registry.npmjs.org:443', 'deb.debian.org:80', 'deb.debian.org:443'],
        memoryBytes: 2048 * 1048576, nanoCpus: 1e9, pidsLimit: 512, timeoutSec: 900,
      });
      assert.deepEqual(loadWorkerSettings({ DURABOX_EGRESS_HOSTS: 'mirror.internal=10.0.0.5' }).templateBuild.indexes.slice(-2), ['mirror.internal:80', 'mirror.internal:443']);
      const given = loadWorkerSettings({ DURABOX_BUILD_INDEXES: 'mirror.internal:3141, *.example.org:443', DURABOX_TEMPLATE_BUILD_TIMEOUT_SEC: '60', DURABOX_TEMPLATE_BUILD_CPUS: '0.5' }).templateBuild;
      assert.deepEqual([given.indexes, given.timeoutSec, given.nanoCpus], [['mirror.internal:3141', '*.example.org:443'], 60, 5e8]);
      assert.equal(loadApiSettings({}).templateBuildTimeoutSec, 900);
      assert.deepEqual(loadApiSettings({}).templateMax, { memoryMb: 4096, cpus: 2 });
      assert.deepEqual(loadApiSettings({ DURABOX_TEMPLATE_MAX_MEMORY_MB: '1024', DURABOX_TEMPLATE_MAX_CPUS: '1.5' }).templateMax, { memoryMb: 1024, cpus: 1.5 });
      assert.equal(loadWorkerSettings({}).templatePoolsMax, 8);
      refuses(() => loadWorkerSettings({ DURABOX_BUILD_INDEXES: 'https://pypi.org/simple' }), 'DURABOX_BUILD_INDEXES', 'host:port');
      refuses(() => loadApiSettings({ DURABOX_TEMPLATE_MAX_CPUS: 'two' }), 'DURABOX_TEMPLATE_MAX_CPUS');
      refuses(() => loadWorkerSettings({ DURABOX_TEMPLATE_BUILD_PIDS: '4' }), 'DURABOX_TEMPLATE_BUILD_PIDS', '16..');
    });

    it('refuses an integer above its range, naming the variable', () => {
      refuses(() => loadWorkerSettings({ DURABOX_MAX_INFLIGHT: '1025' }), 'DURABOX_MAX_INFLIGHT', '1..1024');
    });

    it('refuses a fractional or non-numeric integer setting, naming the variable', () => {
      refuses(() => loadWorkerSettings({ DURABOX_HEARTBEAT_INTERVAL_SEC: '2.5' }), 'DURABOX_HEARTBEAT_INTERVAL_SEC');
      refuses(() => loadWorkerSettings({ DURABOX_OUTPUT_LIMIT_BYTES: 'lots' }), 'DURABOX_OUTPUT_LIMIT_BYTES', '"lots"');
      refuses(() => loadApiSettings({ DURABOX_SESSION_HOST_TIMEOUT_MS: '100' }), 'DURABOX_SESSION_HOST_TIMEOUT_MS', '500..600000');
    });

    it('refuses a session file limit above what a Temporal payload can carry, in the API and the worker alike', () => {
      refuses(() => loadApiSettings({ DURABOX_SESSION_FILE_MAX_BYTES: '1400001' }), 'DURABOX_SESSION_FILE_MAX_BYTES', '1..1400000');
      refuses(() => loadWorkerSettings({ DURABOX_SESSION_FILE_MAX_BYTES: '1400001' }), 'DURABOX_SESSION_FILE_MAX_BYTES');
      assert.equal(loadApiSettings({ DURABOX_SESSION_FILE_MAX_BYTES: '1400000' }).session.fileMaxBytes, 1400000);
      assert.equal(loadWorkerSettings({ DURABOX_SESSION_FILE_MAX_BYTES: '2048' }).fileMaxBytes, 2048);
    });

    for (const [raw, expected] of [['true', true], ['TRUE', true], ['1', true], ['yes', true], ['on', true], ['false', false], ['0', false], ['no', false], ['Off', false]] as const) {
      it(`reads the boolean ${JSON.stringify(raw)} as ${expected}`, () => {
        assert.equal(loadApiSettings({ DURABOX_ENABLE_REGISTRATION: raw }).enableRegistration, expected);
        assert.equal(loadApiSettings({ DURABOX_EAGER_START: raw }).eagerStart, expected);
      });
    }

    it('keeps a boolean default when the variable is blank', () => {
      assert.equal(loadApiSettings({ DURABOX_EAGER_START: '' }).eagerStart, true);
      assert.equal(loadApiSettings({ DURABOX_TRUST_PROXY: ' ' }).trustProxy, false);
    });

    it('refuses a boolean that is neither true nor false, naming the variable and the value', () => {
      refuses(() => loadApiSettings({ DURABOX_TRUST_PROXY: 'maybe' }), 'DURABOX_TRUST_PROXY', '"maybe"');
      refuses(() => loadWorkerSettings({ DURABOX_PYTHON_NETWORK: '2' }), 'DURABOX_PYTHON_NETWORK');
    });

    it('offers templates none and allowlist networks by default, full only where DURABOX_TEMPLATE_NETWORKS lists it', () => {
      assert.deepEqual(loadApiSettings({}).templateNetworks, ['none', 'allowlist']);
      assert.deepEqual(loadApiSettings({ DURABOX_TEMPLATE_NETWORKS: 'none, allowlist,full' }).templateNetworks, ['none', 'allowlist', 'full']);
      assert.deepEqual(loadApiSettings({ DURABOX_TEMPLATE_NETWORKS: 'none' }).templateNetworks, ['none']);
      refuses(() => loadApiSettings({ DURABOX_TEMPLATE_NETWORKS: 'none,bridge' }), 'DURABOX_TEMPLATE_NETWORKS', '"none,bridge"');
      refuses(() => loadApiSettings({ DURABOX_TEMPLATE_NETWORKS: ',' }), 'DURABOX_TEMPLATE_NETWORKS');
    });

    it('gives a runtime a network only when its own NETWORK variable says so', () => {
      const w = loadWorkerSettings({ DURABOX_TERMINAL_NETWORK: 'true' });
      assert.equal(w.terminal.network, true);
      assert.equal(w.python.network, false);
    });

    it('converts runtime limits to bytes and nano-CPUs', () => {
      const w = loadWorkerSettings({ DURABOX_PYTHON_MEMORY_MB: '1024', DURABOX_PYTHON_CPUS: '0.5', DURABOX_PYTHON_TMPFS_MB: '10', DURABOX_PYTHON_IMAGE: 'my/python:3' });
      assert.equal(w.python.memoryBytes, 1024 * MB);
      assert.equal(w.python.nanoCpus, 500_000_000);
      assert.equal(w.python.tmpfsBytes, 10 * MB);
      assert.equal(w.python.image, 'my/python:3');
      assert.equal(w.terminal.image, 'durabox/terminal:6');
    });

    it('refuses a CPU limit that is zero, negative or not a number, naming the variable', () => {
      refuses(() => loadWorkerSettings({ DURABOX_PYTHON_CPUS: '0' }), 'DURABOX_PYTHON_CPUS', 'positive');
      refuses(() => loadWorkerSettings({ DURABOX_TERMINAL_CPUS: '-1' }), 'DURABOX_TERMINAL_CPUS');
      refuses(() => loadWorkerSettings({ DURABOX_TERMINAL_CPUS: 'two' }), 'DURABOX_TERMINAL_CPUS');
    });

    it('refuses a memory limit under 16 MB, naming the runtime\'s variable', () => {
      refuses(() => loadWorkerSettings({ DURABOX_TERMINAL_MEMORY_MB: '8' }), 'DURABOX_TERMINAL_MEMORY_MB', '16..65536');
    });

    it('marks a worker id given in the environment as given', () => {
      const w = loadWorkerSettings({ DURABOX_WORKER_ID: 'edge-1', DURABOX_WORKER_SECRET: 's3cret' });
      assert.equal(w.workerId, 'edge-1');
      assert.equal(w.workerIdGiven, true);
      assert.equal(w.workerSecret, 's3cret');
    });
  });

  describe('DURABOX_RUNTIMES', () => {
    it('serves only the runtimes listed, ignoring spaces and empty entries', () => {
      assert.deepEqual(loadWorkerSettings({ DURABOX_RUNTIMES: ' terminal , ' }).runtimes, ['terminal']);
      assert.deepEqual(loadWorkerSettings({ DURABOX_RUNTIMES: 'python' }).runtimes, ['python']);
    });

    it('refuses an unknown runtime, naming it and the known ones', () => {
      refuses(() => loadWorkerSettings({ DURABOX_RUNTIMES: 'python,ruby' }), 'DURABOX_RUNTIMES', '"ruby"', 'python, terminal');
    });

    it('refuses a runtime name in the wrong case rather than serving nothing for it', () => {
      refuses(() => loadWorkerSettings({ DURABOX_RUNTIMES: 'Python' }), 'DURABOX_RUNTIMES', '"Python"');
    });
  });

  describe('session leases', () => {
    it('accepts MIN <= DEFAULT <= MAX, including all three equal', () => {
      const s = loadApiSettings({ DURABOX_SESSION_LEASE_MIN_SEC: '30', DURABOX_SESSION_LEASE_DEFAULT_SEC: '30', DURABOX_SESSION_LEASE_MAX_SEC: '30' }).session;
      assert.deepEqual([s.leaseMinSec, s.leaseDefaultSec, s.leaseMaxSec], [30, 30, 30]);
    });

    it('refuses a lease minimum above the maximum, naming both settings', () => {
      refuses(
        () => loadApiSettings({ DURABOX_SESSION_LEASE_MIN_SEC: '600', DURABOX_SESSION_LEASE_DEFAULT_SEC: '600', DURABOX_SESSION_LEASE_MAX_SEC: '300' }),
        'DURABOX_SESSION_LEASE_MIN_SEC', '_MAX_SEC',
      );
    });

    it('refuses a default lease below the minimum', () => {
      refuses(() => loadApiSettings({ DURABOX_SESSION_LEASE_MIN_SEC: '120', DURABOX_SESSION_LEASE_DEFAULT_SEC: '90' }), 'DURABOX_SESSION_LEASE_MIN_SEC', '_DEFAULT_SEC');
    });

    it('refuses a default lease above the maximum', () => {
      refuses(() => loadApiSettings({ DURABOX_SESSION_LEASE_DEFAULT_SEC: '3600' }), '_DEFAULT_SEC', '_MAX_SEC');
    });
  });

  describe('parseListenAddr', () => {
    it('reads ":8089" as every interface', () => {
      assert.deepEqual(parseListenAddr(':8089'), { host: '0.0.0.0', port: 8089 });
    });

    it('reads "127.0.0.1:9000" as that host and port', () => {
      assert.deepEqual(parseListenAddr('127.0.0.1:9000'), { host: '127.0.0.1', port: 9000 });
    });

    it('reads "[::1]:80" as the IPv6 host without brackets', () => {
      assert.deepEqual(parseListenAddr('[::1]:80'), { host: '::1', port: 80 });
    });

    it('takes a host name and trims surrounding blanks', () => {
      assert.deepEqual(parseListenAddr('  localhost:3000 '), { host: 'localhost', port: 3000 });
    });

    it('refuses an address without a port, naming DURABOX_HTTP_ADDR', () => {
      refuses(() => parseListenAddr('localhost'), 'DURABOX_HTTP_ADDR', '"localhost"');
      refuses(() => parseListenAddr('localhost:'), 'DURABOX_HTTP_ADDR');
      refuses(() => parseListenAddr('host:http'), 'DURABOX_HTTP_ADDR');
    });

    it('refuses a port above 65535', () => {
      refuses(() => parseListenAddr(':65536'), 'DURABOX_HTTP_ADDR', 'out of range', '65536');
      assert.equal(parseListenAddr(':65535').port, 65535);
    });

    it('is what the API section listens on', () => {
      const a = loadApiSettings({ DURABOX_HTTP_ADDR: '127.0.0.1:9000' });
      assert.equal(a.httpHost, '127.0.0.1');
      assert.equal(a.httpPort, 9000);
      refuses(() => loadApiSettings({ DURABOX_HTTP_ADDR: 'nope' }), 'DURABOX_HTTP_ADDR');
    });
  });

  describe('Temporal settings', () => {
    it('has no TLS when none of the TLS variables is set, or they are blank', () => {
      assert.equal(loadTemporalSettings({}).tls, undefined);
      assert.equal(loadTemporalSettings({ TEMPORAL_TLS_CERT: '  ', TEMPORAL_TLS_KEY: '' }).tls, undefined);
    });

    it('turns TLS on as soon as one TLS variable is set, with the files given', () => {
      assert.deepEqual(loadTemporalSettings({ TEMPORAL_TLS_CA: '/etc/ca.pem' }).tls, { cert: undefined, key: undefined, ca: '/etc/ca.pem', serverName: undefined });
      assert.deepEqual(
        loadTemporalSettings({ TEMPORAL_TLS_CERT: '/c.pem', TEMPORAL_TLS_KEY: '/k.pem', TEMPORAL_TLS_SERVER_NAME: 'temporal.internal' }).tls,
        { cert: '/c.pem', key: '/k.pem', ca: undefined, serverName: 'temporal.internal' },
      );
    });

    it('refuses a client certificate without its key, and a key without its certificate', () => {
      refuses(() => loadTemporalSettings({ TEMPORAL_TLS_CERT: '/c.pem' }), 'TEMPORAL_TLS_CERT', 'TEMPORAL_TLS_KEY');
      refuses(() => loadTemporalSettings({ TEMPORAL_TLS_KEY: '/k.pem' }), 'TEMPORAL_TLS_CERT', 'TEMPORAL_TLS_KEY');
    });

    it('takes the address and namespace given', () => {
      const t = loadTemporalSettings({ TEMPORAL_ADDRESS: 'temporal:7233', TEMPORAL_NAMESPACE: 'prod' });
      assert.equal(t.address, 'temporal:7233');
      assert.equal(t.namespace, 'prod');
    });

    it('accepts each SDK log level, in any case', () => {
      for (const level of ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR']) {
        assert.equal(loadTemporalSettings({ DURABOX_TEMPORAL_LOG_LEVEL: level.toLowerCase() }).sdkLogLevel, level);
      }
    });

    it('refuses an unknown SDK log level, naming the variable, the levels and the value', () => {
      refuses(() => loadTemporalSettings({ DURABOX_TEMPORAL_LOG_LEVEL: 'verbose' }), 'DURABOX_TEMPORAL_LOG_LEVEL', 'TRACE, DEBUG, INFO, WARN, ERROR', '"verbose"');
    });
  });

  describe('TLS between workers and the API', () => {
    it('serves HTTPS with both PEM files, plain HTTP with neither, and refuses one alone', () => {
      assert.equal(loadApiSettings({}).https, undefined);
      assert.deepEqual(loadApiSettings({ DURABOX_TLS_CERT: '/tls/api.crt', DURABOX_TLS_KEY: '/tls/api.key' }).https, { cert: '/tls/api.crt', key: '/tls/api.key' });
      refuses(() => loadApiSettings({ DURABOX_TLS_CERT: '/tls/api.crt' }), 'DURABOX_TLS_CERT', 'DURABOX_TLS_KEY');
    });

    it('a worker takes https anywhere and plain http to this machine\'s loopback', () => {
      for (const url of ['https://durabox.example', 'https://10.0.0.5:8089', 'http://127.0.0.1:8089', 'http://localhost:8089', 'http://[::1]:8089', 'http://127.0.1.1:8089']) {
        assert.equal(loadWorkerSettings({ DURABOX_API_URL: url }).apiUrl, url);
      }
    });

    it('a worker refuses plain http to another machine unless DURABOX_API_INSECURE is set, naming both settings', () => {
      for (const url of ['http://durabox.example', 'http://10.0.0.5:8089', 'http://[fd00::1]:8089', 'http://127.0.0.1.example.com']) {
        refuses(() => loadWorkerSettings({ DURABOX_API_URL: url }), 'DURABOX_API_URL', 'DURABOX_API_INSECURE', 'https://');
        const w = loadWorkerSettings({ DURABOX_API_URL: url, DURABOX_API_INSECURE: 'true' });
        assert.equal(w.apiUrl, url);
        assert.equal(w.apiInsecure, true);
      }
      refuses(() => loadWorkerSettings({ DURABOX_API_URL: 'ftp://durabox.example' }), 'DURABOX_API_URL', 'http(s)');
      refuses(() => loadWorkerSettings({ DURABOX_API_URL: 'not a url' }), 'DURABOX_API_URL');
      refuses(() => loadWorkerSettings({ DURABOX_API_URL: 'https://x', DURABOX_API_INSECURE: 'maybe' }), 'DURABOX_API_INSECURE');
    });

    it('a worker trusts the CA file it is given, by absolute path', () => {
      assert.equal(loadWorkerSettings({}).apiCa, undefined);
      assert.ok(isAbsolute(loadWorkerSettings({ DURABOX_API_CA: 'tls/ca.pem' }).apiCa!));
    });

  });

  describe('sections', () => {
    const env: Env = {
      DURABOX_HASH_KEY: 'hash-key',
      DURABOX_WORKER_SECRET: 'worker-secret',
      DURABOX_ADMIN_PASSWORD: 'admin-pw',
      DATABASE_URL: 'postgres://u:p@db/durabox',
      DURABOX_TEMPORAL_CLI: '/opt/temporal',
    };

    it('gives the worker no API secrets: no hash key, admin password or database URL', () => {
      const w = loadWorkerSettings(env) as unknown as Record<string, unknown>;
      for (const key of ['hashKey', 'adminPassword', 'adminUsername', 'databaseUrl', 'session']) assert.equal(key in w, false, `worker has ${key}`);
      assert.ok(!JSON.stringify(w).includes('hash-key'));
      assert.ok(!JSON.stringify(w).includes('admin-pw'));
    });

    it('gives the API no worker secret', () => {
      const a = loadApiSettings(env) as unknown as Record<string, unknown>;
      assert.equal('workerSecret' in a, false);
      assert.ok(!JSON.stringify(a).includes('worker-secret'));
      assert.equal(a.hashKey, 'hash-key');
      assert.equal(a.databaseUrl, 'postgres://u:p@db/durabox');
    });

    it('keeps Temporal and dev-server settings out of the API and worker sections', () => {
      const a = loadApiSettings(env) as unknown as Record<string, unknown>;
      const w = loadWorkerSettings(env) as unknown as Record<string, unknown>;
      for (const key of ['namespace', 'tls', 'temporalCli', 'retentionDays']) {
        assert.equal(key in a, false, `api has ${key}`);
        assert.equal(key in w, false, `worker has ${key}`);
      }
      assert.equal(loadDevSettings(env).temporalCli, '/opt/temporal');
    });

    it('loads a section without reading the variables of another: a bad worker variable does not stop the API', () => {
      const bad: Env = { DURABOX_RUNTIMES: 'ruby', DURABOX_TEMPORAL_LOG_LEVEL: 'loud' };
      assert.equal(loadApiSettings(bad).httpPort, 8089);
      refuses(() => loadWorkerSettings(bad), 'DURABOX_RUNTIMES');
      refuses(() => loadConfig(bad), 'DURABOX_TEMPORAL_LOG_LEVEL');
    });
  });
  describe('stricter readings', () => {
    it('refuses integers written in hex or with an exponent, naming the variable', () => {
      refuses(() => loadWorkerSettings({ DURABOX_MAX_INFLIGHT: '0x10' }), 'DURABOX_MAX_INFLIGHT');
      refuses(() => loadWorkerSettings({ DURABOX_MAX_INFLIGHT: '1e1' }), 'DURABOX_MAX_INFLIGHT');
      assert.equal(loadWorkerSettings({ DURABOX_MAX_INFLIGHT: ' 16 ' }).maxInflight, 16);
    });

    it('refuses a runtime list that names nothing, and keeps each runtime once', () => {
      refuses(() => loadWorkerSettings({ DURABOX_RUNTIMES: ',' }), 'DURABOX_RUNTIMES');
      assert.deepEqual(loadWorkerSettings({ DURABOX_RUNTIMES: 'python,python,terminal' }).runtimes, ['python', 'terminal']);
    });

    it('treats an empty DURABOX_HTTP_ADDR as unset, like every other variable', () => {
      assert.equal(loadApiSettings({ DURABOX_HTTP_ADDR: '' }).httpPort, 8089);
      assert.equal(loadApiSettings({ DURABOX_HTTP_ADDR: '  ' }).httpHost, '0.0.0.0');
    });

    it('refuses an IPv6 address without brackets or with one bracket missing', () => {
      assert.throws(() => parseListenAddr('::1:80'), ConfigError);
      assert.throws(() => parseListenAddr('[::1:80'), ConfigError);
      assert.deepEqual(parseListenAddr('[::1]:80'), { host: '::1', port: 80 });
    });

    it('names all three lease settings and their values when they are out of order', () => {
      assert.throws(() => loadApiSettings({ DURABOX_SESSION_LEASE_MIN_SEC: '120' }), (e: Error) =>
        e instanceof ConfigError && e.message.includes('DURABOX_SESSION_LEASE_DEFAULT_SEC') && e.message.includes('DURABOX_SESSION_LEASE_MAX_SEC') && e.message.includes('120 <= 60 <= 1800'));
    });
  });
});
