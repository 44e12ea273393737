// pm2 keeps Parley's own supervisor alive, which forks one worker per core itself (pm2's
// cluster mode would bypass Parley's ordered drain and its IPC bus between workers).
//   pm2 start deploy/ecosystem.config.cjs          (from the checkout, after npm run build)
//   pm2 sendSignal SIGHUP parley                   (reload: the safe one)
//
// Reload with `pm2 sendSignal SIGHUP parley`: the supervisor replaces its workers one at a time,
// each new one listening before the old one drains, so no connection is refused and pm2 sees
// the same process throughout. Not `pm2 reload parley` (nor `pm2 restart`): for an app in fork
// mode pm2 makes a reload a restart, stopping the supervisor (SIGINT: it drains, closing every
// socket with 1012) and only then starting a new one, so the port refuses connections until the
// new workers listen (seconds). test/scale/pm2.test.ts runs this file under pm2 and reloads it
// with SIGHUP under traffic.
//
// kill_timeout: pm2 sends SIGINT on stop, then SIGKILL after kill_timeout. It must exceed the
// supervisor's own deadline, SHUTDOWN_TIMEOUT_MS (10 s) per worker plus 4 s: raise it with that.
module.exports = {
  apps: [
    {
      name: 'parley',
      script: 'bin/parley.js',
      args: 'start --workers auto',
      exec_mode: 'fork',
      instances: 1,
      kill_timeout: 15000,
      env: {
        NODE_ENV: 'production',
        HOST: '0.0.0.0',
        PORT: '3000',
        DATABASE_URL: 'postgres://parley@127.0.0.1:5432/parley',
        REDIS_URL: 'redis://127.0.0.1:6379',
        TRUST_PROXY: 'true',
      },
    },
  ],
};
