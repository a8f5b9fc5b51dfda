/* global process */
// Validates an OpenAPI document with @apidevtools/swagger-parser, in a process of its own: the
// parser is CommonJS that requires ESM dependencies, which Node loads but jest's module runtime
// does not. Reads the document from stdin; exits 0 when valid, 1 with the reason on stderr.
import SwaggerParser from '@apidevtools/swagger-parser';

let text = '';
process.stdin.setEncoding('utf8');
for await (const chunk of process.stdin) text += chunk;
try {
  await SwaggerParser.validate(JSON.parse(text));
  process.stdout.write('valid\n');
} catch (err) {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
