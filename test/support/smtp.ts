/** A real SMTP server on loopback for tests: it keeps every mail it accepts, and can refuse some first. */
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  from: string;
  to: string[];
  raw: string;
  /** The body of a single-part mail, its transfer encoding undone. */
  text: string;
}

/** The body of a single-part mail, decoded from quoted-printable or base64. */
export function bodyText(raw: string): string {
  const split = raw.indexOf('\r\n\r\n');
  const headers = raw.slice(0, split);
  const body = raw.slice(split + 4);
  const encoding = /^Content-Transfer-Encoding:\s*(\S+)/im.exec(headers)?.[1]?.toLowerCase();
  if (encoding === 'base64') return Buffer.from(body, 'base64').toString('utf8');
  if (encoding !== 'quoted-printable') return body;
  const bytes = body.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
  return Buffer.from(bytes, 'latin1').toString('utf8');
}

export interface SmtpHandle {
  url: string;
  mails: ReceivedMail[];
  /** Recipients refused (451, a temporary failure) this many more times each. */
  refuse: Map<string, number>;
  /** Attempts refused so far, by recipient. */
  refused: Map<string, number>;
  stop(): Promise<void>;
}

export async function startSmtp(): Promise<SmtpHandle> {
  const mails: ReceivedMail[] = [];
  const refuse = new Map<string, number>();
  const refused = new Map<string, number>();
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onRcptTo(address, _session, callback) {
      const left = refuse.get(address.address) ?? 0;
      if (left > 0) {
        refuse.set(address.address, left - 1);
        refused.set(address.address, (refused.get(address.address) ?? 0) + 1);
        callback(Object.assign(new Error('try again later'), { responseCode: 451 }));
        return;
      }
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const from = session.envelope.mailFrom === false ? '' : session.envelope.mailFrom.address;
        const raw = Buffer.concat(chunks).toString('utf8');
        mails.push({ from, to: session.envelope.rcptTo.map((r) => r.address), raw, text: bodyText(raw) });
        callback();
      });
    },
  });
  server.on('error', () => {
    // A client that drops its connection mid-session: nothing to do for the test.
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;
  return {
    url: `smtp://127.0.0.1:${port}`,
    mails,
    refuse,
    refused,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
