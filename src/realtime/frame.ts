/**
 * Server-to-client WebSocket frames, built once. Server frames are never masked (RFC 6455 §5.1),
 * so one header and one payload buffer serve every socket that receives the event: no
 * per-socket serialization, encoding or copy.
 */
export interface Framed {
  header: Buffer;
  payload: Buffer;
  /** header + payload bytes. */
  size: number;
}

/** One final text frame (opcode 0x1) carrying `json`. */
export function frameText(json: string): Framed {
  const payload = Buffer.from(json, 'utf8');
  const length = payload.length;
  let header: Buffer;
  if (length < 126) {
    header = Buffer.allocUnsafe(2);
    header[1] = length;
  } else if (length < 65536) {
    header = Buffer.allocUnsafe(4);
    header[1] = 126;
    header.writeUInt16BE(length, 2);
  } else {
    header = Buffer.allocUnsafe(10);
    header[1] = 127;
    header.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
    header.writeUInt32BE(length >>> 0, 6);
  }
  header[0] = 0x81;
  return { header, payload, size: header.length + length };
}
