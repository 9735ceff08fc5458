// An operation must document at least one 4xx answer, and every 4xx/5xx answer it documents must
// be an RFC 9457 problem: `application/problem+json` and nothing else, with the Problem schema.
//
// Operations listed in `without_input` are exempt from the first part, but only while they
// really take no input (public, no parameters, no body): then no request can be the caller's
// fault, and a 4xx listed "for completeness" would be a false promise, so they may list none.
const PROBLEM_REF = "#/components/schemas/Problem";

const isPublic = (operation) =>
  Array.isArray(operation?.security) &&
  operation.security.length === 1 &&
  Object.keys(operation.security[0] ?? {}).length === 0;

export default (operation, options, context) => {
  const results = [];
  const responses = operation?.responses ?? {};
  const codes = Object.keys(responses);
  const clientErrors = codes.filter((code) => /^4(\d\d|XX)$/i.test(code));
  const exempt = (options?.without_input ?? []).includes(operation?.operationId);
  if (exempt) {
    const input = (operation.parameters ?? []).length > 0 || operation.requestBody !== undefined;
    if (input || !isPublic(operation)) {
      results.push({
        message: "is listed as taking no input, but it has parameters, a body or security",
        path: context.path,
      });
    }
    if (clientErrors.length > 0) {
      results.push({
        message: `takes no input, so it cannot answer ${clientErrors.join(", ")}; do not document it`,
        path: [...context.path, "responses"],
      });
    }
  } else if (clientErrors.length === 0) {
    results.push({ message: "documents no 4xx answer", path: [...context.path, "responses"] });
  }
  for (const code of codes.filter((c) => /^[45]/.test(c))) {
    const path = [...context.path, "responses", code];
    const content = responses[code]?.content ?? {};
    const types = Object.keys(content);
    if (types.length !== 1 || types[0] !== "application/problem+json") {
      results.push({
        message: `answer ${code} must be application/problem+json only, not [${types.join(", ")}]`,
        path,
      });
      continue;
    }
    const ref = content["application/problem+json"]?.schema?.$ref;
    if (ref !== PROBLEM_REF) {
      results.push({ message: `answer ${code} must use the Problem schema`, path: [...path, "content"] });
    }
  }
  return results;
};
