// pm2 keeps Parley's own supervisor alive, which forks one worker per core itself (pm2's
// cluster mode would bypass Parley's ordered drain and its IPC bus between workers).
//   pm2 start deploy/ecosystem.config.cjs
//   pm2 sendSignal SIGHUP parley   (a rolling reload of the workers, one at a time)
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
