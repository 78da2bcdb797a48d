// PM2 ecosystem for a split MediaMesh on one machine: one PM2 app per target, wired like
// deploy/run-split.sh (same ports, same MEDIAMESH_* variables).
//
//   make build                                  # bin/mediamesh; PM2 runs the binary as is
//   pm2 start deploy/ecosystem.config.js        # from the repository root (any cwd works)
//   pm2 status                                  # every mediamesh-* app "online"
//   curl localhost:8080/readyz; curl localhost:8081/readyz
//   pm2 logs mediamesh-auth                     # or data/pm2/logs/<target>.out.log / .err.log
//   pm2 restart deploy/ecosystem.config.js      # after a rebuild
//   pm2 delete deploy/ecosystem.config.js       # stop and forget the apps (pm2 kill: also the daemon)
//
// PM2 without a global install and without touching package.json, e.g.:
//   npm install --no-save --prefix /tmp/pm2 pm2@7.0.4 && export PATH=/tmp/pm2/node_modules/.bin:$PATH
//   export PM2_HOME=/tmp/pm2-home               # a PM2 daemon of its own (default ~/.pm2)
//
// Optional environment, read when PM2 loads this file (pm2 start / restart --update-env):
//   MEDIAMESH_SPLIT_POSTGRES_URL   postgres://user:pass@host:5432/postgres?sslmode=disable; each service
//                                  uses the database <prefix><service> (mediamesh_auth, ...) on that server,
//                                  which must exist (deploy/run-split.sh creates them; or createdb).
//                                  Unset: SQLite under data/pm2/<service>/.
//   MEDIAMESH_SPLIT_POSTGRES_PREFIX  database name prefix (default mediamesh_).
//   MEDIAMESH_SPLIT_REDIS_URL      redis://host:6379/0 shared by every process (unset: in memory per process).
//   MEDIAMESH_SPLIT_KAFKA_BROKERS  host:port list (unset: no Kafka, events stay in each service's outbox;
//                                  PM2 does not start a broker: bash tools/kafka/start.sh does).
//   MEDIAMESH_SPLIT_HOST           listen address of every process (default 127.0.0.1).
//   MEDIAMESH_SPLIT_PORT_OFFSET    added to every port (default 0).
//   MEDIAMESH_SPLIT_PM2_DIR        data and logs (default data/pm2 under the repository).
// Every other MEDIAMESH_* variable of the shell that runs `pm2 start` (e.g. MEDIAMESH_AUTH_ADMIN_PASSWORD)
// reaches the processes too; the wiring below wins over it.
'use strict';

const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const e = process.env;
const dir = path.resolve(root, e.MEDIAMESH_SPLIT_PM2_DIR || 'data/pm2');
const logs = path.join(dir, 'logs');
fs.mkdirSync(logs, { recursive: true });

const host = e.MEDIAMESH_SPLIT_HOST || '127.0.0.1';
const offset = Number.parseInt(e.MEDIAMESH_SPLIT_PORT_OFFSET || '0', 10);
if (!Number.isInteger(offset) || offset < 0) throw new Error('MEDIAMESH_SPLIT_PORT_OFFSET must be a number');
const bracket = (h) => (h.includes(':') && !h.startsWith('[') ? `[${h}]` : h);
const listenHost = bracket(host);
const connectHost = ['', '0.0.0.0', '::', '[::]'].includes(host) ? '127.0.0.1' : bracket(host);

const services = ['auth', 'metadata', 'cms', 'media', 'ingest', 'discovery', 'search'];
const gateways = ['discovery-gateway', 'cms-gateway'];
const basePort = {
  auth: 9101, cms: 9102, metadata: 9103, media: 9104, ingest: 9105, discovery: 9106, search: 9107,
  'discovery-gateway': 8080, 'cms-gateway': 8081,
};
const port = (t) => basePort[t] + offset;
const envKey = (s) => s.toUpperCase().replace(/-/g, '_');

// One database per service on the server of MEDIAMESH_SPLIT_POSTGRES_URL.
function databaseURL(service) {
  const base = e.MEDIAMESH_SPLIT_POSTGRES_URL;
  if (!base) return ''; // SQLite under the process's data_dir
  const m = /^(postgres(?:ql)?:\/\/[^/?#]*)(\/[^?#]*)?(\?[^#]*)?$/.exec(base);
  if (!m) throw new Error('MEDIAMESH_SPLIT_POSTGRES_URL: want postgres://user:pass@host:port/db?params');
  return `${m[1]}/${e.MEDIAMESH_SPLIT_POSTGRES_PREFIX || 'mediamesh_'}${service}${m[3] || ''}`;
}

// The wiring every process gets: listen addresses, where the others are, shared Redis and Kafka.
const common = {
  MEDIAMESH_REDIS_URL: e.MEDIAMESH_SPLIT_REDIS_URL || '',
  MEDIAMESH_KAFKA_BROKERS: e.MEDIAMESH_SPLIT_KAFKA_BROKERS || '',
  MEDIAMESH_GATEWAY_DISCOVERY_ADDR: `${listenHost}:${port('discovery-gateway')}`,
  MEDIAMESH_GATEWAY_CMS_ADDR: `${listenHost}:${port('cms-gateway')}`,
  MEDIAMESH_GATEWAY_GRAPHQL_INTROSPECTION: 'false', // production: clients use the published SDL
  MEDIAMESH_GATEWAY_GRAPHQL_PLAYGROUND: 'false', // production: no GraphiQL page at /graphql
};
for (const s of services) {
  common[`MEDIAMESH_SERVICES_${envKey(s)}_ADDR`] = `${listenHost}:${port(s)}`;
  common[`MEDIAMESH_SERVICES_${envKey(s)}_URL`] = `http://${connectHost}:${port(s)}`;
}

function app(target) {
  // Metrics and readiness details on loopback, 1000 above the process's own port.
  const env = { ...common, MEDIAMESH_DATA_DIR: path.join(dir, target), MEDIAMESH_ADMIN_ADDR: `127.0.0.1:${port(target) + 1000}` };
  if (services.includes(target)) env[`MEDIAMESH_SERVICES_${envKey(target)}_DATABASE_URL`] = databaseURL(target);
  return {
    name: `mediamesh-${target}`,
    cwd: root,
    script: path.join(root, 'bin/mediamesh'),
    args: [`--target=${target}`],
    interpreter: 'none', // a Go binary, not a Node.js script
    exec_mode: 'fork',
    instances: 1,
    // A process that dies is started again, after 1 s growing by half each time up to 15 s, and
    // back to 1 s once it ran 30 s: PM2 never gives up on it while the others keep serving.
    autorestart: true,
    exp_backoff_restart_delay: 1000,
    kill_timeout: 20000, // SIGINT first; mediamesh drains for shutdown_timeout (15s) before PM2 sends SIGKILL
    out_file: path.join(logs, `${target}.out.log`),
    error_file: path.join(logs, `${target}.err.log`),
    merge_logs: true,
    time: false, // the JSON log lines carry their own time
    env,
  };
}

module.exports = { apps: [...services, ...gateways].map(app) };
