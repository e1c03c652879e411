/**
 * The tools' JSON schemas as strict clients want them (the Inspector's `--strict`, and LLM
 * providers whose function-calling accepts a subset of JSON Schema): a nullable value as
 * `anyOf: [{type: T, …}, {type: "null"}]` rather than a type array, open objects as
 * `additionalProperties: true` rather than `{}`, and an "anything" value (Blender's return
 * value, a farm item) spelled out as any of the six JSON types rather than the empty schema
 * `{}`, which says nothing. Each rewrite accepts exactly what the original did. Checked with
 * the Inspector's `--strict` (0 errors, 0 warnings for the 39 tools).
 */
type Schema = Record<string, unknown>;

/** Keywords about the value as a whole, kept beside `anyOf` rather than copied into a branch. */
const ANNOTATIONS = new Set(["description", "title", "default", "examples", "deprecated", "readOnly", "writeOnly", "$schema"]);

/** The empty schema `{}` said out loud. */
const ANY_JSON_VALUE: Schema = {
  description: "Any JSON value.",
  anyOf: ["object", "array", "string", "number", "boolean", "null"].map((type) => ({ type })),
};

const isSchema = (value: unknown): value is Schema => typeof value === "object" && value !== null && !Array.isArray(value);

/** Keywords whose value is one schema, a list of schemas, or a map of names to schemas. */
const ONE = ["items", "additionalProperties", "not", "contains", "propertyNames", "if", "then", "else", "unevaluatedProperties", "unevaluatedItems"];
const LIST = ["anyOf", "oneOf", "allOf", "prefixItems"];
const MAP = ["properties", "patternProperties", "$defs", "definitions", "dependentSchemas"];

function tidyNested(schema: Schema): Schema {
  const out: Schema = { ...schema };
  for (const key of ONE) {
    const value = out[key];
    if (key === "additionalProperties" && isSchema(value) && Object.keys(value).length === 0) out[key] = true;
    else if (isSchema(value)) out[key] = tidySchema(value);
  }
  for (const key of LIST) if (Array.isArray(out[key])) out[key] = (out[key] as unknown[]).map((item) => (isSchema(item) ? tidySchema(item) : item));
  for (const key of MAP) {
    if (isSchema(out[key])) out[key] = Object.fromEntries(Object.entries(out[key]).map(([name, value]) => [name, isSchema(value) ? tidySchema(value) : value]));
  }
  return out;
}

export function tidySchema(schema: Schema): Schema {
  if (Object.keys(schema).length === 0) return ANY_JSON_VALUE;
  const tidied = tidyNested(schema);
  const types = tidied.type;
  if (!Array.isArray(types)) return tidied;
  const annotations: Schema = {};
  const rest: Schema = {};
  for (const [key, value] of Object.entries(tidied)) {
    if (key === "type") continue;
    (ANNOTATIONS.has(key) ? annotations : rest)[key] = value;
  }
  return { ...annotations, anyOf: (types as string[]).map((type) => (type === "null" ? { type } : { type, ...rest })) };
}
