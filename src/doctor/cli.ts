/**
 * `parley doctor [--connections N] [--nodes N] [--job-workers N] [--json] [--timeout-ms N]`: exits 0 when nothing
 * is to fix (warnings allowed), 1 when something is, 2 on misuse.
 */
import type { Env } from '../config.js';
import { formatFindings, parseDoctorArgs, runDoctor } from './doctor.js';

const USAGE = 'usage: parley doctor [--connections N] [--nodes N] [--job-workers N] [--json] [--timeout-ms N]\n';

export async function runDoctorCommand(args: string[], env: Env = process.env, out: (text: string) => void = (t) => process.stdout.write(t)): Promise<number> {
  const options = parseDoctorArgs(args);
  if (typeof options === 'string') {
    process.stderr.write(`parley doctor: ${options}\n${USAGE}`);
    return 2;
  }
  const findings = await runDoctor(env, options);
  if (options.json) for (const f of findings) out(`${JSON.stringify(f)}\n`);
  else out(formatFindings(findings));
  return findings.some((f) => f.status === 'fix') ? 1 : 0;
}
