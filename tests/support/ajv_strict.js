// Compiles a JSON Schema with Ajv 8 in strict mode (draft 2020-12), as strict consumers of the event
// stream do (the red team's Node.js subscriber used ajv strict). Prints "ok" or the first strict error.
// usage: NODE_PATH=<folder with ajv> node ajv_strict.js SCHEMA.json
const Ajv2020 = require("ajv/dist/2020");
const fs = require("fs");
const ajv = new Ajv2020({ strict: true, allErrors: true });
try {
  ajv.compile(JSON.parse(fs.readFileSync(process.argv[2], "utf8")));
  console.log("ok");
} catch (e) {
  console.log(e.message);
  process.exit(1);
}
