// Counts `any` and `unknown` in the request and response bodies of the generated types (components.schemas,
// and each operation's requestBody and responses[*].content); headers and parameters are not bodies.
// Fails above zero: a hole there is a body the frontend cannot type-check against.
import { readFileSync } from "node:fs";
import ts from "typescript";

const file = process.argv[2] ?? "src/schema.d.ts";
const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true);
const holes = [];

function member(node, name) {
  const members = node.members ?? node.type?.members ?? [];
  return members.find((m) => m.name && m.name.getText(source) === name);
}

function count(node, where) {
  if (!node) return;
  if (node.kind === ts.SyntaxKind.AnyKeyword || node.kind === ts.SyntaxKind.UnknownKeyword) {
    const { line } = source.getLineAndCharacterOfPosition(node.getStart(source));
    holes.push(`${where} (line ${line + 1}): ${node.getText(source)}`);
  }
  ts.forEachChild(node, (child) => count(child, where));
}

for (const statement of source.statements) {
  if (!ts.isInterfaceDeclaration(statement)) continue;
  const name = statement.name.text;
  if (name === "components") {
    const schemas = member(statement, "schemas");
    for (const schema of schemas?.type?.members ?? []) count(schema, `schema ${schema.name.getText(source)}`);
  }
  if (name === "operations") {
    for (const operation of statement.members) {
      const id = operation.name.getText(source);
      count(member(operation, "requestBody"), `${id} request body`);
      for (const response of member(operation, "responses")?.type?.members ?? []) {
        count(member(response, "content"), `${id} response ${response.name.getText(source)}`);
      }
    }
  }
}

for (const hole of holes) console.error(`any/unknown in ${hole}`);
console.log(`${holes.length} any/unknown in request and response bodies`);
process.exit(holes.length > 0 ? 1 : 0);
