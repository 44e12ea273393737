// An s3rver of a test's own, in a process of its own (so a test can kill it and start it again
// on the same port, and so its buffering never counts in the test's memory). Env:
// PARLEY_S3RVER_PORT, PARLEY_S3RVER_DIR, PARLEY_S3RVER_BUCKET. Prints `listening <port>` once
// it serves; the bucket is created (kept if the directory already has it).
import S3rver from 's3rver';

const port = Number(process.env.PARLEY_S3RVER_PORT);
const server = new S3rver({
  address: '127.0.0.1',
  port,
  directory: process.env.PARLEY_S3RVER_DIR,
  silent: true,
  configureBuckets: [{ name: process.env.PARLEY_S3RVER_BUCKET }],
});
await server.run();
process.stdout.write(`listening ${port}\n`);
process.on('SIGTERM', () => {
  server.close().finally(() => process.exit(0));
});
