// Runs the consumer program under Node: the setup comes as JSON in argv, the outcome goes to stdout.
import { run } from './out/main.js';

console.log(JSON.stringify(await run(JSON.parse(process.argv[2]))));
