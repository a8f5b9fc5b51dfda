/* global process */
// Generates TypeScript types from an OpenAPI document with openapi-typescript, in a process of its
// own (jest's module runtime and openapi-typescript's dependencies do not mix). Reads the document
// from stdin and writes the types to the file named by the first argument.
import { writeFileSync } from 'node:fs';
import openapiTS, { astToString } from 'openapi-typescript';

let text = '';
process.stdin.setEncoding('utf8');
for await (const chunk of process.stdin) text += chunk;
writeFileSync(process.argv[2], astToString(await openapiTS(JSON.parse(text))));
