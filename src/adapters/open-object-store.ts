/** Builds the ObjectStore the configuration asks for (FILE_STORAGE). */
import path from 'node:path';
import type { Config } from '../config.js';
import { ConfigError } from '../config.js';
import type { ObjectStore } from '../ports.js';
import { FsObjectStore } from './fs/object-store.js';
import { S3ObjectStore } from './s3/object-store.js';

/** The directory of stored files with FILE_STORAGE=fs: FILES_DIR, or DATA_DIR/files when empty. */
export function filesDir(config: Config): string {
  return config.FILES_DIR === '' ? path.join(config.DATA_DIR, 'files') : path.resolve(config.FILES_DIR);
}

/**
 * The store of FILE_STORAGE: `fs` under `filesDir(config)`, or `s3` on S3_BUCKET at S3_ENDPOINT.
 * Nothing is reached yet (no directory made, no request sent): `ping` checks the storage answers.
 */
export function openObjectStore(config: Config): ObjectStore {
  switch (config.FILE_STORAGE) {
    case 'fs':
      return new FsObjectStore({ root: filesDir(config) });
    case 's3': {
      if (config.S3_BUCKET === '') throw new ConfigError('FILE_STORAGE=s3 needs S3_BUCKET (and S3_ENDPOINT for storage other than AWS).');
      const keyed = config.S3_ACCESS_KEY_ID !== '' || config.S3_SECRET_ACCESS_KEY !== '';
      if (keyed && (config.S3_ACCESS_KEY_ID === '' || config.S3_SECRET_ACCESS_KEY === '')) {
        throw new ConfigError('S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY go together: set both, or neither for the default credential chain.');
      }
      return new S3ObjectStore({
        bucket: config.S3_BUCKET,
        endpoint: config.S3_ENDPOINT === '' ? undefined : config.S3_ENDPOINT,
        region: config.S3_REGION,
        credentials: keyed ? { accessKeyId: config.S3_ACCESS_KEY_ID, secretAccessKey: config.S3_SECRET_ACCESS_KEY } : undefined,
        forcePathStyle: config.S3_FORCE_PATH_STYLE,
        partSize: config.S3_PART_SIZE_MB * 1024 * 1024,
        timeoutMs: config.S3_TIMEOUT_MS,
      });
    }
  }
}
